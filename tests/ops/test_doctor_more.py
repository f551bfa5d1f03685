"""The doctor finds a volume kept busy by its snapshots, and a slow or hung metadata
service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops_helpers import doctor, sql, volume  # noqa: E402


def _bad(findings: list[dict], check: str) -> list[dict]:
    return [f for f in findings if f["check"] == check and f["status"] != "OK"]


def _family(pid: int) -> list[int]:
    """The cloud process and its children (the metadata workers)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [int(p) for p in out.split()]


def test_busy_volume_and_metadata_service(fresh_cloud):
    data = fresh_cloud.data_dir
    os.makedirs(data, mode=0o700, exist_ok=True)
    with open(os.path.join(data, "pocketstack.conf"), "w") as f:
        f.write("[doctor]\nmetadata_slow_seconds = 0.000001\n")
    os.chmod(os.path.join(data, "pocketstack.conf"), 0o600)
    fresh_cloud.start()

    # a volume an operator tried to delete while it still had a snapshot
    vid = volume(fresh_cloud)
    conn = fresh_cloud.conn()
    snap = conn.block_storage.create_snapshot(volume_id=vid, name="keep")
    conn.block_storage.wait_for_status(snap, "available", wait=30, interval=0.2)
    sql(data, "UPDATE volume_volume SET status='deleting' WHERE id=?", vid)

    code, findings = doctor(data)
    assert code == 1
    busy = _bad(findings, "stuck volumes")
    assert len(busy) == 1 and snap.id in busy[0]["detail"] and "snapshot" in busy[0]["detail"]
    assert busy[0]["fix"] == (f"openstack volume snapshot delete {snap.id} && "
                              f"pocketstack manage volume force-delete {vid}")
    slow = _bad(findings, "metadata service")
    assert len(slow) == 1 and slow[0]["status"] == "WARN" and "answered in" in slow[0]["detail"]

    # a hung cloud: the metadata port accepts nothing any more
    family = _family(fresh_cloud.proc.pid)
    for pid in family:
        os.kill(pid, signal.SIGSTOP)
    try:
        code, findings = doctor(data)
    finally:
        for pid in family:
            os.kill(pid, signal.SIGCONT)
    hung = _bad(findings, "metadata service")
    assert code == 1 and len(hung) == 1 and hung[0]["status"] == "FAIL", hung
    assert "unreachable" in hung[0]["detail"]
