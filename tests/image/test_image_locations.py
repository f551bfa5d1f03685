"""Glance 2.17's location API (POST/GET /v2/images/{id}/locations) and the JSON-patch
location operations refused while show_multiple_locations is off (the default)."""

from __future__ import annotations

import hashlib
import time

import requests

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def _api(cloud, method, path, user="pocketstack", **kwargs):
    headers = {"X-Auth-Token": cloud.token(user), **kwargs.pop("headers", {})}
    return requests.request(method, cloud.url(9292, path), headers=headers, timeout=60,
                            **kwargs)


def _queued(cloud) -> str:
    r = _api(cloud, "POST", "/v2/images", json={"disk_format": "raw",
                                                "container_format": "bare"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _task(cloud, image_id: str) -> dict:
    for _ in range(200):
        tasks = _api(cloud, "GET", f"/v2/images/{image_id}/tasks").json()["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return tasks[0]
        time.sleep(0.05)
    raise AssertionError(f"the location task of {image_id} did not end")


def test_versions_advertise_2_17(cloud):
    ids = [v["id"] for v in requests.get(cloud.url(9292, "/versions"), timeout=30)
           .json()["versions"]]
    assert "v2.17" in ids


def test_add_location(cloud, tmp_path):
    data = b"located bytes" * 100
    path = tmp_path / "located.img"
    path.write_bytes(data)
    url = f"file://{path}"
    image_id = _queued(cloud)
    sha256 = hashlib.sha256(data).hexdigest()
    for bad in ({"os_hash_algo": "sha512", "os_hash_value": "ab" * 10},
                {"os_hash_value": sha256},
                {"os_hash_algo": "sha123", "os_hash_value": sha256},
                {"os_hash_algo": "sha512", "os_hash_value": sha256}):
        r = _api(cloud, "POST", f"/v2/images/{image_id}/locations",
                 json={"url": url, "validation_data": bad})
        assert r.status_code == 400, (bad, r.text)
    assert _api(cloud, "POST", f"/v2/images/{image_id}/locations",
                json={"url": "ftp://x/y"}).status_code == 400
    r = _api(cloud, "POST", f"/v2/images/{image_id}/locations", json={
        "url": url, "validation_data": {"os_hash_algo": "sha256", "os_hash_value": sha256}})
    assert r.status_code == 202, r.text
    assert _task(cloud, image_id)["status"] == "success"
    image = _api(cloud, "GET", f"/v2/images/{image_id}").json()
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["os_hash_algo"] == "sha256" and image["os_hash_value"] == sha256
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert _api(cloud, "GET", f"/v2/images/{image_id}/file").content == data
    assert _api(cloud, "POST", f"/v2/images/{image_id}/locations",
                json={"url": url}).status_code == 409  # no longer queued
    # GET /locations: the services' (and the admin's) call
    assert _api(cloud, "GET", f"/v2/images/{image_id}/locations").status_code == 403
    r = _api(cloud, "GET", f"/v2/images/{image_id}/locations", user="pocketstack-admin")
    assert r.status_code == 200 and r.json() == [{"url": url, "metadata": {}}]

    # without validation_data: hashed with hashing_algorithm (sha512); a wrong hash fails
    plain = _queued(cloud)
    assert _api(cloud, "POST", f"/v2/images/{plain}/locations",
                json={"url": url}).status_code == 202
    assert _task(cloud, plain)["status"] == "success"
    image = _api(cloud, "GET", f"/v2/images/{plain}").json()
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    wrong = _queued(cloud)
    assert _api(cloud, "POST", f"/v2/images/{wrong}/locations", json={
        "url": url, "validation_data": {"os_hash_algo": "sha512",
                                        "os_hash_value": "beefdead" * 16}}).status_code == 202
    assert _task(cloud, wrong)["status"] == "failure"
    image = _api(cloud, "GET", f"/v2/images/{wrong}").json()
    assert image["status"] == "queued" and image["checksum"] is None


def test_patch_locations_refused_when_hidden(cloud, tmp_path):
    image_id = _queued(cloud)
    path = tmp_path / "x.img"
    path.write_bytes(b"x")
    r = _api(cloud, "PATCH", f"/v2/images/{image_id}", headers=PATCH, json=[
        {"op": "add", "path": "/locations/-", "value": {"url": f"file://{path}",
                                                       "metadata": {}}}])
    assert r.status_code == 403 and "invisible" in r.text
    r = _api(cloud, "PATCH", f"/v2/images/{image_id}", user="pocketstack-admin",
             headers=PATCH, json=[{"op": "remove", "path": "/locations/0"}])
    assert r.status_code == 403
