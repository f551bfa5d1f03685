"""The doctor finds each planted failure, and its fix command repairs it."""

from __future__ import annotations

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops_helpers import (api, boot, doctor, long_ago, manage, run_fix,  # noqa: E402
                         server, sql, volume, wait)


def _by_check(findings: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in findings:
        out.setdefault(f["check"], []).append(f)
    return out


def _bad(findings: list[dict], check: str) -> list[dict]:
    return [f for f in findings if f["check"] == check and f["status"] != "OK"]


def test_planted_failures_are_found_and_fixed(fresh_cloud):
    data = fresh_cloud.data_dir
    os.makedirs(data, mode=0o700, exist_ok=True)
    with open(os.path.join(data, "pocketstack.conf"), "w") as f:
        f.write("[doctor]\nconsole_log_max_bytes = 1000\ndeleted_rows_max = 0\n")
    os.chmod(os.path.join(data, "pocketstack.conf"), 0o600)
    fresh_cloud.start()

    # a server stuck rebooting for hours
    stuck = boot(fresh_cloud)
    wait(fresh_cloud, stuck)
    sql(data, "UPDATE compute_instance SET task_state='rebooting', updated_at=? WHERE uuid=?",
        long_ago(), stuck)
    # a deleted server (one soft-deleted row, above the threshold of 0)
    gone = boot(fresh_cloud)
    wait(fresh_cloud, gone)
    assert api(fresh_cloud, "DELETE", 8774, f"/v2.1/servers/{gone}").status_code == 204
    # a host whose agent stopped heartbeating
    sql(data, "INSERT INTO compute_service (uuid, host, binary, topic, zone, disabled, "
        "forced_down, last_seen_up, created_at) VALUES (?, 'fake-host-9', 'nova-compute', "
        "'compute', 'nova', 0, 0, ?, ?)", str(uuid.uuid4()), long_ago(), long_ago())
    # a volume left in deleting, another attached to a server that does not exist
    deleting, attached = volume(fresh_cloud), volume(fresh_cloud)
    sql(data, "UPDATE volume_volume SET status='deleting', updated_at=? WHERE id=?",
        long_ago(), deleting)
    sql(data, "UPDATE volume_volume SET status='in-use', attach_status='attached' WHERE id=?",
        attached)
    sql(data, "INSERT INTO volume_attachment (id, volume_id, instance_uuid, attach_status, "
        "attach_mode, created_at) VALUES (?, ?, ?, 'attached', 'rw', ?)", str(uuid.uuid4()),
        attached, str(uuid.uuid4()), long_ago())
    # a console log grown too big
    console = os.path.join(data, "instances", stuck, "console.log")
    os.makedirs(os.path.dirname(console), exist_ok=True)
    with open(console, "w") as f:
        f.write("x" * 5000)

    code, findings = doctor(data)
    assert code == 1, findings
    fixes = {f["check"]: [x["fix"] for x in _bad(findings, f["check"])] for f in findings}
    assert fixes["stuck servers"] == [f"pocketstack manage server reset-state {stuck} --active"]
    assert fixes["compute services"] == [
        "pocketstack manage service remove nova-compute fake-host-9"]
    assert fixes["stuck volumes"] == [f"pocketstack manage volume force-delete {deleting}"]
    assert fixes["volume attachments"] == [
        f"pocketstack manage volume reset-state {attached} --state available "
        "--attach-status detached"]
    assert fixes["console logs"] == [f"truncate -s 0 {console}"]
    assert fixes["deleted rows"] == ["pocketstack manage db archive-deleted-rows --purge"]
    assert _by_check(findings)["quota usage"][0]["status"] == "OK"  # counted: always clean

    for check in ("stuck servers", "compute services", "stuck volumes", "volume attachments",
                  "deleted rows"):
        for fix in fixes[check]:
            run_fix(data, fix)
    os.truncate(console, 0)

    code, findings = doctor(data)
    assert code == 0, [f for f in findings if f["status"] != "OK"]
    assert all(f["status"] == "OK" for f in findings), findings
    # the repairs are visible through the APIs
    assert server(fresh_cloud, stuck)["status"] == "ACTIVE"
    conn = fresh_cloud.conn()
    assert conn.block_storage.find_volume(deleting) is None
    vol = conn.block_storage.get_volume(attached)
    assert vol.status == "available" and not vol.attachments
    services = {(s.binary, s.host) for s in conn.compute.services()}
    assert ("nova-compute", "fake-host-9") not in services
    assert sql(data, "SELECT count(*) FROM compute_instance WHERE deleted=1") == [(0,)]
    assert sql(data, "SELECT count(*) FROM shadow_compute_instance") == [(0,)]  # purged


def test_renamed_host_is_found_and_rehomed(fresh_cloud):
    data = fresh_cloud.data_dir
    fresh_cloud.start()
    sid = boot(fresh_cloud)
    old = wait(fresh_cloud, sid)["OS-EXT-SRV-ATTR:host"]
    # placement knows the host as a resource provider holding the server's allocation
    pv = {"OpenStack-API-Version": "placement 1.28"}
    r = api(fresh_cloud, "GET", 8778, f"/resource_providers?name={old}", headers=pv)
    assert r.status_code == 200, r.text
    rp = r.json()["resource_providers"][0]["uuid"]
    r = api(fresh_cloud, "GET", 8778, f"/allocations/{sid}", headers=pv)
    assert list(r.json()["allocations"]) == [rp], r.text
    fresh_cloud.stop()

    # an operator renamed the machine and its service row, but nothing else
    sql(data, "UPDATE compute_service SET host='renamed-host' WHERE host=? AND "
        "binary='nova-compute'", old)
    code, findings = doctor(data)
    assert code == 1
    bad = _bad(findings, "server hosts")
    assert len(bad) == 1 and sid in bad[0]["detail"]
    assert bad[0]["fix"] == f"pocketstack manage host rename {old} renamed-host"
    out = run_fix(data, bad[0]["fix"]).stdout
    assert "1 server(s)" in out and "resource provider" in out
    assert not _bad(doctor(data)[1], "server hosts")
    assert sql(data, "SELECT host, node FROM compute_instance WHERE uuid=?", sid) == [
        ("renamed-host", "renamed-host")]
    assert sql(data, "SELECT hypervisor_hostname FROM compute_node WHERE host='renamed-host'"
               ) == [("renamed-host",)]

    fresh_cloud.start()
    r = api(fresh_cloud, "GET", 8778, f"/resource_providers/{rp}", headers=pv)
    assert r.json()["name"] == "renamed-host"
    r = api(fresh_cloud, "GET", 8778, f"/allocations/{sid}", headers=pv)
    assert list(r.json()["allocations"]) == [rp]
    assert server(fresh_cloud, sid)["OS-EXT-SRV-ATTR:host"] == "renamed-host"
    # a rename to a name already taken is refused
    proc = manage(data, "host", "rename", "renamed-host", "fake-host-1", check=False) \
        if old != "fake-host-1" else manage(data, "host", "rename", "renamed-host",
                                            "fake-host-2", check=False)
    assert proc.returncode == 1 and "both" in proc.stderr
