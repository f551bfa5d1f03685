"""Raw HTTP: status codes, headers and error bodies of accounts, containers and objects."""

from __future__ import annotations

import hashlib
import re
import socket
import time

import requests


def test_info_and_healthcheck(cloud):
    info = requests.get(cloud.url(8080, "/info"), timeout=10).json()
    assert info["swift"]["container_listing_limit"] == 10000
    assert {"slo", "tempurl", "bulk_delete", "container_quotas"} <= set(info)
    assert requests.get(cloud.url(8080, "/healthcheck"), timeout=10).text == "OK"
    xml = requests.get(cloud.url(8080, "/crossdomain.xml"), timeout=10)
    assert xml.status_code == 200 and "<cross-domain-policy>" in xml.text


def test_every_response_has_trans_id(swift):
    for r in (swift("HEAD"), swift("GET", "/missing-container"), swift("GET", token=None)):
        assert re.match(r"^tx[0-9a-f]{21}-[0-9a-f]{10}$", r.headers["X-Trans-Id"])
        assert r.headers["X-Openstack-Request-Id"] == r.headers["X-Trans-Id"]


def test_auth_errors(swift, alt):
    r = swift("GET", token=None)
    assert r.status_code == 401 and "<h1>Unauthorized</h1>" in r.text
    r = swift("GET", token="not-a-token")
    assert r.status_code == 401
    r = requests.get(swift.base, headers={"X-Auth-Token": alt.token}, timeout=10)
    assert r.status_code == 403 and "<h1>Forbidden</h1>" in r.text


def test_bodiless_replies_have_content_type(swift):
    """Swift sends a Content-Type even on 204s (Tempest checks it on every reply)."""
    name = swift.container()
    replies = [swift("HEAD"), swift("HEAD", f"/{name}"),
               swift("POST", f"/{name}", headers={"X-Container-Meta-A": "b"}),
               swift("POST", headers={"X-Account-Meta-A": "b"})]
    assert swift("PUT", f"/{name}/o", data=b"x").status_code == 201
    replies += [swift("DELETE", f"/{name}/o"), swift("DELETE", f"/{name}")]
    for r in replies:
        assert r.status_code in (204,), r.status_code
        assert r.headers.get("Content-Type", "").startswith(("text/plain", "text/html")), \
            (r.request.method, r.request.url)


def test_reseller_admin_role_is_seeded(cloud):
    roles = cloud.cli("role", "list", "-f", "json", cloud="pocketstack-admin")
    assert "ResellerAdmin" in {r["Name"] for r in roles}


def test_not_found_body(swift):
    r = swift("GET", "/nope-nope/obj")
    assert r.status_code == 404
    assert r.text == "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"


def test_container_status_codes(swift):
    name = swift.container()
    assert swift("PUT", f"/{name}").status_code == 202
    head = swift("HEAD", f"/{name}")
    assert head.status_code == 204 and head.headers["X-Container-Object-Count"] == "0"
    assert swift("PUT", f"/{name}/o", data=b"x").status_code == 201
    assert swift("DELETE", f"/{name}").status_code == 409
    assert swift("DELETE", f"/{name}/o").status_code == 204
    assert swift("DELETE", f"/{name}/o").status_code == 404
    assert swift("DELETE", f"/{name}").status_code == 204
    assert swift("DELETE", f"/{name}").status_code == 404
    assert swift("POST", f"/{name}", headers={"X-Container-Meta-A": "b"}).status_code == 404


def test_account_head_and_metadata(swift):
    r = swift("POST", headers={"X-Account-Meta-Color": "red"})
    assert r.status_code == 204
    head = swift("HEAD")
    assert head.status_code == 204 and head.headers["X-Account-Meta-Color"] == "red"
    assert int(head.headers["X-Account-Container-Count"]) >= 0
    swift("POST", headers={"X-Remove-Account-Meta-Color": "x"})
    assert "X-Account-Meta-Color" not in swift("HEAD").headers
    r = swift("POST", headers={"X-Account-Meta-" + "k" * 129: "v"})
    assert r.status_code == 400


def test_object_put_get_head_post(swift):
    c = swift.container()
    data = b"0123456789" * 10
    r = swift("PUT", f"/{c}/dir/file.json", data=data,
              headers={"X-Object-Meta-Color": "green", "Content-Disposition": "inline"})
    assert r.status_code == 201 and r.headers["Etag"] == hashlib.md5(data).hexdigest()
    r = swift("GET", f"/{c}/dir/file.json")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Object-Meta-Color"] == "green"
    assert r.headers["Content-Disposition"] == "inline"
    assert r.headers["X-Timestamp"] and r.headers["Last-Modified"]
    head = swift("HEAD", f"/{c}/dir/file.json")
    assert head.status_code == 200 and head.headers["Content-Length"] == "100"
    r = swift("POST", f"/{c}/dir/file.json", headers={"X-Object-Meta-Size": "big"})
    assert r.status_code == 202
    head = swift("HEAD", f"/{c}/dir/file.json")
    assert head.headers["X-Object-Meta-Size"] == "big"
    assert "X-Object-Meta-Color" not in head.headers  # POST replaces metadata


def test_etag_mismatch_is_422_and_leaves_nothing(swift):
    c = swift.container()
    r = swift("PUT", f"/{c}/o", data=b"abc", headers={"Etag": "0" * 32})
    assert r.status_code == 422
    assert swift("GET", f"/{c}/o").status_code == 404
    assert swift("HEAD", f"/{c}").headers["X-Container-Object-Count"] == "0"


