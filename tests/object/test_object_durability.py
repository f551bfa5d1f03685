"""Objects survive restarts; a crash mid-upload leaves no partial object visible."""

from __future__ import annotations

import os
import socket

import requests


def test_crash_mid_upload_and_restart(fresh_cloud, swift_client):
    Swift = swift_client
    fresh_cloud.start()
    swift = Swift(fresh_cloud)
    c = swift.container()
    assert swift("PUT", f"/{c}/kept", data=b"durable").status_code == 201
    host, port = fresh_cloud.addr, 8080
    path = f"/v1/{swift.account}/{c}/partial"
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nX-Auth-Token: {swift.token}\r\n"
                 f"Content-Length: 1000000\r\n\r\n".encode() + b"x" * 300000)
    # the upload is in flight: the object is not visible yet
    assert swift("HEAD", f"/{c}/partial").status_code == 404
    assert fresh_cloud.proc is not None
    fresh_cloud.proc.kill()
    fresh_cloud.proc.wait()
    fresh_cloud.proc = None
    sock.close()
    fresh_cloud.start()
    swift = Swift(fresh_cloud)
    assert swift("GET", f"/{c}/kept").content == b"durable"
    assert swift("HEAD", f"/{c}/partial").status_code == 404
    listing = swift("GET", f"/{c}", params={"format": "json"}).json()
    assert [o["name"] for o in listing] == ["kept"]
    assert swift("HEAD", f"/{c}").headers["X-Container-Object-Count"] == "1"
    tmp = os.path.join(fresh_cloud.data_dir, "objects", "tmp")
    assert os.listdir(tmp) == []
    assert requests.get(fresh_cloud.url(8080, "/healthcheck"), timeout=10).status_code == 200
