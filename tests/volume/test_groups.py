"""Generic volume groups (3.11-3.20) through the real ``openstack`` CLI and the raw API:
group types and specs, groups with volumes, group snapshots, groups from a source."""

from __future__ import annotations

import os
import uuid

import requests

from volume_helpers import PORT, wait_for, wait_resource

V = ("--os-volume-api-version", "3.20")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _api(cloud, user: str = "pocketstack-admin", version: str = "3.20"):
    s = requests.Session()
    s.headers.update({"X-Auth-Token": cloud.token(user),
                      "OpenStack-API-Version": f"volume {version}"})
    return s, lambda path: cloud.url(PORT, "/v3" + path)


def _cli(cloud, *args: str) -> dict:
    """The CLI's JSON with its column titles ("Volume Types") as API keys (volume_types)."""
    out = cloud.cli(*V, *args, "-f", "json")
    return {k.lower().replace(" ", "_"): v for k, v in out.items()}


def _group_volumes(s, url, group_id: str) -> list[dict]:
    vols = s.get(url("/volumes/detail")).json()["volumes"]
    return [v for v in vols if v["group_id"] == group_id]


def test_group_snapshot_and_group_from_it_with_the_cli(cloud):
    s, url = _api(cloud)
    gt = _cli(cloud, "volume", "group", "type", "create", "--description", "gt",
              _name("gtype"))
    s.post(url(f"/group_types/{gt['id']}/group_specs"),
           json={"group_specs": {"consistent_group_snapshot_enabled": "<is> True"}})
    specs = s.get(url(f"/group_types/{gt['id']}/group_specs")).json()["group_specs"]
    assert specs == {"consistent_group_snapshot_enabled": "<is> True"}
    vt = s.post(url("/types"), json={"volume_type": {"name": _name("vt")}}).json()["volume_type"]
    g = _cli(cloud, "volume", "group", "create", "--volume-group-type", gt["id"],
             "--volume-type", vt["id"], "--name", _name("grp"))
    assert g["status"] == "available" and g["volume_types"] == [vt["id"]]
    r = s.post(url("/volumes"), json={"volume": {"size": 1, "volume_type": vt["id"],
                                                 "group_id": g["id"]}})
    assert r.status_code == 202, r.text
    vol = wait_resource(cloud, "volumes", r.json()["volume"]["id"])
    with open(os.path.join(cloud.data_dir, "volumes", f"volume-{vol['id']}"), "r+b") as f:
        f.write(b"group data")
    gs = _cli(cloud, "volume", "group", "snapshot", "create", "--name", _name("gsnap"),
              g["id"])
    wait_for(lambda: s.get(url(f"/group_snapshots/{gs['id']}")).json()["group_snapshot"],
             "available")
    members = [x for x in s.get(url("/snapshots/detail")).json()["snapshots"]
               if x["group_snapshot_id"] == gs["id"]]
    assert [x["volume_id"] for x in members] == [vol["id"]]
    # a group with snapshots or volumes is not deleted by accident
    r = s.post(url(f"/groups/{g['id']}/action"), json={"delete": {"delete-volumes": False}})
    assert r.status_code == 400 and "delete-volumes flag" in r.json()["badRequest"]["message"]
    r = s.post(url(f"/groups/{g['id']}/action"), json={"delete": {"delete-volumes": True}})
    assert r.status_code == 400 and "group snapshots" in r.json()["badRequest"]["message"]

    g2 = _cli(cloud, "volume", "group", "create", "--group-snapshot", gs["id"],
              "--name", _name("from-snap"))
    wait_for(lambda: s.get(url(f"/groups/{g2['id']}")).json()["group"], "available")
    (copy,) = _group_volumes(s, url, g2["id"])
    wait_resource(cloud, "volumes", copy["id"])
    with open(os.path.join(cloud.data_dir, "volumes", f"volume-{copy['id']}"), "rb") as f:
        assert f.read(10) == b"group data"
    assert s.get(url(f"/groups/{g2['id']}")).json()["group"]["group_snapshot_id"] == gs["id"]

    cloud.cli(*V, "volume", "group", "delete", "--force", g2["id"])
    assert s.delete(url(f"/group_snapshots/{gs['id']}")).status_code == 202
    assert s.get(url(f"/snapshots/{members[0]['id']}")).status_code == 404
    r = s.post(url(f"/groups/{g['id']}/action"), json={"delete": {"delete-volumes": True}})
    assert r.status_code == 202, r.text
    for gid in (g["id"], g2["id"]):
        assert s.get(url(f"/groups/{gid}")).status_code == 404
    for vid in (vol["id"], copy["id"]):
        assert s.get(url(f"/volumes/{vid}")).status_code == 404
        assert not os.path.exists(os.path.join(cloud.data_dir, "volumes", f"volume-{vid}"))
    s.delete(url(f"/group_types/{gt['id']}"))