def test_chunked_upload_and_length_required(swift):
    c = swift.container()

    def gen():
        yield b"abc"
        yield b"def"

    r = swift("PUT", f"/{c}/chunked", data=gen())
    assert r.status_code == 201
    assert swift("GET", f"/{c}/chunked").content == b"abcdef"
    # neither Content-Length nor chunked: 411 (raw socket: clients always add one)
    host, port = swift.base.split("//")[1].split("/")[0].split(":")
    path = swift.base.split(port, 1)[1] + f"/{c}/nolen"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nX-Auth-Token: {swift.token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        answer = s.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 411")


def test_ranges(swift):
    c = swift.container()
    swift("PUT", f"/{c}/r", data=b"0123456789")
    r = swift("GET", f"/{c}/r", headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234"
    assert r.headers["Content-Range"] == "bytes 2-4/10"
    r = swift("GET", f"/{c}/r", headers={"Range": "bytes=-3"})
    assert r.content == b"789"
    r = swift("GET", f"/{c}/r", headers={"Range": "bytes=20-30"})
    assert r.status_code == 416
    r = swift("GET", f"/{c}/r", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 206
    assert r.headers["Content-Type"].startswith("multipart/byteranges")
    assert b"01" in r.content and b"56" in r.content


def test_conditional_requests(swift):
    c = swift.container()
    r = swift("PUT", f"/{c}/cond", data=b"hello")
    etag = r.headers["Etag"]
    assert swift("GET", f"/{c}/cond", headers={"If-None-Match": etag}).status_code == 304
    assert swift("GET", f"/{c}/cond", headers={"If-Match": etag}).status_code == 200
    assert swift("GET", f"/{c}/cond", headers={"If-Match": "nope"}).status_code == 412
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    past = "Fri, 01 Jan 1999 00:00:00 GMT"
    assert swift("GET", f"/{c}/cond",
                 headers={"If-Modified-Since": future}).status_code == 304
    assert swift("GET", f"/{c}/cond",
                 headers={"If-Unmodified-Since": past}).status_code == 412
    r = swift("PUT", f"/{c}/cond", data=b"again", headers={"If-None-Match": "*"})
    assert r.status_code == 412


def test_expiring_objects(swift):
    c = swift.container()
    r = swift("PUT", f"/{c}/gone", data=b"x", headers={"X-Delete-At": str(int(time.time()) + 1)})
    assert r.status_code == 201
    assert swift("PUT", f"/{c}/bad", data=b"x",
                 headers={"X-Delete-At": "12"}).status_code == 400
    deadline = time.time() + 15
    while time.time() < deadline and swift("GET", f"/{c}/gone").status_code == 200:
        time.sleep(0.5)
    assert swift("GET", f"/{c}/gone").status_code == 404


def test_copy(swift):
    c = swift.container()
    swift("PUT", f"/{c}/src", data=b"payload", headers={"X-Object-Meta-A": "1"})
    r = swift("COPY", f"/{c}/src", headers={"Destination": f"{c}/dst1"})
    assert r.status_code == 201 and r.headers["X-Copied-From"] == f"{c}/src"
    r = swift("PUT", f"/{c}/dst2", headers={"X-Copy-From": f"/{c}/src",
                                            "X-Object-Meta-B": "2"})
    assert r.status_code == 201
    head = swift("HEAD", f"/{c}/dst2")
    assert head.headers["X-Object-Meta-A"] == "1" and head.headers["X-Object-Meta-B"] == "2"
    assert swift("GET", f"/{c}/dst1").content == b"payload"
    r = swift("PUT", f"/{c}/dst3", headers={"X-Copy-From": f"/{c}/missing"})
    assert r.status_code == 404


def test_download_survives_overwrite(swift):
    c = swift.container()
    big = b"A" * (2 * 1024 * 1024)
    swift("PUT", f"/{c}/o", data=big)
    r = swift("GET", f"/{c}/o", stream=True)
    first = next(r.iter_content(65536))
    assert swift("PUT", f"/{c}/o", data=b"new").status_code == 201
    rest = b"".join(r.iter_content(65536))
    assert first + rest == big
    assert swift("GET", f"/{c}/o").content == b"new"


def test_admin_operates_any_account(swift, cloud):
    c = swift.container()
    admin = cloud.token("pocketstack-admin")
    r = swift("PUT", f"/{c}/by-admin", data=b"x", token=admin)
    assert r.status_code == 201
    assert swift("GET", f"/{c}/by-admin").content == b"x"


def test_odd_names(swift):
    long_container = "c" * 256
    assert swift("PUT", f"/{long_container}").status_code in (201, 202)
    assert swift("PUT", f"/{long_container}/o", data=b"x").status_code == 201
    assert swift("GET", f"/{long_container}/o").content == b"x"
    c = swift.container()
    for name in ("dir/", "ünïcødé/☃.txt", "with space", "a" * 1024):
        assert swift("PUT", f"/{c}/{name}", data=name.encode()).status_code == 201, name
        assert swift("GET", f"/{c}/{name}").content == name.encode()
    assert swift("PUT", f"/{c}/" + "a" * 1025, data=b"x").status_code == 400
    listing = swift("GET", f"/{c}", params={"format": "json"}).json()
    assert [o["name"] for o in listing] == ["a" * 1024, "dir/", "with space",
                                            "ünïcødé/☃.txt"]
    xml = swift("GET", f"/{c}", params={"format": "xml"})
    assert "<name>ünïcødé/☃.txt</name>" in xml.content.decode()
