"""`pocketstack manage` operator commands on a running cloud's data dir (and a stopped one)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops_helpers import api, boot, long_ago, manage, server, sql, volume, wait  # noqa: E402


def _rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ")][1:]


def test_service_list_disable_force_down_remove(cloud):
    d = cloud.data_dir
    rows = {(r[0], r[1]): r for r in _rows(manage(d, "service", "list").stdout)}
    assert rows[("nova-compute", "fake-host-1")][3:5] == ["enabled", ":-)"]
    assert any(b == "cinder-volume" and rows[(b, h)][4] == ":-)" for b, h in rows)
    assert rows[("nova-api", cloud.addr)][4] == ":-)"
    manage(d, "service", "disable", "nova-compute", "fake-host-2", "--reason", "maintenance")
    try:
        svc = next(s for s in cloud.conn().compute.services() if s.host == "fake-host-2"
                   and s.binary == "nova-compute")
        assert svc.status == "disabled" and svc.disabled_reason == "maintenance"
    finally:
        manage(d, "service", "enable", "nova-compute", "fake-host-2")
    manage(d, "service", "force-down", "nova-compute", "fake-host-2")
    try:
        rows = {(r[0], r[1]): r for r in _rows(manage(d, "service", "list").stdout)}
        assert rows[("nova-compute", "fake-host-2")][4] == "XXX"
        svc = next(s for s in cloud.conn().compute.services() if s.host == "fake-host-2"
                   and s.binary == "nova-compute")
        assert svc.state == "down"
    finally:
        manage(d, "service", "force-down", "nova-compute", "fake-host-2", "--unset")
    proc = manage(d, "service", "remove", "nova-compute", "fake-host-1", check=False)
    assert proc.returncode == 1 and "is up" in proc.stderr
    proc = manage(d, "service", "remove", "cinder-api", cloud.addr, check=False)
    assert proc.returncode == 1


def test_quota_check_is_clean_with_counted_quotas(cloud):
    sid = boot(cloud, user="pocketstack")
    wait(cloud, sid)
    volume(cloud)
    out = manage(cloud.data_dir, "quota", "check").stdout
    assert "quota usage is clean" in out
    rows = _rows(out)
    assert rows and all(r[5] == "yes" for r in rows)
    project = server(cloud, sid)["tenant_id"]
    out = manage(cloud.data_dir, "quota", "usage-refresh", "--project", project,
                 "--resource", "instances").stdout
    (row,) = _rows(out)
    assert row[:3] == ["compute", project, "instances"] and row[3] == row[4] != "0"


def test_server_and_volume_reset_state(cloud):
    d = cloud.data_dir
    sid = boot(cloud)
    wait(cloud, sid)
    manage(d, "server", "reset-state", sid)
    assert server(cloud, sid)["status"] == "ERROR"
    manage(d, "server", "reset-state", sid, "--active")
    assert server(cloud, sid)["status"] == "ACTIVE"
    vid = volume(cloud)
    manage(d, "volume", "reset-state", vid, "--state", "error")
    assert cloud.conn().block_storage.get_volume(vid).status == "error"
    assert manage(d, "volume", "reset-state", vid, "--state", "bogus",
                  check=False).returncode == 1
    assert os.path.exists(os.path.join(d, "volumes", f"volume-{vid}"))
    manage(d, "volume", "force-delete", vid)
    assert cloud.conn().block_storage.find_volume(vid) is None
    assert not os.path.exists(os.path.join(d, "volumes", f"volume-{vid}"))


def test_floating_ip_force_disassociate(cloud):
    conn = cloud.conn("pocketstack")
    private = conn.network.find_network("private")
    port = conn.network.create_port(network_id=private.id)
    public = cloud.conn().network.find_network("public")
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    assert fip.port_id == port.id
    assert manage(cloud.data_dir, "floating-ip", "disassociate", fip.id,
                  check=False).returncode == 1  # needs --force
    manage(cloud.data_dir, "floating-ip", "disassociate", "--force", fip.floating_ip_address)
    fip = conn.network.get_ip(fip.id)
    assert fip.port_id is None and fip.fixed_ip_address is None and fip.status == "DOWN"


def test_archive_and_purge_deleted_rows(fresh_cloud):
    d = fresh_cloud.data_dir
    fresh_cloud.start()
    ids = [boot(fresh_cloud) for _ in range(3)]
    for sid in ids:
        wait(fresh_cloud, sid)
        assert api(fresh_cloud, "DELETE", 8774, f"/v2.1/servers/{sid}").status_code == 204
    keep = boot(fresh_cloud)
    wait(fresh_cloud, keep)
    fresh_cloud.stop()
    assert sql(d, "SELECT count(*) FROM compute_instance WHERE deleted=1") == [(3,)]
    sql(d, "UPDATE compute_instance SET terminated_at=? WHERE uuid=?", long_ago(48), ids[0])
    out = manage(d, "db", "archive-deleted-rows", "--before", "1d").stdout
    assert ["compute_instance", "1"] in _rows(out)
    assert sql(d, "SELECT uuid FROM shadow_compute_instance") == [(ids[0],)]
    assert sql(d, "SELECT count(*) FROM shadow_compute_instance_action "
               "WHERE instance_uuid=?", ids[0])[0][0] >= 1
    manage(d, "db", "archive-deleted-rows", "--max-rows", "1")
    assert sql(d, "SELECT count(*) FROM compute_instance WHERE deleted=1") == [(1,)]
    manage(d, "db", "archive-deleted-rows")
    assert sql(d, "SELECT count(*) FROM compute_instance") == [(1,)]  # the live one
    assert manage(d, "db", "purge", check=False).returncode == 1  # needs --before or --all
    out = manage(d, "db", "purge", "--before", "1d").stdout
    assert ["shadow_compute_instance", "1"] in _rows(out)
    manage(d, "db", "purge", "--all")
    assert sql(d, "SELECT count(*) FROM shadow_compute_instance") == [(0,)]
    assert sql(d, "SELECT count(*) FROM shadow_compute_instance_action") == [(0,)]
    # the cloud still works on the archived database, with the live server
    fresh_cloud.start()
    assert server(fresh_cloud, keep)["status"] == "ACTIVE"
    assert api(fresh_cloud, "GET", 8774, f"/v2.1/servers/{ids[1]}").status_code == 404


def test_logs_errors_with_request_ids(fresh_cloud):
    d = fresh_cloud.data_dir
    os.makedirs(os.path.join(d, "logs"))
    with open(os.path.join(d, "logs", "pocketstack.log"), "w") as f:
        f.write("2020-01-01 10:00:00.000 1 ERROR pocketstack.old [-] old failure\n"
                "2099-01-01 10:00:00.000 1 INFO pocketstack.compute [-] fine\n"
                "2099-01-01 10:00:01.000 1 ERROR pocketstack.compute "
                "[req-0b0b0b0b-1111-2222-3333-444444444444 u p] build failed\n"
                "Traceback (most recent call last):\n"
                "  File \"x.py\", line 1, in <module>\n"
                "RuntimeError: boom\n"
                "2099-01-01 10:00:02.000 1 INFO pocketstack.compute [-] next\n")
    out = manage(d, "logs", "errors").stdout
    assert "2 error(s)" in out and "req-0b0b0b0b-1111-2222-3333-444444444444" in out
    assert "    RuntimeError: boom" in out and "next" not in out
    out = manage(d, "logs", "errors", "--since", "2021-01-01").stdout
    assert "1 error(s)" in out and "old failure" not in out


def test_config_list_masks_secrets(fresh_cloud):
    d = fresh_cloud.data_dir
    os.makedirs(d)
    with open(os.path.join(d, "pocketstack.conf"), "w") as f:
        f.write("[DEFAULT]\nadmin_password = hunter2\n[doctor]\ndeleted_rows_max = 5\n")
    out = manage(d, "config", "list").stdout
    assert "[DEFAULT] admin_password = ****" in out and "hunter2" not in out
    assert "[doctor] deleted_rows_max = 5" in out and "[fake] hosts = 2    (default)" in out
