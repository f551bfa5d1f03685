"""Raw HTTP: Glance's status codes, error bodies, listing, patching and data transfer."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import time
import uuid

import pytest
import requests

PATCH = "application/openstack-images-v2.1-json-patch"


@pytest.fixture(scope="module")
def api(cloud):
    class Api:
        def __init__(self, name: str) -> None:
            self.token = cloud.token(name)

        def __call__(self, method: str, path: str, **kw) -> requests.Response:
            headers = {"X-Auth-Token": self.token, "Accept": "application/json",
                       **kw.pop("headers", {})}
            return requests.request(method, cloud.url(9292, path), headers=headers,
                                    timeout=120, **kw)

        def create(self, **body) -> dict:
            body.setdefault("name", f"api-{uuid.uuid4().hex[:8]}")
            body.setdefault("disk_format", "raw")
            body.setdefault("container_format", "bare")
            r = self("POST", "/v2/images", json=body)
            assert r.status_code == 201, r.text
            return r.json()

        def upload(self, image_id: str, data: bytes) -> requests.Response:
            return self("PUT", f"/v2/images/{image_id}/file", data=data,
                        headers={"Content-Type": "application/octet-stream"})

        def patch(self, image_id: str, ops: list, content_type: str = PATCH
                  ) -> requests.Response:
            return self("PATCH", f"/v2/images/{image_id}", json=ops,
                        headers={"Content-Type": content_type})

    return {"demo": Api("pocketstack"), "admin": Api("pocketstack-admin"),
            "alt": Api("pocketstack-alt")}


def test_version_discovery(cloud):
    r = requests.get(cloud.url(9292, "/"))
    assert r.status_code == 300
    versions = r.json()["versions"]
    assert {"id": "v2.17", "status": "CURRENT",
            "links": [{"rel": "self", "href": cloud.url(9292, "/v2/")}]} in versions
    assert requests.get(cloud.url(9292, "/versions")).status_code == 200
    assert requests.get(cloud.url(9292, "/v2/images")).status_code == 401


def test_schemas(api):
    image = api["demo"]("GET", "/v2/schemas/image").json()
    assert image["name"] == "image" and image["additionalProperties"] == {"type": "string"}
    assert image["properties"]["visibility"]["enum"] == ["community", "public", "private",
                                                         "shared"]
    assert None in image["properties"]["disk_format"]["enum"]
    images = api["demo"]("GET", "/v2/schemas/images").json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    assert api["demo"]("GET", "/v2/schemas/members").json()["name"] == "members"


def test_error_format(api):
    r = api["demo"]("GET", f"/v2/images/{uuid.uuid4()}")
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == "404 Not Found" and body["title"] == "Not Found"
    assert "No image found" in body["message"]
    r = api["demo"]("GET", "/v2/images/x", headers={"Accept": "text/plain"})
    assert r.status_code == 404 and r.text.startswith("404 Not Found")
    assert r.headers["Content-Type"].startswith("text/plain")
    r = api["demo"]("GET", "/v2/images/x", headers={"Accept": "*/*"})
    assert r.status_code == 404 and "<h1>404 Not Found</h1>" in r.text


def test_create_validation(api):
    demo = api["demo"]
    assert demo("POST", "/v2/images", json={"disk_format": "floppy"}).status_code == 400
    assert demo("POST", "/v2/images", json={"status": "active"}).status_code == 403
    assert demo("POST", "/v2/images", json={"self": "x"}).status_code == 403
    assert demo("POST", "/v2/images", json={"min_ram": "x"}).status_code == 400
    assert demo("POST", "/v2/images", json={"custom": 5}).status_code == 400
    assert demo("POST", "/v2/images", data=b"{", headers={
        "Content-Type": "application/json"}).status_code == 400
    r = demo("POST", "/v2/images", json={"visibility": "public"})
    assert r.status_code == 403
    fixed = str(uuid.uuid4())
    assert demo.create(id=fixed)["id"] == fixed
    assert demo("POST", "/v2/images", json={"id": fixed}).status_code == 409


def test_create_headers_and_defaults(api):
    r = api["demo"]("POST", "/v2/images", json={"name": "h"})
    assert r.status_code == 201
    assert "glance-direct" in r.headers["OpenStack-image-import-methods"]
    body = r.json()
    assert body["status"] == "queued" and body["visibility"] == "shared"
    assert body["size"] is None and body["checksum"] is None and body["os_hash_algo"] is None
    assert body["self"] == f"/v2/images/{body['id']}" and body["schema"] == "/v2/schemas/image"


def test_patch(api):
    demo = api["demo"]
    image = demo.create(foo="bar")
    r = demo.patch(image["id"], [{"op": "replace", "path": "/name", "value": "renamed"},
                                 {"op": "add", "path": "/color", "value": "blue"},
                                 {"op": "remove", "path": "/foo"},
                                 {"op": "replace", "path": "/tags", "value": ["a", "b"]}])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "renamed" and body["color"] == "blue" and "foo" not in body
    assert body["tags"] == ["a", "b"]
    assert demo.patch(image["id"], [{"op": "replace", "path": "/status",
                                     "value": "active"}]).status_code == 403
    assert demo.patch(image["id"], [{"op": "remove", "path": "/name"}]).status_code == 403
    assert demo.patch(image["id"], [{"op": "remove", "path": "/nope"}]).status_code == 409
    assert demo.patch(image["id"], [{"op": "replace", "path": "/nope",
                                     "value": "x"}]).status_code == 409
    assert demo.patch(image["id"], [{"op": "move", "path": "/name"}]).status_code == 400
    assert demo.patch(image["id"], [{"op": "replace", "path": "/protected",
                                     "value": "yes"}]).status_code == 400
    assert demo.patch(image["id"], [], content_type="application/json").status_code == 415
    old = demo.patch(image["id"], [{"replace": "/name", "value": "v20"}],
                     content_type="application/openstack-images-v2.0-json-patch")
    assert old.status_code == 200 and old.json()["name"] == "v20"
    # another project cannot see a shared image it is not a member of
    assert api["alt"].patch(image["id"], [{"op": "replace", "path": "/name",
                                           "value": "x"}]).status_code == 404
    assert api["admin"].patch(image["id"], [{"op": "replace", "path": "/visibility",
                                             "value": "public"}]).status_code == 200
    assert api["alt"]("GET", f"/v2/images/{image['id']}").status_code == 200
    assert api["alt"].patch(image["id"], [{"op": "replace", "path": "/name",
                                           "value": "x"}]).status_code == 403


def test_trailing_slash_is_not_found(api):
    # Tempest's "null id" tests: GET/DELETE /v2/images/ (an empty id) are 404, not the list
    demo = api["demo"]
    assert demo("GET", "/v2/images/").status_code == 404
    assert demo("DELETE", "/v2/images/").status_code == 404
    assert demo("GET", "/v2/images").status_code == 200


def test_list_filters_sort_pagination(api):
    demo = api["demo"]
    tag = uuid.uuid4().hex[:8]
    made = []
    for i, (disk, size) in enumerate([("raw", 10), ("qcow2", 20), ("raw", 30)]):
        image = demo.create(name=f"{tag}-{i}", disk_format=disk, tags=[tag], sha=tag)
        if disk == "raw":
            assert demo.upload(image["id"], b"x" * size).status_code == 204
        made.append(image["id"])

    def names(**params) -> list:
        r = demo("GET", "/v2/images", params={"tag": tag, **params})
        assert r.status_code == 200, r.text
        return [i["name"] for i in r.json()["images"]]

    assert names(sort="name:asc") == [f"{tag}-0", f"{tag}-1", f"{tag}-2"]
    assert names(sort_key="name", sort_dir="desc") == [f"{tag}-2", f"{tag}-1", f"{tag}-0"]
    assert names(disk_format="qcow2") == [f"{tag}-1"]
    assert names(status="active", sort="name:asc") == [f"{tag}-0", f"{tag}-2"]
    assert names(size_min=15) == [f"{tag}-2"]
    assert names(size_max=15) == [f"{tag}-0"]
    assert names(size=30) == [f"{tag}-2"]  # exact size (Tempest's list by size)
    assert names(size=31) == []
    assert names(name=f"{tag}-1") == [f"{tag}-1"]
    assert names(name=f"in:{tag}-0,{tag}-2", sort="name:asc") == [f"{tag}-0", f"{tag}-2"]
    assert names(created_at="gte:2000-01-01T00:00:00Z").__len__() == 3
    assert names(created_at="lt:2000-01-01T00:00:00Z") == []
    assert names(sha=tag).__len__() == 3
    assert names(checksum=hashlib.md5(b"x" * 30).hexdigest()) == [f"{tag}-2"]
    assert names(os_hash_value=hashlib.sha512(b"x" * 10).hexdigest()) == [f"{tag}-0"]
    assert names(visibility="shared").__len__() == 3
    assert names(visibility="private") == []
    # pagination with next links
    r = demo("GET", "/v2/images", params={"tag": tag, "limit": 2, "sort": "name:asc"})
    body = r.json()
    assert [i["name"] for i in body["images"]] == [f"{tag}-0", f"{tag}-1"]
    assert body["first"].startswith("/v2/images?") and "marker=" in body["next"]
    page2 = demo("GET", body["next"]).json()
    assert [i["name"] for i in page2["images"]] == [f"{tag}-2"] and "next" not in page2
    for bad in ({"sort_key": "nope"}, {"sort_dir": "up"}, {"limit": "x"}, {"limit": -1},
                {"visibility": "everyone"}, {"size_min": "big"}, {"marker": str(uuid.uuid4())},
                {"created_at": "gte:yesterday"}, {"member_status": "maybe"},
                {"sort": "name:asc", "sort_key": "name"}, {"os_hidden": "maybe"}):
        assert demo("GET", "/v2/images", params=bad).status_code == 400, bad
    # os_hidden images are left out unless asked for
    demo.patch(made[0], [{"op": "replace", "path": "/os_hidden", "value": True}])
    assert f"{tag}-0" not in names()
    assert names(os_hidden="true") == [f"{tag}-0"]


def test_data_range_md5_and_conflicts(api):
    demo = api["demo"]
    image = demo.create()
    assert demo("GET", f"/v2/images/{image['id']}/file").status_code == 204
    data = os.urandom(4 * 1024 * 1024 + 123)
    assert demo.upload(image["id"], data).status_code == 204
    r = demo("GET", f"/v2/images/{image['id']}/file")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    shown = demo("GET", f"/v2/images/{image['id']}").json()
    assert shown["size"] == len(data) and shown["os_hash_algo"] == "sha512"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    r = demo("GET", f"/v2/images/{image['id']}/file", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    r = demo("GET", f"/v2/images/{image['id']}/file", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = demo("GET", f"/v2/images/{image['id']}/file",
             headers={"Range": f"bytes={len(data) - 5}-"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = demo("GET", f"/v2/images/{image['id']}/file",
             headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    assert demo.upload(image["id"], b"again").status_code == 409
    bad = demo("PUT", f"/v2/images/{image['id']}/file", data=b"x",
               headers={"Content-Type": "text/plain"})
    assert bad.status_code == 415


def test_stores_field_and_copy_image(api):
    admin = api["admin"]
    image = admin.create()
    assert "stores" not in admin("GET", f"/v2/images/{image['id']}").json()
    assert admin.upload(image["id"], b"data").status_code == 204
    assert admin("GET", f"/v2/images/{image['id']}").json()["stores"] == "file"
    copy = {"method": {"name": "copy-image"}}
    # the one store holds the image already: explicitly asked for, that is a conflict ...
    r = admin("POST", f"/v2/images/{image['id']}/import", json={**copy, "stores": ["file"]})
    assert r.status_code == 409
    # ... with all_stores, there is nothing left to copy and the copy is finished
    r = admin("POST", f"/v2/images/{image['id']}/import",
              json={**copy, "all_stores": True, "all_stores_must_succeed": False})
    assert r.status_code == 202, r.text
    shown = admin("GET", f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert shown["os_glance_importing_to_stores"] == "" and shown["os_glance_failed_import"] == ""


def test_qcow2_virtual_size(api):
    demo = api["demo"]
    image = demo.create(disk_format="qcow2")
    header = b"QFI\xfb" + struct.pack(">I", 3) + b"\0" * 16 + struct.pack(">Q", 10 * 2**30)
    assert demo.upload(image["id"], header + b"\0" * 1000).status_code == 204
    shown = demo("GET", f"/v2/images/{image['id']}").json()
    assert shown["virtual_size"] == 10 * 2**30 and shown["size"] == len(header) + 1000


def test_interrupted_upload_goes_back_to_queued(cloud, api):
    demo = api["demo"]
    image = demo.create()
    with socket.create_connection((cloud.addr, 9292)) as s:
        s.sendall((f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: x\r\n"
                   f"X-Auth-Token: {demo.token}\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: 10000000\r\n\r\n").encode() + b"x" * 100000)
        time.sleep(0.5)
    deadline = time.monotonic() + 30
    while demo("GET", f"/v2/images/{image['id']}").json()["status"] != "queued":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    images_dir = os.path.join(cloud.data_dir, "images")
    assert not [n for n in os.listdir(images_dir) if n.startswith(".tmp-")]
    assert demo.upload(image["id"], b"complete").status_code == 204


def test_info_and_web_download(api):
    demo = api["demo"]
    info = demo("GET", "/v2/info/import").json()["import-methods"]
    assert set(info["value"]) == {"glance-direct", "web-download", "copy-image"}
    assert demo("GET", "/v2/info/stores").json()["stores"][0]["id"] == "file"
    assert demo("GET", "/v2/info/stores/detail").status_code == 403
    assert api["admin"]("GET", "/v2/info/stores/detail").status_code == 200
    usage = demo("GET", "/v2/info/usage").json()["usage"]
    assert usage["image_count_total"]["usage"] >= 1
    image = demo.create()
    r = demo("POST", f"/v2/images/{image['id']}/import",
             json={"method": {"name": "web-download", "uri": "http://127.0.0.1:1/x.img"}})
    assert r.status_code == 202
    deadline = time.monotonic() + 30
    while True:
        shown = demo("GET", f"/v2/images/{image['id']}").json()
        if shown["status"] == "queued" and "os_glance_failed_import" in shown:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert demo("POST", f"/v2/images/{image['id']}/import",
                json={"method": {"name": "glance-direct"}}).status_code == 409
    assert demo("POST", f"/v2/images/{image['id']}/import",
                json={"method": {"name": "nope"}}).status_code == 400


def test_members_rules(api):
    demo, alt = api["demo"], api["alt"]
    private = demo.create(visibility="private")
    r = demo("POST", f"/v2/images/{private['id']}/members", json={"member": "p1"})
    assert r.status_code == 403
    image = demo.create()
    r = demo("POST", f"/v2/images/{image['id']}/members", json={"member": "p1"})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert demo("POST", f"/v2/images/{image['id']}/members",
                json={"member": "p1"}).status_code == 409
    assert demo("PUT", f"/v2/images/{image['id']}/members/p1",
                json={"status": "accepted"}).status_code == 403
    assert demo("PUT", f"/v2/images/{image['id']}/members/p1",
                json={"status": "bogus"}).status_code == 400
    members = demo("GET", f"/v2/images/{image['id']}/members").json()
    assert members["schema"] == "/v2/schemas/members" and len(members["members"]) == 1
    assert alt("GET", f"/v2/images/{image['id']}/members").status_code == 404
    assert demo("DELETE", f"/v2/images/{image['id']}/members/p1").status_code == 204
    assert demo("DELETE", f"/v2/images/{image['id']}/members/p1").status_code == 404


def test_tags_and_delete_rules(api):
    demo = api["demo"]
    image = demo.create()
    assert demo("PUT", f"/v2/images/{image['id']}/tags/blue").status_code == 204
    assert demo("GET", f"/v2/images/{image['id']}").json()["tags"] == ["blue"]
    assert demo("DELETE", f"/v2/images/{image['id']}/tags/blue").status_code == 204
    assert demo("DELETE", f"/v2/images/{image['id']}/tags/blue").status_code == 404
    assert demo("POST", f"/v2/images/{image['id']}/actions/deactivate").status_code == 409
    assert api["alt"]("DELETE", f"/v2/images/{image['id']}").status_code == 404
    assert demo("DELETE", f"/v2/images/{image['id']}").status_code == 204
    assert demo("GET", f"/v2/images/{image['id']}").status_code == 404


def test_community_listing(api):
    demo, alt = api["demo"], api["alt"]
    image = demo.create(visibility="community")
    listed = [i["id"] for i in alt("GET", "/v2/images").json()["images"]]
    assert image["id"] not in listed
    listed = [i["id"] for i in alt("GET", "/v2/images",
                                   params={"visibility": "community"}).json()["images"]]
    assert image["id"] in listed
    assert alt("GET", f"/v2/images/{image['id']}").status_code == 200
    # owners see their community images in the default list
    assert image["id"] in [i["id"] for i in demo("GET", "/v2/images",
                                                 params={"limit": 1000}).json()["images"]]
