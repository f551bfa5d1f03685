"""Behaviours Tempest's object-storage suite checks (beyond the interop list)."""

from __future__ import annotations

import hashlib
import hmac
import time

import requests


def _sign(key: str, method: str, expires: int, path: str) -> str:
    return hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                    hashlib.sha256).hexdigest()


def test_empty_object_metadata_is_kept(swift):
    c = swift.container()
    assert swift("PUT", f"/{c}/o", data=b"x",
                 headers={"X-Object-Meta-Blank": ""}).status_code == 201
    assert swift("HEAD", f"/{c}/o").headers["X-Object-Meta-Blank"] == ""
    assert swift("POST", f"/{c}/o", headers={"X-Object-Meta-Other": ""}).status_code == 202
    head = swift("HEAD", f"/{c}/o").headers
    assert head["X-Object-Meta-Other"] == "" and "X-Object-Meta-Blank" not in head
    # containers: an empty value still removes
    swift("POST", f"/{c}", headers={"X-Container-Meta-A": "1"})
    swift("POST", f"/{c}", headers={"X-Container-Meta-A": ""})
    assert "X-Container-Meta-A" not in swift("HEAD", f"/{c}").headers


def test_copy_reply_carries_the_metadata(swift):
    c = swift.container()
    swift("PUT", f"/{c}/src", data=b"abc", headers={"X-Object-Meta-Src": "s"})
    r = swift("COPY", f"/{c}/src", headers={"Destination": f"{c}/dst",
                                            "X-Object-Meta-Test": "t"})
    assert r.status_code == 201
    assert r.headers["X-Object-Meta-Src"] == "s" and r.headers["X-Object-Meta-Test"] == "t"
    assert r.headers["X-Copied-From"] == f"{c}/src"
    r = swift("COPY", f"/{c}/src", headers={"Destination": f"{c}/dst2",
                                            "X-Object-Meta-Blank": ""})
    assert r.headers["X-Object-Meta-Blank"] == ""


def test_tempurl_inline_and_expiry_even_with_a_token(swift, cloud):
    c = swift.container()
    swift("PUT", f"/{c}/f.txt", data=b"hello")
    swift("POST", f"/{c}", headers={"X-Container-Meta-Temp-URL-Key": "ck"})
    path = f"/v1/{swift.account}/{c}/f.txt"
    url = cloud.url(8080, path)
    expires = int(time.time()) + 60
    sig = _sign("ck", "GET", expires, path)
    r = requests.get(f"{url}?temp_url_sig={sig}&temp_url_expires={expires}&inline",
                     timeout=10)
    assert r.status_code == 200 and r.headers["Content-Disposition"] == "inline"
    # a HEAD may use a PUT signature
    put_sig = _sign("ck", "PUT", expires, path)
    r = requests.head(url, params={"temp_url_sig": put_sig, "temp_url_expires": expires},
                      headers={"X-Auth-Token": swift.token}, timeout=10)
    assert r.status_code == 200
    old = int(time.time()) - 5
    r = requests.get(url, params={"temp_url_sig": _sign("ck", "GET", old, path),
                                  "temp_url_expires": old},
                     headers={"X-Auth-Token": swift.token}, timeout=10)
    assert r.status_code == 401


def test_formpost_with_a_token_and_an_object_prefix(swift, cloud):
    c = swift.container()
    swift("POST", "", headers={"X-Account-Meta-Temp-URL-Key": "fk"})
    path = f"/v1/{swift.account}/{c}/pre-"
    expires = int(time.time()) + 60
    sig = hmac.new(b"fk", f"{path}\n\n1024\n5\n{expires}".encode(), hashlib.sha1).hexdigest()
    fields = {"redirect": "", "max_file_size": "1024", "max_file_count": "5",
              "expires": str(expires), "signature": sig}
    lines = []
    for k, v in fields.items():
        lines += ["--b0undary", f'Content-Disposition: form-data; name="{k}"', "", v]
    lines += ["--b0undary", 'Content-Disposition: form-data; name="file1"; filename="t.txt"',
              "Content-Type: text/plain", "", "hello world", "--b0undary--", ""]
    r = swift("POST", f"/{c}/pre-", data="\r\n".join(lines),
              headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 201, r.text
    assert swift("GET", f"/{c}/pre-t.txt").content == b"hello world"
    bad = "\r\n".join(lines).replace(sig, "0" * 40)
    r = swift("POST", f"/{c}/pre-", data=bad,
              headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 401


def test_account_object_count_quota(cloud, alt):
    admin = cloud.token("pocketstack-admin")
    assert alt("POST", headers={"X-Account-Quota-Count": "1"}).status_code == 403
    assert alt("POST", headers={"X-Account-Quota-Count": "many"},
               token=admin).status_code == 400
    objects = int(alt("HEAD").headers["X-Account-Object-Count"])
    c = alt.container()
    assert alt("POST", headers={"X-Account-Quota-Count": str(objects + 1)},
               token=admin).status_code == 204
    try:
        assert alt("PUT", f"/{c}/one", data=b"").status_code == 201
        assert alt("PUT", f"/{c}/two", data=b"").status_code == 413
    finally:
        alt("POST", headers={"X-Remove-Account-Quota-Count": "x"}, token=admin)
    assert alt("PUT", f"/{c}/two", data=b"").status_code == 201


def _tar(files: dict[str, bytes], mode: str = "w") -> bytes:
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_archive_then_bulk_delete(swift):
    import uuid
    cname = f"tar-{uuid.uuid4().hex[:8]}"
    body = _tar({f"{cname}/a.txt": b"aaa", f"{cname}/sub/b.bin": b"bb"})
    r = swift("PUT", "", params={"extract-archive": "tar"}, data=body,
              headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["Number Files Created"] == 2 and r.json()["Errors"] == []
    assert swift("GET", f"/{cname}/sub/b.bin").content == b"bb"
    # into one container, gzipped
    r = swift("PUT", f"/{cname}", params={"extract-archive": "tar.gz"},
              data=_tar({"c.txt": b"c"}, "w:gz"))
    assert r.status_code == 200 and "Number Files Created: 1" in r.text
    r = swift("PUT", "", params={"extract-archive": "tar"}, data=b"not a tar",
              headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["Response Status"] == "400 Bad Request"
    assert swift("PUT", "", data=b"x").status_code == 405
    r = swift("DELETE", "", params={"bulk-delete": ""}, headers={"Accept": "application/json"},
              data=f"{cname}/a.txt\n{cname}/sub/b.bin\n{cname}/c.txt\n{cname}")
    assert r.status_code == 200 and r.json()["Number Deleted"] == 4
    assert swift("HEAD", f"/{cname}").status_code == 404
