"""Observability of a running cloud: per-service logs, the notification log, gauges on
/metrics, the SIGUSR2 status report; and the log format's instance context."""

from __future__ import annotations

import glob
import json
import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops_helpers import api, boot, volume, wait  # noqa: E402


def _until(fn, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    return fn()


def _notifications(data_dir: str) -> list[dict]:
    path = os.path.join(data_dir, "logs", "notifications.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_instance_and_volume_notifications(cloud):
    sid = boot(cloud)
    wait(cloud, sid)
    assert api(cloud, "DELETE", 8774, f"/v2.1/servers/{sid}").status_code == 204
    vid = volume(cloud)

    def found():
        events = {(n["event_type"], n["payload"].get("nova_object.data", {}).get("uuid") or
                   n["payload"].get("cinder_object.data", {}).get("volume_id"))
                  for n in _notifications(cloud.data_dir)}
        wanted = {("instance.create.end", sid), ("instance.delete.end", sid),
                  ("volume.create.end", vid)}
        return wanted <= events

    assert _until(found), _notifications(cloud.data_dir)
    note = next(n for n in _notifications(cloud.data_dir)
                if n["event_type"] == "instance.create.end"
                and n["payload"]["nova_object.data"]["uuid"] == sid)
    assert set(note) == {"event_type", "payload", "publisher_id", "timestamp", "message_id",
                         "priority"}
    assert note["priority"] == "INFO" and note["publisher_id"].startswith("nova-compute:")
    assert note["payload"]["nova_object.name"] == "InstanceActionPayload"
    assert note["payload"]["nova_object.data"]["state"] == "active"
    # exactly one create.end per server
    assert sum(1 for n in _notifications(cloud.data_dir)
               if n["event_type"] == "instance.create.end"
               and n["payload"]["nova_object.data"]["uuid"] == sid) == 1


def test_log_file_per_service(cloud):
    boot(cloud)  # something for compute to log
    logs = os.path.join(cloud.data_dir, "logs")
    assert os.path.exists(os.path.join(logs, "pocketstack.log"))
    files = _until(lambda: {os.path.basename(p) for p in glob.glob(os.path.join(logs, "*.log"))}
                   >= {"pocketstack.log", "identity.log"} and
                   {os.path.basename(p) for p in glob.glob(os.path.join(logs, "*.log"))})
    assert files
    for name in files - {"pocketstack.log", "notifications.log"}:
        service = name[:-4]
        with open(os.path.join(logs, name), encoding="utf-8") as f:
            lines = [line for line in f if line[:4].isdigit()]
        assert lines and all(f" pocketstack.{service}" in line for line in lines), name


def test_metrics_gauges(cloud):
    sid = boot(cloud)
    wait(cloud, sid)
    import requests

    text = requests.get(cloud.url(8774, "/metrics"), timeout=10).text
    assert 'pocketstack_instances{state="active"}' in text
    assert 'pocketstack_compute_hosts{state="up"} 2.0' in text
    assert 'pocketstack_compute_hosts{state="down"} 0.0' in text
    assert 'pocketstack_bus_pending_tasks{bus="local"}' in text


def test_sigusr2_status_report(cloud):
    before = set(glob.glob(os.path.join(cloud.data_dir, "logs", "status-*.txt")))
    cloud.proc.send_signal(signal.SIGUSR2)
    new = _until(lambda: set(glob.glob(os.path.join(cloud.data_dir, "logs", "status-*.txt")))
                 - before)
    assert len(new) == 1
    path = new.pop()
    text = _until(lambda: open(path, encoding="utf-8").read().endswith("\n") and
                  "==== configuration ====" in open(path, encoding="utf-8").read() and
                  open(path, encoding="utf-8").read())
    assert "==== threads ====" in text and "compute-heartbeat" in text
    assert "pending tasks:" in text
    assert "[DEFAULT] admin_password = " in text
    line = next(x for x in text.splitlines() if x.startswith("[DEFAULT] admin_password"))
    with open(os.path.join(cloud.data_dir, "admin-password"), encoding="utf-8") as f:
        assert f.read().strip() not in line
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert cloud.proc.poll() is None  # still serving
    assert api(cloud, "GET", 8774, "/v2.1/servers").status_code == 200


def test_log_lines_carry_the_instance(tmp_path):
    from pocketstack import log

    log.setup(str(tmp_path), stderr=False)
    try:
        with log.instance("0f0f0f0f-1111-2222-3333-444444444444"):
            logging.getLogger("pocketstack.compute.tasks").info("spawned")
        logging.getLogger("pocketstack.compute.tasks").info("no instance here")
        logging.getLogger("pocketstack.volume").info("volume line")
    finally:
        log.setup(None, stderr=False)
    with open(tmp_path / "logs" / "compute.log", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].endswith("[-] [instance: 0f0f0f0f-1111-2222-3333-444444444444] spawned")
    assert "[instance:" not in lines[1]
    assert "volume line" in (tmp_path / "logs" / "volume.log").read_text()
    assert "volume line" not in (tmp_path / "logs" / "compute.log").read_text()
    assert len((tmp_path / "logs" / "pocketstack.log").read_text().splitlines()) == 3
