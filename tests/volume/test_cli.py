"""Block Storage through the real ``openstack`` CLI."""

from __future__ import annotations

import os
import uuid

from volume_helpers import wait_resource


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _vol_file(cloud, volume_id: str) -> str:
    return os.path.join(cloud.data_dir, "volumes", f"volume-{volume_id}")


def test_volume_create_show_set_extend_delete(cloud):
    name = _name("vol")
    vol = cloud.cli("volume", "create", "--size", "1", "--description", "first",
                    "--property", "a=b", name, "-f", "json")
    assert vol["status"] == "available" and vol["size"] == 1 and vol["name"] == name
    assert vol["type"] == "__DEFAULT__" and vol["availability_zone"] == "nova"
    # the host (an admin extension attribute) is shown by show, not by create (as Cinder)
    assert not vol.get("os-vol-host-attr:host")
    assert cloud.cli("volume", "show", vol["id"], "-f", "json")[
        "os-vol-host-attr:host"].endswith("@file#file")
    path = _vol_file(cloud, vol["id"])
    assert os.path.getsize(path) == 1024 ** 3
    assert os.stat(path).st_blocks * 512 < 1024 ** 2  # sparse
    new = _name("renamed")
    cloud.cli("volume", "set", "--name", new, "--description", "second", "--property", "c=d",
              "--bootable", vol["id"])
    cloud.cli("volume", "set", "--size", "2", new)
    wait_resource(cloud, "volumes", vol["id"])  # extending, then available
    shown = cloud.cli("volume", "show", new, "-f", "json")
    assert shown["description"] == "second" and shown["bootable"] is True
    assert shown["properties"] == {"a": "b", "c": "d"} and shown["size"] == 2
    assert os.path.getsize(path) == 2 * 1024 ** 3
    listed = cloud.cli("volume", "list", "--long", "-f", "json")
    assert new in [v["Name"] for v in listed]
    cloud.cli("volume", "set", "--non-bootable", new)
    assert cloud.cli("volume", "show", new, "-f", "json")["bootable"] is False
    cloud.cli("volume", "delete", new)
    assert not os.path.exists(path)
    assert new not in [v["Name"] for v in cloud.cli("volume", "list", "-f", "json")]


def test_snapshots_block_delete_unless_cascade(cloud):
    vol = cloud.cli("volume", "create", "--size", "1", _name("vol"), "-f", "json")
    snap = cloud.cli("volume", "snapshot", "create", "--volume", vol["id"], _name("snap"),
                     "-f", "json")
    assert snap["status"] == "available" and snap["size"] == 1
    names = [s["Name"] for s in cloud.cli("volume", "snapshot", "list", "-f", "json")]
    assert snap["name"] in names
    shown = cloud.cli("volume", "snapshot", "show", snap["id"], "-f", "json")
    assert shown["volume_id"] == vol["id"]
    proc = cloud.cli("volume", "delete", vol["id"], check=False)
    assert proc.returncode != 0 and "dependent snapshots" in proc.stderr
    # a volume from the snapshot is a copy
    clone = cloud.cli("volume", "create", "--snapshot", snap["id"], _name("fromsnap"),
                      "-f", "json")
    assert clone["snapshot_id"] == snap["id"] and clone["size"] == 1
    wait_resource(cloud, "volumes", clone["id"])  # a copy after the answer without reflinks
    cloud.cli("volume", "delete", clone["id"])
    cloud.cli("volume", "snapshot", "delete", snap["id"])
    assert snap["id"] not in [s["ID"] for s in
                              cloud.cli("volume", "snapshot", "list", "-f", "json")]
    snap2 = cloud.cli("volume", "snapshot", "create", "--volume", vol["id"], _name("snap"),
                      "-f", "json")
    cloud.cli("volume", "delete", "--purge", vol["id"])  # cascade
    snaps_dir = os.listdir(os.path.join(cloud.data_dir, "volumes"))
    assert not any(vol["id"] in f or snap2["id"] in f for f in snaps_dir)


def test_backup_restore_roundtrip_keeps_data(cloud):
    vol = cloud.cli("volume", "create", "--size", "1", _name("vol"), "-f", "json")
    path = _vol_file(cloud, vol["id"])
    with open(path, "r+b") as f:
        f.seek(5 * 1024 * 1024)
        f.write(b"hello pocketstack")
    backup = cloud.cli("volume", "backup", "create", "--name", _name("bk"), vol["id"],
                       "-f", "json")
    wait_resource(cloud, "backups", backup["id"])  # creating, then available
    shown = cloud.cli("volume", "backup", "show", backup["id"], "-f", "json")
    assert shown["status"] == "available" and shown["volume_id"] == vol["id"]
    stored = os.path.join(cloud.data_dir, "backups", f"backup-{backup['id']}")
    assert os.path.getsize(stored) < 64 * 1024  # compressed, holes skipped
    with open(path, "r+b") as f:
        f.seek(5 * 1024 * 1024)
        f.write(b"overwritten!!!!!!")
    cloud.cli("volume", "backup", "restore", "--force", backup["id"], vol["id"])
    wait_resource(cloud, "volumes", vol["id"])  # restoring-backup, then available
    with open(path, "rb") as f:
        f.seek(5 * 1024 * 1024)
        assert f.read(17) == b"hello pocketstack"
    assert cloud.cli("volume", "show", vol["id"], "-f", "json")["status"] == "available"
    listed = cloud.cli("volume", "backup", "list", "-f", "json")
    assert backup["id"] in [b["ID"] for b in listed]
    cloud.cli("volume", "backup", "delete", backup["id"])
    assert not os.path.exists(stored)
    cloud.cli("volume", "delete", vol["id"])


