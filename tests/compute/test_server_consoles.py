"""Console output, remote consoles and tokens, changePassword, trigger_crash_dump,
diagnostics, topology, hypervisor search/servers, quota classes and per-user quotas."""

from __future__ import annotations

from typing import Any

from compute_helpers import api, boot, name, wait


def _action(cloud: Any, sid: str, body: Any, version: str | None = None,
            user: str = "pocketstack-admin") -> Any:
    return api(cloud, "POST", f"/servers/{sid}/action", user, version, json=body)


def test_console_log_is_the_guests_own(cloud: Any) -> None:
    sid = boot(cloud, name("console"))
    wait(cloud, sid, "ACTIVE")
    log = cloud.cli("console", "log", "show", sid)
    assert "Booting" in log and "login:" in log
    cloud.cli("server", "reboot", "--hard", "--wait", sid)
    wait(cloud, sid, "ACTIVE")
    assert "reboot: Restarting system (hard)" in cloud.cli("console", "log", "show", sid)
    r = _action(cloud, sid, {"os-getConsoleOutput": {"length": -1}})
    assert r.status_code == 200 and "Booting" in r.json()["output"]
    full = r.json()["output"]
    # Nova's tail: the last N items of the log split on newlines (the final "" counts)
    r = _action(cloud, sid, {"os-getConsoleOutput": {"length": "3"}})
    assert r.status_code == 200
    assert r.json()["output"] == "\n".join(full.split("\n")[-3:])
    assert len(r.json()["output"].split("\n")) == 3
    three = cloud.cli("console", "log", "show", "--lines", "3", sid)
    assert three.strip().splitlines() == full.strip().splitlines()[-2:]
    for bad in ("abc", -2, True):
        r = _action(cloud, sid, {"os-getConsoleOutput": {"length": bad}})
        assert r.status_code == 400, (bad, r.text)
    r = _action(cloud, sid, {"os-getConsoleOutput": {}}, user="pocketstack-alt")
    assert r.status_code == 404
    # password changes and crash dumps show in the log
    cloud.cli("server", "set", "--password", "n3w-pass", sid)
    assert "administrator password changed" in cloud.cli("console", "log", "show", sid)
    r = _action(cloud, sid, {"changePassword": {}})
    assert r.status_code == 400
    r = _action(cloud, sid, {"trigger_crash_dump": None}, version="2.16")
    assert r.status_code == 404
    cloud.cli("--os-compute-api-version", "2.17", "server", "dump", "create", sid)
    assert "Kernel panic" in wait_log(cloud, sid, "Kernel panic")
    cloud.cli("server", "stop", sid)
    wait(cloud, sid, "SHUTOFF")
    r = _action(cloud, sid, {"trigger_crash_dump": None}, version="2.17")
    assert r.status_code == 409
    r = _action(cloud, sid, {"changePassword": {"adminPass": "x"}})
    assert r.status_code == 409
    api(cloud, "DELETE", f"/servers/{sid}")


def wait_log(cloud: Any, sid: str, text: str) -> str:
    import time

    for _ in range(100):
        out = cloud.cli("console", "log", "show", sid)
        if text in out:
            return out
        time.sleep(0.2)
    return out


