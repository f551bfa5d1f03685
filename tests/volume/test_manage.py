"""Unmanage and manage (os-unmanage, os-volume-manage, manageable_volumes) with the real
CLI (``volume delete --remote``, ``volume create --remote-source``) and the raw API."""

from __future__ import annotations

import os
import uuid

import requests

from volume_helpers import PORT, wait_resource


def test_unmanage_then_manage_keeps_the_data(cloud):
    s = requests.Session()
    s.headers.update({"X-Auth-Token": cloud.token("pocketstack-admin"),
                      "OpenStack-API-Version": "volume 3.16"})

    def url(path: str) -> str:
        return cloud.url(PORT, "/v3" + path)

    vol = s.post(url("/volumes"), json={"volume": {"size": 1}}).json()["volume"]
    vol = wait_resource(cloud, "volumes", vol["id"])
    host = s.get(url(f"/volumes/{vol['id']}")).json()["volume"]["os-vol-host-attr:host"]
    vdir = os.path.join(cloud.data_dir, "volumes")
    with open(os.path.join(vdir, f"volume-{vol['id']}"), "r+b") as f:
        f.write(b"kept data")
    cloud.cli("volume", "delete", "--remote", vol["id"])  # unmanage: the row goes, not the file
    assert s.get(url(f"/volumes/{vol['id']}")).status_code == 404
    source = f"volume-{vol['id']}"
    listed = s.get(url(f"/manageable_volumes/detail?host={host}")).json()["manageable-volumes"]
    mine = [m for m in listed if m["reference"] == {"source-name": source}]
    assert mine and mine[0]["safe_to_manage"] and mine[0]["size"] == 1

    name = f"managed-{uuid.uuid4().hex[:8]}"
    new = cloud.cli("volume", "create", "--remote-source", f"source-name={source}",
                    "--host", host, name, "-f", "json")
    assert new["id"] != vol["id"] and new["size"] == 1 and new["name"] == name
    shown = wait_resource(cloud, "volumes", new["id"])
    assert shown["availability_zone"] == vol["availability_zone"]
    with open(os.path.join(vdir, f"volume-{new['id']}"), "rb") as f:
        assert f.read(9) == b"kept data"
    assert not os.path.exists(os.path.join(vdir, source))
    listed = s.get(url(f"/manageable_volumes?host={host}")).json()["manageable-volumes"]
    ref = {"source-name": f"volume-{new['id']}"}
    assert {"reference": ref, "size": 1, "safe_to_manage": False} in listed

    # errors: an unknown file, a file already managed, a foreign host, a member's call
    for body, code in (({"host": host, "ref": {"source-name": "nope"}}, 400),
                       ({"host": host, "ref": ref}, 400),
                       ({"host": "elsewhere@lvm#lvm", "ref": {"source-name": "x"}}, 400),
                       ({"host": host}, 400)):
        r = s.post(url("/os-volume-manage"), json={"volume": body})
        assert r.status_code == code, (body, r.text)
        assert "badRequest" in r.json()
    demo = {"X-Auth-Token": cloud.token("pocketstack")}
    assert requests.post(url("/os-volume-manage"), headers=demo,
                         json={"volume": {"host": host, "ref": ref}}).status_code == 403
    assert s.delete(url(f"/volumes/{new['id']}")).status_code == 202
