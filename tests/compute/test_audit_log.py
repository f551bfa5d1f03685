"""The instance usage audit: task logs written by the periodic task (run once with
``pocketstack manage compute usage-audit``), reported by /os-instance_usage_audit_log,
and the compute.instance.exists notifications it sends."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse

from compute_helpers import api, boot, name, wait

from pocketstack.compute.audit import last_completed_period


def _manage(cloud, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "manage", "--data-dir",
                           cloud.data_dir, "compute", "usage-audit", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _show(cloud, before: str) -> dict:
    r = api(cloud, "GET", f"/os-instance_usage_audit_log/{urllib.parse.quote(before)}")
    assert r.status_code == 200, r.text
    return r.json()["instance_usage_audit_log"]


def test_audit_periods_as_nova():
    t = dt.datetime(2026, 3, 15, 10, 30)
    assert last_completed_period("month", t) == (dt.datetime(2026, 2, 1),
                                                 dt.datetime(2026, 3, 1))
    assert last_completed_period("month@20", t) == (dt.datetime(2026, 1, 20),
                                                    dt.datetime(2026, 2, 20))
    assert last_completed_period("month", dt.datetime(2026, 1, 1)) == (
        dt.datetime(2025, 11, 1), dt.datetime(2025, 12, 1))
    assert last_completed_period("day@18", t) == (dt.datetime(2026, 3, 13, 18),
                                                  dt.datetime(2026, 3, 14, 18))
    assert last_completed_period("hour", t) == (dt.datetime(2026, 3, 15, 9),
                                                dt.datetime(2026, 3, 15, 10))
    assert last_completed_period("year@3", t) == (dt.datetime(2025, 3, 1),
                                                  dt.datetime(2026, 3, 1))


def test_usage_audit_task_logs_and_api(cloud):
    sid = boot(cloud, name("audit"))
    host = wait(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # the month holding now is the last completed one before the 2nd of the next month
    nxt = (now.replace(day=28) + dt.timedelta(days=5)).replace(day=2, hour=0, minute=0,
                                                              second=0, microsecond=0)
    before = nxt.strftime("%Y-%m-%d %H:%M:%S")
    log = _show(cloud, before)
    hosts = log["num_hosts"]
    assert hosts >= 1 and log["period_ending"] == nxt.replace(day=1).strftime(
        "%Y-%m-%d 00:00:00")
    assert (log["num_hosts_done"], log["num_hosts_not_run"], log["log"]) == (0, hosts, {})
    assert host in log["hosts_not_run"]
    assert log["overall_status"] == f"0 of {hosts} hosts done. 0 errors."

    out = _manage(cloud, "--before", nxt.isoformat(), "--host", host)
    assert f"{host}: DONE" in out
    log = _show(cloud, before)
    assert (log["num_hosts_done"], log["num_hosts_not_run"]) == (1, hosts - 1)
    entry = log["log"][host]
    assert entry["state"] == "DONE" and entry["errors"] == 0 and entry["instances"] >= 1
    assert entry["message"].startswith(f"Instance usage audit ran for host {host}, "
                                       f"{entry['instances']} instances in ")
    assert host not in log["hosts_not_run"]
    if hosts > 1:
        assert log["overall_status"] == f"1 of {hosts} hosts done. 0 errors."

    out = _manage(cloud, "--before", nxt.isoformat())  # every other host, each once
    assert f"{hosts - 1} host(s) audited, 1 already done" in out
    log = _show(cloud, before)
    assert log["num_hosts_done"] == hosts and log["hosts_not_run"] == []
    assert log["overall_status"] == "ALL hosts done. 0 errors."
    assert log["total_instances"] == sum(e["instances"] for e in log["log"].values())

    with open(os.path.join(cloud.data_dir, "logs", "notifications.log")) as f:
        events = [json.loads(line) for line in f]
    exists = [e for e in events if e["event_type"] == "compute.instance.exists"
              and e["payload"].get("instance_id") == sid]
    assert len(exists) == 1
    payload = exists[0]["payload"]
    assert payload["audit_period_ending"] == log["period_ending"]
    assert exists[0]["publisher_id"] == f"compute.{host}"
    assert any(e["event_type"] == "instance.exists" and
               e["payload"]["nova_object.data"]["uuid"] == sid for e in events)
    cloud.conn().compute.delete_server(sid)


def test_running_task_log_and_errors(cloud):
    begin, end = dt.datetime(2001, 1, 1), dt.datetime(2001, 2, 1)
    db = sqlite3.connect(os.path.join(cloud.data_dir, "pocketstack.db"), timeout=30)
    with db:
        db.execute("INSERT INTO compute_task_log (task_name, state, host, period_beginning,"
                   " period_ending, message, task_items, errors, created_at) VALUES "
                   "('instance_usage_audit', 'RUNNING', 'fake-host-1', ?, ?, "
                   "'Instance usage audit started...', 4, 1, ?)",
                   (f"{begin}.000000", f"{end}.000000", f"{begin}.000000"))
    db.close()
    log = _show(cloud, "2001-02-10 00:00:00.5")
    assert log["period_beginning"] == "2001-01-01 00:00:00"
    assert (log["num_hosts_running"], log["num_hosts_done"]) == (1, 0)
    assert (log["total_instances"], log["total_errors"]) == (4, 1)
    assert log["overall_status"] == f"0 of {log['num_hosts']} hosts done. 1 errors."
    assert log["log"]["fake-host-1"]["state"] == "RUNNING"


def test_audit_log_errors(cloud):
    r = api(cloud, "GET", "/os-instance_usage_audit_log")
    assert r.status_code == 200 and "overall_status" in r.json()["instance_usage_audit_logs"]
    for bad in ("invalid", "2026-03-15", "2026-03-15T10:00:00"):
        r = api(cloud, "GET", f"/os-instance_usage_audit_log/{bad}")
        assert r.status_code == 400 and "Invalid timestamp for date" in \
            r.json()["badRequest"]["message"]
    assert api(cloud, "GET", "/os-instance_usage_audit_log",
               user="pocketstack").status_code == 403