def test_remote_consoles_and_tokens(cloud: Any) -> None:
    sid = boot(cloud, name("vnc"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    out = cloud.cli("console", "url", "show", "-f", "json", sid, cloud="pocketstack")
    assert out["type"] == "novnc" and "?path=%3Ftoken%3D" in out["url"]
    token = out["url"].split("token%3D")[1]  # noVNC's ?path=%3Ftoken%3D...
    r = api(cloud, "GET", f"/os-console-auth-tokens/{token}", version="2.31")
    assert r.status_code == 200, r.text
    assert r.json()["console"]["instance_uuid"] == sid
    assert r.json()["console"]["internal_access_path"] == f"/vnc/{sid}"
    r = api(cloud, "GET", f"/os-console-auth-tokens/{token}", version="2.30")
    assert r.status_code == 400  # only RDP tokens before 2.31
    r = api(cloud, "GET", f"/os-console-auth-tokens/{token}", "pocketstack", "2.31")
    assert r.status_code == 403
    r = api(cloud, "GET", "/os-console-auth-tokens/nope", version="2.31")
    assert r.status_code == 404
    # SPICE is disabled by default ([spice] enabled: pocketstack serves no SPICE proxy)
    proc = cloud.cli("console", "url", "show", "--spice", sid, check=False)
    assert proc.returncode != 0 and "Unavailable console type" in proc.stderr
    r = api(cloud, "POST", f"/servers/{sid}/remote-consoles", version="2.6",
            json={"remote_console": {"protocol": "vnc", "type": "spice-html5"}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/remote-consoles", version="2.6",
            json={"remote_console": {"protocol": "telnet", "type": "x"}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/remote-consoles", version="2.5",
            json={"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert r.status_code in (404, 405)
    # the legacy actions (up to 2.5)
    r = _action(cloud, sid, {"os-getVNCConsole": {"type": "novnc"}}, version="2.1")
    assert r.status_code == 200 and r.json()["console"]["type"] == "novnc"
    r = _action(cloud, sid, {"os-getVNCConsole": {"type": "novnc"}}, version="2.6")
    assert r.status_code == 404
    r = _action(cloud, sid, {"os-getSerialConsole": {"type": "serial"}}, version="2.1")
    assert r.status_code == 200 and r.json()["console"]["url"].startswith("ws://")
    r = _action(cloud, sid, {"os-getSPICEConsole": {"type": "spice-html5"}}, version="2.1")
    assert r.status_code == 400
    api(cloud, "DELETE", f"/servers/{sid}", "pocketstack")


def test_diagnostics_topology_hypervisor_servers(cloud: Any) -> None:
    sid = boot(cloud, name("diag"))
    body = wait(cloud, sid, "ACTIVE")
    host = body["OS-EXT-SRV-ATTR:host"]
    r = api(cloud, "GET", f"/servers/{sid}/diagnostics", version="2.48")
    assert r.status_code == 200, r.text
    diag = r.json()
    assert diag["state"] == "running" and diag["driver"] == "libvirt"  # Nova's enum
    assert diag["num_cpus"] == len(diag["cpu_details"]) and diag["memory_details"]["maximum"]
    r = api(cloud, "GET", f"/servers/{sid}/diagnostics", version="2.1")
    assert r.status_code == 200 and "memory" in r.json()
    r = api(cloud, "GET", f"/servers/{sid}/diagnostics", "pocketstack", "2.48")
    assert r.status_code in (403, 404)
    r = api(cloud, "GET", f"/servers/{sid}/topology", version="2.78")
    assert r.status_code == 200 and r.json() == {"nodes": [], "pagesize_kb": None}
    r = api(cloud, "GET", f"/servers/{sid}/topology", version="2.77")
    assert r.status_code == 404
    r = api(cloud, "GET", f"/os-hypervisors/{host}/servers", version="2.1")
    assert r.status_code == 200, r.text
    hyps = r.json()["hypervisors"]
    assert sid in [s["uuid"] for h in hyps for s in h.get("servers", [])]
    r = api(cloud, "GET", "/os-hypervisors/fake-host/search", version="2.1")
    assert r.status_code == 200 and len(r.json()["hypervisors"]) >= 1
    r = api(cloud, "GET", "/os-hypervisors/no-such/search", version="2.1")
    assert r.status_code == 404
    r = api(cloud, "GET", "/os-hypervisors/fake-host/search", version="2.53")
    assert r.status_code == 404
    out = cloud.cli("--os-compute-api-version", "2.1", "hypervisor", "list",
                    "--matching", "fake-host", "-f", "json")
    assert out
    api(cloud, "DELETE", f"/servers/{sid}")


def test_quota_classes(cloud: Any) -> None:
    cloud.cli("quota", "set", "--class", "--instances", "11", "default")
    r = api(cloud, "GET", "/os-quota-class-sets/default", version="2.57")
    assert r.json()["quota_class_set"]["instances"] == 11
    cloud.cli("quota", "set", "--class", "--instances", "10", "default")
    r = api(cloud, "GET", "/os-quota-class-sets/default", version="2.57")
    assert r.status_code == 200
    qs = r.json()["quota_class_set"]
    assert qs["id"] == "default" and qs["instances"] == 10 and "injected_files" not in qs
    r = api(cloud, "GET", "/os-quota-class-sets/default", version="2.1")
    assert "floating_ips" in r.json()["quota_class_set"]
    assert "server_groups" not in r.json()["quota_class_set"]
    r = api(cloud, "PUT", "/os-quota-class-sets/default", version="2.1",
            json={"quota_class_set": {"metadata_items": 129, "floating_ips": 11}})
    assert r.status_code == 200, r.text
    assert r.json()["quota_class_set"]["metadata_items"] == 129
    assert r.json()["quota_class_set"]["floating_ips"] == 11
    # the default class is every project's default
    r = api(cloud, "GET", "/os-quota-sets/anyproject/defaults")
    assert r.json()["quota_set"]["metadata_items"] == 129
    r = api(cloud, "PUT", "/os-quota-class-sets/default", version="2.57",
            json={"quota_class_set": {"floating_ips": 3}})
    assert r.status_code == 400
    r = api(cloud, "PUT", "/os-quota-class-sets/default", "pocketstack",
            json={"quota_class_set": {"metadata_items": 1}})
    assert r.status_code == 403
    r = api(cloud, "PUT", "/os-quota-class-sets/default",
            json={"quota_class_set": {"metadata_items": -5}})
    assert r.status_code == 400
    api(cloud, "PUT", "/os-quota-class-sets/default",
        json={"quota_class_set": {"metadata_items": 128}})


def test_per_user_quotas(cloud: Any) -> None:
    alt = cloud.conn("pocketstack-alt")
    project, user = alt.current_project_id, alt.current_user_id
    r = api(cloud, "PUT", f"/os-quota-sets/{project}?user_id={user}",
            json={"quota_set": {"instances": 1, "cores": 100000}})
    assert r.status_code == 400  # more than the project's own limit
    r = api(cloud, "PUT", f"/os-quota-sets/{project}?user_id={user}",
            json={"quota_set": {"instances": 1}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 1
    r = api(cloud, "GET", f"/os-quota-sets/{project}?user_id={user}")
    assert r.json()["quota_set"]["instances"] == 1
    r = api(cloud, "GET", f"/os-quota-sets/{project}")
    assert r.json()["quota_set"]["instances"] == 10  # the project keeps its own
    sid = boot(cloud, name("pu"), user="pocketstack-alt")
    r = api(cloud, "POST", "/servers", "pocketstack-alt", "2.79", json={"server": {
        "name": name("pu2"), "flavorRef": "1", "imageRef": cloud.tiny_image(),
        "networks": "none"}})
    assert r.status_code == 403 and "instances" in r.text
    r = api(cloud, "GET", f"/os-quota-sets/{project}/detail?user_id={user}")
    assert r.json()["quota_set"]["instances"] == {"limit": 1, "in_use": 1, "reserved": 0}
    r = api(cloud, "DELETE", f"/os-quota-sets/{project}?user_id={user}")
    assert r.status_code == 202
    r = api(cloud, "GET", f"/os-quota-sets/{project}?user_id={user}")
    assert r.json()["quota_set"]["instances"] == 10
    api(cloud, "DELETE", f"/servers/{sid}", "pocketstack-alt")
