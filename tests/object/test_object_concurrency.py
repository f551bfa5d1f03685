"""Concurrent writes (which the store applies in shared transactions) keep counts exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests


def _put_all(swift, paths: list[str], body: bytes) -> list[int]:
    def put(path: str) -> int:
        with requests.Session() as s:
            return s.put(swift.base + path, data=body,
                         headers={"X-Auth-Token": swift.token}, timeout=60).status_code
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(put, paths))


def test_concurrent_puts_respect_the_count_quota(swift):
    name = swift.container(**{"X-Container-Meta-Quota-Count": "10"})
    codes = _put_all(swift, [f"/{name}/o{i}" for i in range(40)], b"abc")
    assert sorted(set(codes)) == [201, 413]
    assert codes.count(201) == 10
    head = swift("HEAD", f"/{name}")
    assert head.headers["X-Container-Object-Count"] == "10"
    assert head.headers["X-Container-Bytes-Used"] == "30"


def test_concurrent_overwrites_of_one_name(swift):
    name = swift.container()
    codes = _put_all(swift, [f"/{name}/same"] * 24, b"12345")
    assert codes == [201] * 24
    head = swift("HEAD", f"/{name}")
    assert head.headers["X-Container-Object-Count"] == "1"
    assert head.headers["X-Container-Bytes-Used"] == "5"
    assert swift("GET", f"/{name}/same").content == b"12345"


def test_concurrent_puts_into_a_missing_container(swift):
    codes = _put_all(swift, [f"/no-such-container-here/o{i}" for i in range(16)], b"x")
    assert codes == [404] * 16
