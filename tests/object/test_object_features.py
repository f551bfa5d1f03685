"""Raw HTTP: listings, ACLs, quotas, large objects, bulk delete and temporary URLs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests


def test_listing_params_and_formats(swift):
    c = swift.container()
    for name in ("a", "b/1", "b/2", "c/x/1", "d"):
        assert swift("PUT", f"/{c}/{name}", data=name.encode()).status_code == 201
    plain = swift("GET", f"/{c}")
    assert plain.text.split("\n")[:-1] == ["a", "b/1", "b/2", "c/x/1", "d"]
    js = swift("GET", f"/{c}", params={"format": "json"}).json()
    assert js[0]["name"] == "a" and js[0]["bytes"] == 1
    assert js[0]["hash"] == hashlib.md5(b"a").hexdigest()
    assert {"content_type", "last_modified"} <= set(js[0])
    names = lambda **p: [i.get("name", i.get("subdir")) for i in  # noqa: E731
                         swift("GET", f"/{c}", params={"format": "json", **p}).json()]
    assert names(delimiter="/") == ["a", "b/", "c/", "d"]
    assert names(prefix="b/") == ["b/1", "b/2"]
    assert names(prefix="c/", delimiter="/") == ["c/x/"]
    assert names(marker="b/1", limit=2) == ["b/2", "c/x/1"]
    assert names(end_marker="b/2") == ["a", "b/1"]
    assert names(reverse="true") == ["d", "c/x/1", "b/2", "b/1", "a"]
    assert names(reverse="true", delimiter="/") == ["d", "c/", "b/", "a"]
    xml = swift("GET", f"/{c}", params={"format": "xml", "delimiter": "/"})
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert "<subdir name=\"b/\">" in xml.text and "<name>a</name>" in xml.text
    assert swift("GET", f"/{c}", params={"limit": "10001"}).status_code == 412
    empty = swift.container()
    assert swift("GET", f"/{empty}").status_code == 204
    assert swift("GET", f"/{empty}", params={"format": "json"}).json() == []
    acct = swift("GET", "", params={"format": "json", "prefix": c}).json()
    assert acct == [{"name": c, "count": 5, "bytes": 13,
                     "last_modified": acct[0]["last_modified"]}]


def test_acls(swift, alt):
    c = swift.container()
    swift("PUT", f"/{c}/o", data=b"shared")
    url = f"{swift.base}/{c}/o"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"X-Auth-Token": alt.token}, timeout=10
                        ).status_code == 403
    swift("POST", f"/{c}", headers={"X-Container-Read": f"{alt.project_id}:*"})
    assert requests.get(url, headers={"X-Auth-Token": alt.token}, timeout=10
                        ).content == b"shared"
    r = requests.put(url, data=b"x", headers={"X-Auth-Token": alt.token}, timeout=10)
    assert r.status_code == 403
    swift("POST", f"/{c}", headers={"X-Container-Write": f"{alt.project_id}:*"})
    r = requests.put(f"{swift.base}/{c}/by-alt", data=b"x",
                     headers={"X-Auth-Token": alt.token}, timeout=10)
    assert r.status_code == 201
    # public read: objects, then listings with .rlistings
    swift("POST", f"/{c}", headers={"X-Container-Read": ".r:*"})
    assert requests.get(url, timeout=10).content == b"shared"
    assert requests.get(f"{swift.base}/{c}", timeout=10).status_code == 401
    swift("POST", f"/{c}", headers={"X-Container-Read": ".r:*,.rlistings"})
    assert "o" in requests.get(f"{swift.base}/{c}", timeout=10).text.split()
    assert requests.delete(url, timeout=10).status_code == 401
    # only the owner sees the ACLs
    assert swift("HEAD", f"/{c}").headers["X-Container-Read"] == ".r:*,.rlistings"
    bad = swift("POST", f"/{c}", headers={"X-Container-Write": ".r:*"})
    assert bad.status_code == 400


def test_container_quotas(swift):
    c = swift.container(**{"X-Container-Meta-Quota-Bytes": "10",
                           "X-Container-Meta-Quota-Count": "2"})
    assert swift("PUT", f"/{c}/a", data=b"12345").status_code == 201
    r = swift("PUT", f"/{c}/b", data=b"1234567")
    assert r.status_code == 413
    assert swift("PUT", f"/{c}/b", data=b"12").status_code == 201
    assert swift("PUT", f"/{c}/c", data=b"1").status_code == 413
    r = swift("POST", f"/{c}", headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert r.status_code == 400


def test_dlo(swift):
    c = swift.container()
    for i, part in enumerate((b"aaa", b"bbb", b"cc")):
        swift("PUT", f"/{c}/seg/{i:03d}", data=part)
    r = swift("PUT", f"/{c}/dlo", data=b"", headers={"X-Object-Manifest": f"{c}/seg/"})
    assert r.status_code == 201
    r = swift("GET", f"/{c}/dlo")
    assert r.content == b"aaabbbcc" and r.headers["X-Object-Manifest"] == f"{c}/seg/"
    assert swift("GET", f"/{c}/dlo", headers={"Range": "bytes=2-4"}).content == b"abb"


def test_slo_manifest(swift):
    c = swift.container()
    etags = [swift("PUT", f"/{c}/s/{i}", data=d).headers["Etag"]
             for i, d in enumerate((b"one-", b"two-", b"three"))]
    manifest = [{"path": f"/{c}/s/{i}", "etag": e, "size_bytes": None}
                for i, e in enumerate(etags)]
    r = swift("PUT", f"/{c}/slo", params={"multipart-manifest": "put"},
              data=json.dumps(manifest))
    assert r.status_code == 201
    expected_etag = hashlib.md5("".join(etags).encode()).hexdigest()
    assert r.headers["Etag"] == f'"{expected_etag}"'
    r = swift("GET", f"/{c}/slo")
    assert r.content == b"one-two-three" and r.headers["X-Static-Large-Object"] == "True"
    assert swift("GET", f"/{c}/slo", headers={"Range": "bytes=3-8"}).content == b"-two-t"
    got = swift("GET", f"/{c}/slo", params={"multipart-manifest": "get"}).json()
    assert [s["name"] for s in got] == [f"/{c}/s/0", f"/{c}/s/1", f"/{c}/s/2"]
    bad = [{"path": f"/{c}/s/0", "etag": "0" * 32}]
    r = swift("PUT", f"/{c}/bad", params={"multipart-manifest": "put"}, data=json.dumps(bad))
    assert r.status_code == 422 and "Etag Mismatch" in r.text
    r = swift("PUT", f"/{c}/bad", params={"multipart-manifest": "put"}, data="{nope")
    assert r.status_code == 400
    r = swift("DELETE", f"/{c}/slo", params={"multipart-manifest": "delete"},
              headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["Number Deleted"] == 4
    assert swift("GET", f"/{c}", params={"format": "json"}).json() == []


def test_bulk_delete(swift):
    c = swift.container()
    for n in ("x", "y"):
        swift("PUT", f"/{c}/{n}", data=b"1")
    body = f"/{c}/x\n/{c}/y\n/{c}/missing\n/{c}\n"
    r = swift("POST", "", params={"bulk-delete": ""}, data=body,
              headers={"Accept": "application/json", "Content-Type": "text/plain"})
    assert r.status_code == 200
    result = r.json()
    assert result["Number Deleted"] == 3 and result["Number Not Found"] == 1
    assert swift("HEAD", f"/{c}").status_code == 404


def _sign(key: str, method: str, expires: int, path: str, digest=hashlib.sha256) -> str:
    return hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(), digest).hexdigest()


def test_tempurl(swift, cloud):
    c = swift.container()
    swift("PUT", f"/{c}/secret.txt", data=b"top secret")
    swift("POST", "", headers={"X-Account-Meta-Temp-URL-Key": "k3y"})
    path = f"/v1/{swift.account}/{c}/secret.txt"
    expires = int(time.time()) + 60
    url = cloud.url(8080, path)
    for digest in (hashlib.sha1, hashlib.sha256, hashlib.sha512):
        sig = _sign("k3y", "GET", expires, path, digest)
        r = requests.get(url, params={"temp_url_sig": sig, "temp_url_expires": expires},
                         timeout=10)
        assert r.status_code == 200 and r.content == b"top secret"
        assert "attachment" in r.headers["Content-Disposition"]
    sig = _sign("wrong", "GET", expires, path)
    r = requests.get(url, params={"temp_url_sig": sig, "temp_url_expires": expires},
                     timeout=10)
    assert r.status_code == 401
    old = int(time.time()) - 10
    r = requests.get(url, params={"temp_url_sig": _sign("k3y", "GET", old, path),
                                  "temp_url_expires": old}, timeout=10)
    assert r.status_code == 401
    put_sig = _sign("k3y", "PUT", expires, path.replace("secret.txt", "upload"))
    r = requests.put(url.replace("secret.txt", "upload"), data=b"via tempurl",
                     params={"temp_url_sig": put_sig, "temp_url_expires": expires},
                     timeout=10)
    assert r.status_code == 201
    assert swift("GET", f"/{c}/upload").content == b"via tempurl"
    # a GET signature does not allow PUT
    r = requests.put(url, data=b"x", params={"temp_url_sig": _sign("k3y", "GET", expires,
                                                                   path),
                                             "temp_url_expires": expires}, timeout=10)
    assert r.status_code == 401


def test_versions_location_stack(swift):
    archive = swift.container()
    c = swift.container(**{"X-Versions-Location": archive})
    assert swift("HEAD", f"/{c}").headers["X-Versions-Location"] == archive
    for body in (b"v1", b"v2", b"v3"):
        assert swift("PUT", f"/{c}/doc", data=body).status_code == 201
    versions = swift("GET", f"/{archive}", params={"format": "json"}).json()
    assert len(versions) == 2 and versions[0]["name"].startswith("003doc/")
    assert swift("GET", f"/{c}/doc").content == b"v3"
    assert swift("DELETE", f"/{c}/doc").status_code == 204
    assert swift("GET", f"/{c}/doc").content == b"v2"
    assert swift("DELETE", f"/{c}/doc").status_code == 204
    assert swift("GET", f"/{c}/doc").content == b"v1"
    assert swift("DELETE", f"/{c}/doc").status_code == 204
    assert swift("GET", f"/{c}/doc").status_code == 404
    assert swift("GET", f"/{archive}", params={"format": "json"}).json() == []


def test_history_location(swift):
    archive = swift.container()
    c = swift.container(**{"X-History-Location": archive})
    swift("PUT", f"/{c}/doc", data=b"v1")
    swift("PUT", f"/{c}/doc", data=b"v2")
    assert swift("DELETE", f"/{c}/doc").status_code == 204
    assert swift("GET", f"/{c}/doc").status_code == 404
    kept = swift("GET", f"/{archive}", params={"format": "json"}).json()
    assert [v["bytes"] for v in kept] == [2, 2]
    assert swift("GET", f"/{archive}/{kept[0]['name']}").content == b"v1"


def test_account_quota(cloud, alt):
    admin = cloud.token("pocketstack-admin")
    # only a reseller admin sets an account quota; the owner cannot
    assert alt("POST", headers={"X-Account-Meta-Quota-Bytes": "1"}).status_code == 403
    used = int(alt("HEAD").headers["X-Account-Bytes-Used"])
    r = alt("POST", headers={"X-Account-Meta-Quota-Bytes": str(used + 5)}, token=admin)
    assert r.status_code == 204
    try:
        c = alt.container()
        assert alt("PUT", f"/{c}/small", data=b"12345").status_code == 201
        assert alt("PUT", f"/{c}/more", data=b"1").status_code == 413
    finally:
        alt("POST", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"}, token=admin)
    assert alt("PUT", f"/{c}/more", data=b"1").status_code == 201


def test_reader_role_is_read_only(cloud, swift):
    import uuid

    admin = cloud.conn("pocketstack-admin")
    project = admin.identity.find_project("demo", domain_id="default")
    name = f"reader-{uuid.uuid4().hex[:8]}"
    user = admin.identity.create_user(name=name, password="s3cret!", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user,
                                               admin.identity.find_role("reader"))
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": "s3cret!"}}},
        "scope": {"project": {"id": project.id}}}}
    r = requests.post(cloud.url(5000, "/v3/auth/tokens"), json=auth, timeout=10)
    token = r.headers["X-Subject-Token"]
    c = swift.container()
    swift("PUT", f"/{c}/o", data=b"read me")
    assert swift("GET", f"/{c}/o", token=token).content == b"read me"
    assert swift("GET", f"/{c}", token=token).text == "o\n"
    assert swift("HEAD", "", token=token).status_code == 204
    assert swift("PUT", f"/{c}/o2", data=b"x", token=token).status_code == 403
    assert swift("DELETE", f"/{c}/o", token=token).status_code == 403
    assert swift("PUT", f"/{c}-new", token=token).status_code == 403


def test_static_website(swift):
    c = swift.container(**{"X-Container-Read": ".r:*", "X-Container-Meta-Web-Index":
                           "index.html", "X-Container-Meta-Web-Error": "error.html",
                           "X-Container-Meta-Web-Listings": "true"})
    swift("PUT", f"/{c}/index.html", data=b"<h1>home</h1>")
    swift("PUT", f"/{c}/404error.html", data=b"<h1>lost</h1>")
    swift("PUT", f"/{c}/docs/a.txt", data=b"a")
    base = f"{swift.base}/{c}"
    r = requests.get(base, allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"].endswith(f"/{c}/")
    r = requests.get(base + "/", timeout=10)
    assert r.status_code == 200 and r.content == b"<h1>home</h1>"
    r = requests.get(base + "/docs", allow_redirects=False, timeout=10)
    assert r.status_code == 301
    r = requests.get(base + "/docs/", timeout=10)
    assert r.status_code == 200 and 'href="a.txt"' in r.text
    r = requests.get(base + "/nothing-here", timeout=10)
    assert r.status_code == 404 and r.content == b"<h1>lost</h1>"
    # the owner's token still gets the plain API
    assert swift("GET", f"/{c}").text.split() == ["404error.html", "docs/a.txt",
                                                  "index.html"]


def test_cors(swift):
    c = swift.container(**{"X-Container-Meta-Access-Control-Allow-Origin":
                           "https://app.example", "X-Container-Meta-Access-Control-Max-Age":
                           "60"})
    swift("PUT", f"/{c}/o", data=b"x", headers={"X-Object-Meta-Tag": "t"})
    url = f"{swift.base}/{c}/o"
    r = requests.options(url, headers={"Origin": "https://app.example",
                                       "Access-Control-Request-Method": "GET"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Max-Age"] == "60"
    r = requests.options(url, headers={"Origin": "https://evil.example",
                                       "Access-Control-Request-Method": "GET"}, timeout=10)
    assert r.status_code == 401
    r = swift("GET", f"/{c}/o", headers={"Origin": "https://app.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "x-object-meta-tag" in r.headers["Access-Control-Expose-Headers"]
    r = swift("GET", f"/{c}/o", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
