"""Helpers for Placement tests: a raw HTTP client speaking a chosen microversion."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests


class PlacementClient:
    def __init__(self, cloud: Any, token: str, version: str = "1.39") -> None:
        self.base = cloud.url(8778)
        self.token = token
        self.version = version

    def call(self, method: str, path: str, json: Any = None, version: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {"X-Auth-Token": self.token,
                   "OpenStack-API-Version": f"placement {version or self.version}",
                   **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, json=json, headers=headers,
                                timeout=30, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.call("PUT", path, json, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    # -- conveniences -------------------------------------------------------------
    def provider(self, name: str | None = None, parent: str | None = None,
                 inventory: dict[str, Any] | None = None,
                 traits: list[str] | None = None) -> str:
        body: dict[str, Any] = {"name": name or f"rp-{uuid.uuid4().hex[:10]}"}
        if parent:
            body["parent_provider_uuid"] = parent
        r = self.post("/resource_providers", body)
        assert r.status_code == 200, r.text
        rp = r.json()["uuid"]
        if inventory:
            inv = {rc: (v if isinstance(v, dict) else {"total": v})
                   for rc, v in inventory.items()}
            r = self.put(f"/resource_providers/{rp}/inventories",
                         {"resource_provider_generation": 0, "inventories": inv})
            assert r.status_code == 200, r.text
        if traits:
            gen = self.get(f"/resource_providers/{rp}").json()["generation"]
            for t in traits:
                if t.startswith("CUSTOM_"):
                    self.put(f"/traits/{t}")
            r = self.put(f"/resource_providers/{rp}/traits",
                         {"traits": traits, "resource_provider_generation": gen})
            assert r.status_code == 200, r.text
        return rp

    def allocate(self, consumer: str, allocations: dict[str, dict[str, int]],
                 generation: int | None = None, project: str = "proj",
                 user: str = "user") -> requests.Response:
        return self.put(f"/allocations/{consumer}", {
            "allocations": {rp: {"resources": res} for rp, res in allocations.items()},
            "project_id": project, "user_id": user, "consumer_generation": generation,
            "consumer_type": "INSTANCE"})


@pytest.fixture(scope="module")
def placement(cloud: Any) -> PlacementClient:
    return PlacementClient(cloud, cloud.token("pocketstack-admin"))
