"""Volumes, their files and quotas survive a restart of the cloud."""

from __future__ import annotations

import os


def test_volumes_survive_restart(fresh_cloud):
    fresh_cloud.start()
    vol = fresh_cloud.cli("volume", "create", "--size", "1", "keep", "-f", "json")
    snap = fresh_cloud.cli("volume", "snapshot", "create", "--volume", "keep", "ksnap",
                           "-f", "json")
    path = os.path.join(fresh_cloud.data_dir, "volumes", f"volume-{vol['id']}")
    with open(path, "r+b") as f:
        f.write(b"persist")
    assert fresh_cloud.stop() == 0
    fresh_cloud.start()
    shown = fresh_cloud.cli("volume", "show", "keep", "-f", "json")
    assert shown["id"] == vol["id"] and shown["status"] == "available"
    assert fresh_cloud.cli("volume", "snapshot", "show", snap["id"], "-f", "json")[
        "status"] == "available"
    types = fresh_cloud.cli("volume", "type", "list", "-f", "json")
    assert [t["Name"] for t in types].count("__DEFAULT__") == 1
    with open(path, "rb") as f:
        assert f.read(7) == b"persist"
    fresh_cloud.cli("volume", "delete", "--purge", "keep")
    assert os.listdir(os.path.join(fresh_cloud.data_dir, "volumes")) == []
