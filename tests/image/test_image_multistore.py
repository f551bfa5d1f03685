"""Multi-store (``enabled_backends``), copy-image into a second store, ``direct_url`` and
``locations`` with the file store's metadata."""

from __future__ import annotations

import json
import os
import time
import uuid

import requests


def _api(cloud, method, path, **kwargs):
    headers = {"X-Auth-Token": cloud.token("pocketstack-admin"), **kwargs.pop("headers", {})}
    return requests.request(method, cloud.url(9292, path), headers=headers, timeout=60,
                            **kwargs)


def _image(cloud, data: bytes, **headers) -> str:
    r = _api(cloud, "POST", "/v2/images", json={
        "name": f"ms-{uuid.uuid4().hex[:8]}", "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    r = _api(cloud, "PUT", f"/v2/images/{image_id}/file", data=data,
             headers={"Content-Type": "application/octet-stream", **headers})
    assert r.status_code == 204, r.text
    return image_id


def test_default_cloud_hides_locations(cloud):
    image_id = _image(cloud, b"x" * 100)
    body = _api(cloud, "GET", f"/v2/images/{image_id}").json()
    assert "direct_url" not in body and "locations" not in body
    assert body["stores"] == "file"
    stores = _api(cloud, "GET", "/v2/info/stores").json()["stores"]
    assert stores == [{"id": "file", "description": "Filesystem store", "default": True}]


def test_two_stores_copy_image_and_locations(fresh_cloud):
    data_dir = fresh_cloud.data_dir
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    meta = os.path.join(data_dir, "store-meta.json")
    with open(meta, "w") as f:
        json.dump({"id": "shared-fs-1", "mountpoint": data_dir}, f)
    with open(os.path.join(data_dir, "pocketstack.conf"), "w") as f:
        f.write("[image]\nenabled_backends = fast:file, cheap:file\ndefault_backend = fast\n"
                f"show_image_direct_url = true\nshow_multiple_locations = true\n"
                f"filesystem_store_metadata_file = {meta}\n"
                "[cheap]\nstore_description = Slow and cheap\n")
    fresh_cloud.start()

    stores = _api(fresh_cloud, "GET", "/v2/info/stores").json()["stores"]
    assert [(s["id"], s.get("default", False)) for s in stores] == [("fast", True),
                                                                     ("cheap", False)]
    assert stores[1]["description"] == "Slow and cheap"

    data = os.urandom(200_000)
    image_id = _image(fresh_cloud, data)
    body = _api(fresh_cloud, "GET", f"/v2/images/{image_id}").json()
    fast_file = os.path.join(data_dir, "images", image_id)
    assert body["stores"] == "fast"
    assert body["direct_url"] == "file://" + fast_file
    assert body["locations"] == [{"url": "file://" + fast_file, "metadata": {
        "id": "shared-fs-1", "mountpoint": data_dir, "store": "fast"}}]

    # copy-image into the second store: a real copy (its own inode, same bytes)
    r = _api(fresh_cloud, "POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "copy-image"}, "stores": ["cheap"]})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = _api(fresh_cloud, "GET", f"/v2/images/{image_id}").json()
        if body["stores"] == "fast,cheap" and not body["os_glance_importing_to_stores"]:
            break
        time.sleep(0.1)
    assert body["stores"] == "fast,cheap", body
    cheap_file = os.path.join(data_dir, "images-cheap", image_id)
    with open(cheap_file, "rb") as f:
        assert f.read() == data
    assert os.stat(cheap_file).st_ino != os.stat(fast_file).st_ino
    assert [loc["metadata"]["store"] for loc in body["locations"]] == ["fast", "cheap"]
    tasks = _api(fresh_cloud, "GET", f"/v2/images/{image_id}/tasks").json()["tasks"]
    assert tasks[0]["status"] == "success", tasks

    # already everywhere asked: 409; an unknown store: 400
    r = _api(fresh_cloud, "POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "copy-image"}, "stores": ["cheap"]})
    assert r.status_code == 409, r.text
    r = _api(fresh_cloud, "POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "copy-image"}, "stores": ["nowhere"]})
    assert r.status_code == 400, r.text

    # the data still downloads; delete removes it from both stores
    r = _api(fresh_cloud, "GET", f"/v2/images/{image_id}/file")
    assert r.status_code == 200 and r.content == data
    assert _api(fresh_cloud, "DELETE", f"/v2/images/{image_id}").status_code == 204
    assert not os.path.exists(fast_file) and not os.path.exists(cheap_file)

    # an upload straight into a named store, and one into a store that does not exist
    other = _image(fresh_cloud, b"cheap bytes", **{"X-Image-Meta-Store": "cheap"})
    assert _api(fresh_cloud, "GET", f"/v2/images/{other}").json()["stores"] == "cheap"
    r = _api(fresh_cloud, "POST", "/v2/images", json={
        "name": "nowhere", "disk_format": "raw", "container_format": "bare"})
    r = _api(fresh_cloud, "PUT", f"/v2/images/{r.json()['id']}/file", data=b"x",
             headers={"Content-Type": "application/octet-stream",
                      "X-Image-Meta-Store": "nowhere"})
    assert r.status_code == 400, r.text

    # locations through JSON-patch (show_multiple_locations is on here): add, metadata
    # replace, refusals, remove (the store's copy goes with its location)
    patch = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    outside = os.path.join(data_dir, "outside.img")
    with open(outside, "wb") as f:
        f.write(b"outside bytes")
    queued = _api(fresh_cloud, "POST", "/v2/images", json={
        "disk_format": "raw", "container_format": "bare"}).json()
    assert queued["locations"] == []
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{queued['id']}", headers=patch, json=[
        {"op": "add", "path": "/locations/-",
         "value": {"url": "file://" + outside, "metadata": {"foo": "bar"}}}])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "active" and body["size"] == 13 and body["os_hash_value"] is None
    assert body["locations"] == [{"url": "file://" + outside, "metadata": {"foo": "bar"}}]
    r = _api(fresh_cloud, "GET", f"/v2/images/{queued['id']}/file")
    assert r.status_code == 200 and r.content == b"outside bytes"
    for bad in ({"url": "ftp://x/y", "metadata": {}}, {"url": "file:///nope/x", "metadata": {}},
                {"url": "file://" + outside, "metadata": {}}, {"metadata": {}}):
        r = _api(fresh_cloud, "PATCH", f"/v2/images/{queued['id']}", headers=patch,
                 json=[{"op": "add", "path": "/locations/-", "value": bad}])
        assert r.status_code == 400, (bad, r.text)
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{queued['id']}", headers=patch,
             json=[{"op": "remove", "path": "/locations/0"}])
    assert r.status_code == 403 and "last location" in r.text  # of an active image
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{queued['id']}", headers=patch,
             json=[{"op": "remove", "path": "/locations/5"}])
    assert r.status_code == 400

    held = _image(fresh_cloud, b"two places")
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{held}", headers=patch, json=[
        {"op": "add", "path": "/locations/-",
         "value": {"url": "file://" + outside, "metadata": {}}}])
    assert r.status_code == 200 and len(r.json()["locations"]) == 2, r.text
    locs = r.json()["locations"]
    locs[0]["metadata"]["note"] = "kept"
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{held}", headers=patch,
             json=[{"op": "replace", "path": "/locations", "value": locs}])
    assert r.status_code == 200 and r.json()["locations"][0]["metadata"]["note"] == "kept"
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{held}", headers=patch,
             json=[{"op": "replace", "path": "/locations", "value": locs[:1]}])
    assert r.status_code == 400
    store_file = locs[0]["url"][len("file://"):]
    r = _api(fresh_cloud, "PATCH", f"/v2/images/{held}", headers=patch,
             json=[{"op": "remove", "path": "/locations/0"}])
    assert r.status_code == 200 and [loc["url"] for loc in r.json()["locations"]] == [
        "file://" + outside]
    assert not os.path.exists(store_file) and os.path.exists(outside)
