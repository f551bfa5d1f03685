"""Raw HTTP helpers for the object-store tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests


class Swift:
    """requests against one account's endpoint, with a user's token."""

    def __init__(self, cloud: Any, user: str = "pocketstack") -> None:
        conn = cloud.conn(user)
        self.token = conn.auth_token
        self.project_id = conn.current_project_id
        self.account = f"AUTH_{self.project_id}"
        self.base = cloud.url(8080, f"/v1/{self.account}")
        self.cloud = cloud

    def __call__(self, method: str, path: str = "", token: Any = True, **kw: Any
                 ) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is True:
            headers["X-Auth-Token"] = self.token
        elif token:
            headers["X-Auth-Token"] = token
        return requests.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def container(self, **headers: str) -> str:
        name = f"c-{uuid.uuid4().hex[:8]}"
        r = self("PUT", f"/{name}", headers=headers)
        assert r.status_code == 201, r.text
        return name


@pytest.fixture(scope="module")
def swift(cloud: Any) -> Swift:
    return Swift(cloud)


@pytest.fixture(scope="module")
def alt(cloud: Any) -> Swift:
    return Swift(cloud, "pocketstack-alt")


@pytest.fixture
def swift_client() -> type[Swift]:
    """The helper class itself, for tests that start clouds of their own."""
    return Swift
