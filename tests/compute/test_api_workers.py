"""``osapi_compute_workers = 2``: the compute API served by two worker processes over the
shared database, their tasks run by the main process; the same behaviour as one process
(builds, driver calls, token revocation, scheduler refreshes, request ids in the logs)."""

from __future__ import annotations

import os
import signal
import time

import requests

HEADERS = {"OpenStack-API-Version": "compute 2.79"}


def _boot(wc, name: str) -> dict:
    r = requests.post(wc.url(8774, "/v2.1/servers"), timeout=30,
                      headers={**HEADERS, "X-Auth-Token": wc.token("pocketstack")},
                      json={"server": {"name": name, "flavorRef": "1", "networks": "none",
                                       "imageRef": wc.tiny_image()}})
    assert r.status_code == 202, r.text
    return {"id": r.json()["server"]["id"],
            "request_id": r.headers["x-openstack-request-id"]}


def _wait(conn, server_id: str, status: str) -> object:
    return conn.compute.wait_for_server(conn.compute.get_server(server_id), status=status,
                                        failures=["ERROR"] if status != "ERROR" else [],
                                        wait=60, interval=0.2)


def test_api_workers(fresh_cloud, tmp_path):
    conf = tmp_path / "pocketstack.conf"
    conf.write_text("[DEFAULT]\nosapi_compute_workers = 2\n[fake]\nhosts = 2\n")
    fresh_cloud.config = str(conf)
    fresh_cloud.start()
    assert fresh_cloud.proc is not None
    assert len(fresh_cloud.child_processes("pocketstack.compute.apiworker")) == 2
    builds_in_the_main_process(fresh_cloud)
    revoked_tokens_refused_by_every_worker(fresh_cloud)
    scheduler_sees_disabled_services_at_once(fresh_cloud)
    a_dead_worker_is_replaced(fresh_cloud)


def builds_in_the_main_process(wc):
    conn = wc.conn("pocketstack")
    made = _boot(wc, "w-vm")
    server = _wait(conn, made["id"], "ACTIVE")
    assert server.status == "ACTIVE"
    # a driver call from a worker, answered by the main process's driver
    out = wc.cli("console", "log", "show", made["id"], cloud="pocketstack")
    assert "Booting w-vm" in out
    conn.compute.delete_server(made["id"])
    conn.compute.wait_for_delete(conn.compute.get_server(made["id"]), interval=0.2, wait=60)
    # the POST's request id follows the build into the main process's log lines
    with open(os.path.join(wc.data_dir, "logs", "compute.log"), encoding="utf-8") as f:
        lines = [line for line in f if made["request_id"] in line]
    pids = {line.split()[2] for line in lines}
    assert str(wc.proc.pid) in pids and len(pids) >= 2, lines


def revoked_tokens_refused_by_every_worker(wc):
    token = wc.conn("pocketstack").auth_token
    url = wc.url(8774, "/v2.1/servers")
    for _ in range(8):  # new connections: each worker gets some and caches the token
        assert requests.get(url, headers={"X-Auth-Token": token}, timeout=30).ok
    r = requests.delete(wc.url(5000, "/v3/auth/tokens"), timeout=30,
                        headers={"X-Auth-Token": wc.token("pocketstack-admin"),
                                 "X-Subject-Token": token})
    assert r.status_code == 204, r.text
    for _ in range(8):
        r = requests.get(url, headers={"X-Auth-Token": token}, timeout=30)
        assert r.status_code == 401, r.text


def scheduler_sees_disabled_services_at_once(wc):
    conn = wc.conn("pocketstack")
    hosts = [s["Host"] for s in wc.cli("compute", "service", "list", "--service",
                                       "nova-compute", "-f", "json")]
    assert len(hosts) == 2
    for host in hosts:
        wc.cli("compute", "service", "set", "--disable", host, "nova-compute")
    # the main process reported it to Placement (COMPUTE_STATUS_DISABLED)
    headers = {"X-Auth-Token": wc.token(), "OpenStack-API-Version": "placement 1.6"}
    for rp in requests.get(wc.url(8778, "/resource_providers"), headers=headers,
                           timeout=30).json()["resource_providers"]:
        traits = requests.get(wc.url(8778, f"/resource_providers/{rp['uuid']}/traits"),
                              headers=headers, timeout=30).json()["traits"]
        assert "COMPUTE_STATUS_DISABLED" in traits, (rp["name"], traits)
    made = _boot(wc, "w-none")
    server = _wait(conn, made["id"], "ERROR")
    assert "No valid host" in server.fault["message"]
    for host in hosts:
        wc.cli("compute", "service", "set", "--enable", host, "nova-compute")
    made = _boot(wc, "w-again")
    assert _wait(conn, made["id"], "ACTIVE").status == "ACTIVE"


def a_dead_worker_is_replaced(wc):
    workers = "pocketstack.compute.apiworker"
    before = wc.child_processes(workers)
    os.kill(before[0], signal.SIGKILL)
    url = wc.url(8774, "/v2.1/flavors")
    for _ in range(5):  # the other worker answers meanwhile
        assert requests.get(url, headers={"X-Auth-Token": wc.token()}, timeout=30).ok
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = wc.child_processes(workers)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no worker replaced {before[0]}: {now}")
    assert requests.get(url, headers={"X-Auth-Token": wc.token()}, timeout=30).ok
