"""Several back ends ([DEFAULT] enabled_backends), through the real ``openstack`` CLI."""

from __future__ import annotations

import os

import requests

from volume_helpers import PORT, wait_resource


def _files(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if not n.startswith("."))


def test_two_backends_schedule_by_type_and_keep_clones_on_their_backend(fresh_cloud,
                                                                         tmp_path):
    slow_dir = str(tmp_path / "slowdisk")
    os.makedirs(fresh_cloud.data_dir, exist_ok=True)
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write("[DEFAULT]\nenabled_backends = lvm1,lvm2\n\n"
                "[lvm1]\nvolume_backend_name = fast\n\n"
                f"[lvm2]\nvolume_backend_name = slow\nvolumes_dir = {slow_dir}\n")
    fresh_cloud.start()
    cloud = fresh_cloud
    fast_dir = os.path.join(cloud.data_dir, "volumes-lvm1")
    admin = {"X-Auth-Token": cloud.token("pocketstack-admin"),
             "OpenStack-API-Version": "volume 3.3"}

    services = cloud.cli("volume", "service", "list", "-f", "json")
    hosts = sorted(s["Host"] for s in services if s["Binary"] == "cinder-volume")
    assert [h.split("@")[1] for h in hosts] == ["lvm1", "lvm2"], services

    for name, backend in (("fast-t", "fast"), ("slow-t", "slow"), ("nowhere-t", "none")):
        cloud.cli("volume", "type", "create", "--property", f"volume_backend_name={backend}",
                  name)
    slow = cloud.cli("volume", "create", "--size", "1", "--type", "slow-t", "s1", "-f", "json")
    plain = cloud.cli("volume", "create", "--size", "1", "p1", "-f", "json")  # first back end
    fast = cloud.cli("volume", "create", "--size", "1", "--type", "fast-t", "f1", "-f", "json")
    show = {v["id"]: cloud.cli("volume", "show", v["id"], "-f", "json")
            for v in (slow, plain, fast)}
    assert show[slow["id"]]["os-vol-host-attr:host"].endswith("@lvm2#slow")
    assert show[plain["id"]]["os-vol-host-attr:host"].endswith("@lvm1#fast")
    assert show[fast["id"]]["os-vol-host-attr:host"].endswith("@lvm1#fast")
    assert _files(slow_dir) == [f"volume-{slow['id']}"]
    assert _files(fast_dir) == sorted([f"volume-{plain['id']}", f"volume-{fast['id']}"])

    # a snapshot, a volume from it and a clone stay on the source's back end
    snap = cloud.cli("volume", "snapshot", "create", "--volume", slow["id"], "sn",
                     "-f", "json")
    from_snap = cloud.cli("volume", "create", "--snapshot", snap["id"], "fs", "-f", "json")
    clone = cloud.cli("volume", "create", "--source", slow["id"], "cl", "-f", "json")
    for v in (from_snap, clone):  # copies, in the background, where it cannot reflink
        wait_resource(cloud, "volumes", v["id"])
        assert cloud.cli("volume", "show", v["id"], "-f", "json")[
            "os-vol-host-attr:host"].endswith("@lvm2#slow")
    assert _files(slow_dir) == sorted([f"volume-{slow['id']}", f"snapshot-{snap['id']}",
                                       f"volume-{from_snap['id']}", f"volume-{clone['id']}"])
    assert len(_files(fast_dir)) == 2

    # attaching gives the file on the right back end
    r = requests.post(cloud.url(PORT, f"/v3/volumes/{clone['id']}/action"), headers=admin,
                      json={"os-initialize_connection": {"connector": {"host": "h"}}},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["connection_info"]["data"]["device_path"] == os.path.join(
        slow_dir, f"volume-{clone['id']}")

    # a backup reads the volume on its back end (backups have one directory of their own)
    backup = cloud.cli("volume", "backup", "create", "--name", "bk", clone["id"], "-f", "json")
    assert wait_resource(cloud, "backups", backup["id"])["size"] == 1
    cloud.cli("volume", "backup", "delete", backup["id"])

    # no back end has that volume_backend_name: the volume is in error, with a message
    lost = cloud.cli("volume", "create", "--size", "1", "--type", "nowhere-t", "lost",
                     "-f", "json")
    assert cloud.cli("volume", "show", lost["id"], "-f", "json")["status"] == "error"
    msgs = requests.get(cloud.url(PORT, f"/v3/messages?resource_uuid={lost['id']}"),
                        headers=admin, timeout=30).json()["messages"]
    assert [m["user_message"] for m in msgs] == [
        "schedule allocate volume: Could not find any available weighted backend."]

    # retype to a type of another back end needs a migration: refused
    proc = cloud.cli("volume", "set", "--type", "fast-t", slow["id"], check=False)
    assert proc.returncode != 0 and "migration" in proc.stderr, proc.stderr

    # one pool per back end
    r = requests.get(cloud.url(PORT, "/v3/scheduler-stats/get_pools?detail=true"),
                     headers=admin, timeout=30)
    pools = {p["name"].split("@")[1]: p["capabilities"] for p in r.json()["pools"]}
    assert sorted(pools) == ["lvm1#fast", "lvm2#slow"]
    assert pools["lvm2#slow"]["volume_backend_name"] == "slow"
    assert pools["lvm2#slow"]["allocated_capacity_gb"] == 3  # slow, from_snap, clone
    assert pools["lvm1#fast"]["total_capacity_gb"] > 0

    # deleting leaves nothing behind
    cloud.cli("volume", "delete", from_snap["id"], clone["id"], plain["id"], fast["id"],
              lost["id"])
    cloud.cli("volume", "delete", "--purge", slow["id"])  # with its snapshot
    ids = {v["ID"] for v in cloud.cli("volume", "list", "-f", "json")}
    assert not ids & {slow["id"], from_snap["id"], clone["id"], plain["id"], fast["id"]}
    assert _files(slow_dir) == [] and _files(fast_dir) == []