def test_types_and_qos(cloud):
    tname, qname = _name("type"), _name("qos")
    t = cloud.cli("volume", "type", "create", "--property", "k=v", tname, "-f", "json")
    assert t["properties"] == {"k": "v"} and t["is_public"] is True
    assert tname in [x["Name"] for x in cloud.cli("volume", "type", "list", "-f", "json")]
    q = cloud.cli("volume", "qos", "create", "--property", "iops=100", qname, "-f", "json")
    assert q["properties"] == {"iops": "100"}
    cloud.cli("volume", "qos", "associate", qname, tname)
    shown = cloud.cli("volume", "qos", "show", qname, "-f", "json")
    assert shown["associations"] == [tname]
    vol = cloud.cli("volume", "create", "--size", "1", "--type", tname, _name("vol"),
                    "-f", "json")
    assert vol["type"] == tname
    proc = cloud.cli("volume", "type", "delete", tname, check=False)
    assert proc.returncode != 0  # still in use
    cloud.cli("volume", "delete", vol["id"])
    cloud.cli("volume", "qos", "disassociate", "--volume-type", tname, qname)
    cloud.cli("volume", "qos", "delete", qname)
    cloud.cli("volume", "type", "delete", tname)
    assert tname not in [x["Name"] for x in cloud.cli("volume", "type", "list", "-f", "json")]


def test_private_type_access(cloud):
    tname = _name("private")
    cloud.cli("volume", "type", "create", "--private", tname)
    demo = cloud.cli("volume", "type", "list", "-f", "json", cloud="pocketstack")
    assert tname not in [x["Name"] for x in demo]
    cloud.cli("volume", "type", "set", "--project", "demo", tname)
    demo = cloud.cli("volume", "type", "list", "-f", "json", cloud="pocketstack")
    assert tname in [x["Name"] for x in demo]
    cloud.cli("volume", "type", "delete", tname)


def test_transfer_moves_volume_to_other_project(cloud):
    vol = cloud.cli("volume", "create", "--size", "1", _name("xfer"), "-f", "json",
                    cloud="pocketstack")
    req = cloud.cli("volume", "transfer", "request", "create", vol["id"], "-f", "json",
                    cloud="pocketstack")
    assert req["auth_key"]
    assert cloud.cli("volume", "show", vol["id"], "-f", "json",
                     cloud="pocketstack")["status"] == "awaiting-transfer"
    shown = cloud.cli("volume", "transfer", "request", "show", req["id"], "-f", "json",
                      cloud="pocketstack")
    assert "auth_key" not in shown
    bad = cloud.cli("volume", "transfer", "request", "accept", "--auth-key", "wrong",
                    req["id"], cloud="pocketstack-alt", check=False)
    assert bad.returncode != 0
    cloud.cli("volume", "transfer", "request", "accept", "--auth-key", req["auth_key"],
              req["id"], cloud="pocketstack-alt")
    alt = cloud.cli("volume", "list", "-f", "json", cloud="pocketstack-alt")
    assert vol["id"] in [v["ID"] for v in alt]
    demo = cloud.cli("volume", "list", "-f", "json", cloud="pocketstack")
    assert vol["id"] not in [v["ID"] for v in demo]
    cloud.cli("volume", "delete", vol["id"], cloud="pocketstack-alt")


def test_services_zones_quota(cloud):
    services = cloud.cli("volume", "service", "list", "-f", "json")
    assert {s["Binary"] for s in services} == {"cinder-scheduler", "cinder-volume",
                                               "cinder-backup"}
    assert all(s["State"] == "up" for s in services)
    zones = cloud.cli("availability", "zone", "list", "--volume", "-f", "json")
    assert [z["Zone Name"] for z in zones] == ["nova"]
    quota = cloud.cli("quota", "show", "--volume", "-f", "json")
    limits = {r["Resource"]: r["Limit"] for r in quota}
    assert limits["volumes"] == 10 and limits["gigabytes"] == 1000
    assert limits["snapshots"] == 10 and limits["backups"] == 10


def test_member_cannot_manage_types(cloud):
    proc = cloud.cli("volume", "type", "create", _name("nope"), cloud="pocketstack",
                     check=False)
    assert proc.returncode != 0 and "403" in proc.stderr


def test_server_add_volume_and_boot_from_volume(cloud):
    """The compute side of the Done-when: `server add volume` and `server create --volume`."""
    root = cloud.cli("volume", "create", "--size", "1", "--bootable", _name("root"),
                     "-f", "json")
    data = cloud.cli("volume", "create", "--size", "1", _name("data"), "-f", "json")
    srv = cloud.cli("server", "create", "--flavor", "1", "--volume", root["id"], "--nic",
                    "none", "--wait", _name("bfv"), "-f", "json")
    assert srv["status"] == "ACTIVE"
    shown = cloud.cli("volume", "show", root["id"], "-f", "json")
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == srv["id"]
    cloud.cli("server", "add", "volume", srv["id"], data["id"])
    shown = wait_resource(cloud, "volumes", data["id"], "in-use")
    assert shown["attachments"][0]["server_id"] == srv["id"]
    proc = cloud.cli("volume", "delete", data["id"], check=False)
    assert proc.returncode != 0  # attached volumes are not deleted
    cloud.cli("server", "remove", "volume", srv["id"], data["id"])
    wait_resource(cloud, "volumes", data["id"])
    cloud.cli("server", "delete", "--wait", srv["id"])
    wait_resource(cloud, "volumes", root["id"])  # kept: not delete_on_termination
    cloud.cli("volume", "delete", root["id"], data["id"])
