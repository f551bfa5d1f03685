"""A cloud of its own: the size cap, restarts, and the in-process API other services use."""

from __future__ import annotations

import hashlib
import os

import requests

from pocketstack.api.context import RequestContext


def _token(handle) -> str:
    return handle.token("pocketstack")


def test_size_cap_and_restart(fresh_cloud, tmp_path):
    conf = tmp_path / "pocketstack.conf"
    conf.write_text("[image]\nimage_size_cap = 100000\n")
    fresh_cloud.config = str(conf)
    fresh_cloud.start()
    headers = {"X-Auth-Token": _token(fresh_cloud), "Accept": "application/json"}
    url = fresh_cloud.url(9292, "/v2/images")
    image = requests.post(url, json={"name": "cap", "disk_format": "raw",
                                     "container_format": "bare"}, headers=headers).json()
    r = requests.put(f"{url}/{image['id']}/file", data=b"x" * 200000,
                     headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 413 and r.json()["code"] == "413 Request Entity Too Large"
    assert requests.get(f"{url}/{image['id']}", headers=headers).json()["status"] == "queued"
    # without a Content-Length (chunked) the cap is found while streaming
    r = requests.put(f"{url}/{image['id']}/file", data=(b"y" * 10000 for _ in range(20)),
                     headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    assert requests.get(f"{url}/{image['id']}", headers=headers).json()["status"] == "queued"
    store = os.path.join(fresh_cloud.data_dir, "images")
    assert [n for n in os.listdir(store) if n != "staging"] == []
    data = os.urandom(50000)
    r = requests.put(f"{url}/{image['id']}/file", data=data,
                     headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204
    fresh_cloud.stop()
    fresh_cloud.start()
    headers["X-Auth-Token"] = _token(fresh_cloud)
    r = requests.get(f"{url}/{image['id']}/file", headers=headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-MD5"] == hashlib.md5(data).hexdigest()


def test_in_process_api(tmp_path):
    from pocketstack.cloud import Cloud
    from pocketstack.config import Config

    cloud = Cloud(Config.load(), str(tmp_path / "data"))
    cloud.prepare()
    try:
        service = cloud.service("image")
        ctx = RequestContext(user_id="u", project_id="p1", roles=["member", "reader"])
        image = service.images.create(ctx, {"name": "inproc", "disk_format": "raw",
                                            "container_format": "bare"})
        service.data.begin(ctx, image["id"])
        writer = service.store.writer(image["id"])
        writer.write(b"hello image")
        service.data.finish(image["id"], writer.commit("raw"))
        got = service.images.get(ctx, image["id"])
        assert got["status"] == "active" and got["size"] == 11
        with service.open_data(image["id"]) as f:
            assert f.read() == b"hello image"
        assert service.data_path(image["id"]).endswith(image["id"])
        other = RequestContext(user_id="v", project_id="p2", roles=["member", "reader"])
        try:
            service.images.get(other, image["id"])
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "code", None) == 404
        else:
            raise AssertionError("another project saw a shared image it is no member of")
    finally:
        cloud.stop()


def test_interrupted_states_recover_at_start(tmp_path):
    from sqlalchemy import select

    from pocketstack.cloud import Cloud
    from pocketstack.config import Config
    from pocketstack.image.models import Image

    cloud = Cloud(Config.load(), str(tmp_path / "data"))
    cloud.prepare()
    try:
        service = cloud.service("image")
        ctx = RequestContext(user_id="u", project_id="p1", roles=["member", "reader"])
        image = service.images.create(ctx, {"name": "stuck", "disk_format": "raw",
                                            "container_format": "bare"})
        service.data.begin(ctx, image["id"])  # saving, then the process "dies"
        assert service.images.get(ctx, image["id"])["status"] == "saving"
        service.start()
        assert service.images.get(ctx, image["id"])["status"] == "queued"
        with cloud.db.read() as session:
            assert session.scalars(select(Image).where(Image.status == "saving")).all() == []
    finally:
        cloud.stop()