def test_group_rules_and_errors(cloud):
    s, url = _api(cloud)
    old, _ = _api(cloud, version="3.10")
    assert old.get(url("/group_types")).status_code == 404  # groups start at 3.11
    gt = s.post(url("/group_types"), json={"group_type": {"name": _name("gt"),
                                                           "is_public": False}})
    assert gt.status_code == 202, gt.text
    gt = gt.json()["group_type"]
    demo, _ = _api(cloud, "pocketstack")
    assert demo.post(url("/group_types"), json={"group_type": {"name": "x"}}).status_code == 403
    assert gt["id"] not in [t["id"] for t in demo.get(url("/group_types")).json()["group_types"]]
    vt = s.post(url("/types"), json={"volume_type": {"name": _name("vt")}}).json()["volume_type"]
    other = s.post(url("/types"), json={"volume_type": {"name": _name("vt")}}).json()[
        "volume_type"]
    r = s.post(url("/groups"), json={"group": {"group_type": gt["id"], "volume_types": ["nope"]}})
    assert r.status_code == 404
    r = s.post(url("/groups"), json={"group": {"volume_types": [vt["id"]]}})
    assert r.status_code == 400 and "group_type" in r.json()["badRequest"]["message"]
    g = s.post(url("/groups"), json={"group": {"group_type": gt["id"], "name": "g",
                                               "volume_types": [vt["id"]]}}).json()["group"]
    r = s.post(url("/volumes"), json={"volume": {"size": 1, "volume_type": other["id"],
                                                 "group_id": g["id"]}})
    assert r.status_code == 400 and "not supported by group" in r.json()["badRequest"]["message"]
    vid = s.post(url("/volumes"), json={"volume": {"size": 1, "volume_type": vt["id"]}}
                 ).json()["volume"]["id"]
    wait_resource(cloud, "volumes", vid)
    assert s.put(url(f"/groups/{g['id']}"), json={"group": {"add_volumes": vid}}
                 ).status_code == 202
    assert [v["id"] for v in _group_volumes(s, url, g["id"])] == [vid]
    listed, _ = _api(cloud, version="3.25")
    shown = listed.get(url(f"/groups/{g['id']}?list_volume=True")).json()["group"]
    assert shown["volumes"] == [vid]
    r = s.put(url(f"/groups/{g['id']}"), json={"group": {"remove_volumes": "not-in-it"}})
    assert r.status_code == 404
    assert s.put(url(f"/groups/{g['id']}"), json={"group": {"remove_volumes": vid}}
                 ).status_code == 202
    assert _group_volumes(s, url, g["id"]) == []
    r = demo.post(url(f"/groups/{g['id']}/action"), json={"reset_status": {"status": "error"}})
    assert r.status_code in (403, 404)
    r = s.post(url(f"/groups/{g['id']}/action"), json={"reset_status": {"status": "bogus"}})
    assert r.status_code == 400
    assert s.delete(url(f"/group_types/{gt['id']}")).status_code == 400  # in use
    assert s.post(url(f"/groups/{g['id']}/action"), json={"delete": {}}).status_code == 202
    assert s.delete(url(f"/group_types/{gt['id']}")).status_code == 202
    s.delete(url(f"/volumes/{vid}"))
