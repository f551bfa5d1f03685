"""Moving servers: cold migration (+confirm/revert), live migration (+abort/force
complete), evacuate, the migrations APIs and Placement's migration-based allocations,
with the real CLI and raw HTTP for the 400/409s."""

from __future__ import annotations

import os
import time
from typing import Any

import requests
from compute_helpers import api, boot, name, wait

V = ("--os-compute-api-version", "2.79")


def host_of(cloud: Any, sid: str) -> str:
    return api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"][
        "OS-EXT-SRV-ATTR:host"]


def allocations(cloud: Any, consumer: str) -> dict[str, Any]:
    r = requests.get(cloud.url(8778, f"/allocations/{consumer}"),
                     headers={"X-Auth-Token": cloud.token(),
                              "OpenStack-API-Version": "placement 1.28"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["allocations"]


def provider_of(cloud: Any, host: str) -> str:
    hyps = cloud.conn().compute.get("/os-hypervisors/detail",
                                    microversion="2.53").json()["hypervisors"]
    return next(h["id"] for h in hyps if h["service"]["host"] == host)


def migrations(cloud: Any, sid: str, version: str = "2.79") -> list[dict[str, Any]]:
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}", version=version)
    assert r.status_code == 200, r.text
    return r.json()["migrations"]


def wait_migration(cloud: Any, sid: str, status: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = migrations(cloud, sid)
        if rows and rows[0]["status"] == status:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(f"migration of {sid} never reached {status}: {rows}")


def test_cold_migrate_and_confirm_moves_allocations(cloud):
    sid = boot(cloud, name("cold"))
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    cloud.cli(*V, "server", "migrate", "--wait", sid)
    server = wait(cloud, sid, "VERIFY_RESIZE")
    dest = server["OS-EXT-SRV-ATTR:host"]
    assert dest != source
    mig = migrations(cloud, sid)[0]
    assert (mig["migration_type"], mig["status"]) == ("migration", "finished")
    assert (mig["source_compute"], mig["dest_compute"]) == (source, dest)
    # Nova's migration-based allocations: the migration holds the source, the server
    # the destination
    assert set(allocations(cloud, mig["uuid"])) == {provider_of(cloud, source)}
    assert set(allocations(cloud, sid)) == {provider_of(cloud, dest)}
    listed = cloud.cli(*V, "server", "migration", "list", "--server", sid, "-f", "json")
    assert [m["Status"] for m in listed] == ["finished"]
    cloud.cli(*V, "server", "migration", "confirm", sid)
    wait(cloud, sid, "ACTIVE")
    assert host_of(cloud, sid) == dest
    assert migrations(cloud, sid)[0]["status"] == "confirmed"
    assert allocations(cloud, mig["uuid"]) == {}
    assert set(allocations(cloud, sid)) == {provider_of(cloud, dest)}
    api(cloud, "DELETE", f"/servers/{sid}")


def test_cold_migrate_to_host_and_revert(cloud):
    sid = boot(cloud, name("coldrev"))
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    hosts = [s["Host"] for s in cloud.cli("compute", "service", "list", "--service",
                                          "nova-compute", "-f", "json")]
    other = next(h for h in hosts if h != source)
    cloud.cli(*V, "server", "migrate", "--host", other, "--wait", sid)
    assert wait(cloud, sid, "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"] == other
    mig = migrations(cloud, sid)[0]
    cloud.cli(*V, "server", "migration", "revert", sid)
    wait(cloud, sid, "ACTIVE")
    assert host_of(cloud, sid) == source
    assert migrations(cloud, sid)[0]["status"] == "reverted"
    assert allocations(cloud, mig["uuid"]) == {}
    assert set(allocations(cloud, sid)) == {provider_of(cloud, source)}
    api(cloud, "DELETE", f"/servers/{sid}")


def test_migrate_errors(cloud):
    sid = boot(cloud, name("coldbad"))
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    act = f"/servers/{sid}/action"
    r = api(cloud, "POST", act, version="2.55", json={"migrate": {"host": "fake-host-1"}})
    assert r.status_code == 400, r.text
    r = api(cloud, "POST", act, version="2.56", json={"migrate": {"host": "nowhere"}})
    assert r.status_code == 400 and "badRequest" in r.json()
    r = api(cloud, "POST", act, version="2.56", json={"migrate": {"host": source}})
    assert r.status_code == 400
    r = api(cloud, "POST", act, "pocketstack", json={"migrate": None})
    assert r.status_code in (403, 404)
    r = api(cloud, "POST", act, version="2.56", json={"migrate": None})
    assert r.status_code == 202, r.text
    wait(cloud, sid, "VERIFY_RESIZE")
    r = api(cloud, "POST", act, json={"migrate": None})
    assert r.status_code == 409 and "conflictingRequest" in r.json()
    r = api(cloud, "POST", act, json={"os-migrateLive": {"host": None,
                                                          "block_migration": "auto"}},
            version="2.79")
    assert r.status_code == 409
    api(cloud, "POST", act, json={"revertResize": None})
    wait(cloud, sid, "ACTIVE")
    api(cloud, "DELETE", f"/servers/{sid}")


def test_live_migrate_cli(cloud):
    sid = boot(cloud, name("live"))
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    cloud.cli(*V, "server", "migrate", "--live-migration", "--wait", sid)
    server = wait(cloud, sid, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] != source
    mig = wait_migration(cloud, sid, "completed")
    assert mig["migration_type"] == "live-migration"
    assert "links" not in mig
    assert allocations(cloud, mig["uuid"]) == {}
    assert set(allocations(cloud, sid)) == {provider_of(cloud, server["OS-EXT-SRV-ATTR:host"])}
    api(cloud, "DELETE", f"/servers/{sid}")


def test_live_migration_abort_and_force_complete(cloud):
    sid = boot(cloud, name("slow"), server={"metadata": {"fake_migrate_seconds": "60"}})
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.79", json=body)
    assert r.status_code == 202, r.text
    mig = wait_migration(cloud, sid, "running")
    assert mig["links"][0]["href"].endswith(f"/servers/{sid}/migrations/{mig['id']}")
    status = api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"]["status"]
    assert status == "MIGRATING"
    # by uuid: OSC 10.5 swaps server and migration in its numeric-id call
    shown = cloud.cli(*V, "server", "migration", "show", sid, mig["uuid"], "-f", "json")
    assert shown["Status"] == "running" and shown["Server UUID"] == sid
    listed = api(cloud, "GET", f"/servers/{sid}/migrations", version="2.79").json()
    assert [m["id"] for m in listed["migrations"]] == [mig["id"]]
    r = api(cloud, "GET", f"/servers/{sid}/migrations", version="2.22")
    assert r.status_code == 404
    cloud.cli(*V, "server", "migration", "abort", sid, str(mig["id"]))
    wait_migration(cloud, sid, "cancelled")
    wait(cloud, sid, "ACTIVE")
    assert host_of(cloud, sid) == source
    assert set(allocations(cloud, sid)) == {provider_of(cloud, source)}
    r = api(cloud, "DELETE", f"/servers/{sid}/migrations/{mig['id']}", version="2.79")
    assert r.status_code in (400, 409), r.text
    # again, and force it to complete
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.79", json=body)
    assert r.status_code == 202, r.text
    mig = wait_migration(cloud, sid, "running")
    cloud.cli(*V, "server", "migration", "force", "complete", sid, str(mig["id"]))
    wait_migration(cloud, sid, "completed")
    wait(cloud, sid, "ACTIVE")
    assert host_of(cloud, sid) != source
    r = api(cloud, "POST", f"/servers/{sid}/migrations/{mig['id']}/action", version="2.79",
            json={"force_complete": None})
    assert r.status_code in (400, 409, 404), r.text
    api(cloud, "DELETE", f"/servers/{sid}")


def test_live_migrate_validation(cloud):
    sid = boot(cloud, name("livebad"))
    wait(cloud, sid, "ACTIVE")
    act = f"/servers/{sid}/action"
    cases = [("2.24", {"host": None, "block_migration": False}),  # disk_over_commit needed
             ("2.24", {"host": None, "block_migration": "auto", "disk_over_commit": False}),
             ("2.79", {"host": None, "block_migration": "auto", "force": True}),
             ("2.79", {"block_migration": "auto"}),
             ("2.79", {"host": None, "block_migration": "sometimes"}),
             ("2.79", {"host": "nowhere", "block_migration": "auto"})]
    for version, body in cases:
        r = api(cloud, "POST", act, version=version, json={"os-migrateLive": body})
        assert r.status_code == 400, (version, body, r.text)
    api(cloud, "POST", act, json={"os-stop": None})
    wait(cloud, sid, "SHUTOFF")
    r = api(cloud, "POST", act, version="2.79",
            json={"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 409
    api(cloud, "DELETE", f"/servers/{sid}")


def test_evacuate_only_from_a_down_host(cloud):
    sid = boot(cloud, name("evac"))
    wait(cloud, sid, "ACTIVE")
    source = host_of(cloud, sid)
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.79", json={"evacuate": {}})
    assert r.status_code == 400 and "still in use" in r.text
    cloud.cli(*V, "compute", "service", "set", "--down", source, "nova-compute")
    try:
        r = api(cloud, "POST", f"/servers/{sid}/action", version="2.13",
                json={"evacuate": {}})
        assert r.status_code == 400  # onSharedStorage is required before 2.14
        # no --wait: OSC 10.5 compares the lower-cased status with 'ACTIVE' forever
        cloud.cli(*V, "server", "evacuate", sid, "-f", "json")
        server = wait(cloud, sid, "ACTIVE")
        assert server["OS-EXT-SRV-ATTR:host"] != source
        mig = wait_migration(cloud, sid, "done")
        assert mig["migration_type"] == "evacuation"
        assert set(allocations(cloud, sid)) == {provider_of(cloud, server[
            "OS-EXT-SRV-ATTR:host"])}
    finally:
        cloud.cli(*V, "compute", "service", "set", "--up", source, "nova-compute")
        api(cloud, "DELETE", f"/servers/{sid}")


def test_os_migrations_filters_and_paging(cloud):
    sid = boot(cloud, name("mlist"))
    wait(cloud, sid, "ACTIVE")
    for _ in range(2):
        api(cloud, "POST", f"/servers/{sid}/action", json={"migrate": None})
        wait(cloud, sid, "VERIFY_RESIZE")
        api(cloud, "POST", f"/servers/{sid}/action", json={"confirmResize": None})
        wait(cloud, sid, "ACTIVE")
    mine = migrations(cloud, sid)
    assert len(mine) == 2 and all(m["status"] == "confirmed" for m in mine)
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}&limit=1", version="2.59")
    body = r.json()
    assert len(body["migrations"]) == 1 and "migrations_links" in body
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}&marker="
            f"{body['migrations'][0]['uuid']}", version="2.59")
    assert [m["uuid"] for m in r.json()["migrations"]] == [mine[1]["uuid"]]
    r = api(cloud, "GET", "/os-migrations?marker=nope", version="2.59")
    assert r.status_code == 400
    r = api(cloud, "GET", "/os-migrations?limit=-1", version="2.59")
    assert r.status_code == 400
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}&migration_type=live-migration")
    assert r.json()["migrations"] == []
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}", version="2.1")
    assert "uuid" not in r.json()["migrations"][0]
    assert "migration_type" not in r.json()["migrations"][0]
    host = mine[0]["dest_compute"]
    r = api(cloud, "GET", f"/os-migrations?host={host}&status=confirmed")
    assert {m["id"] for m in mine} & {m["id"] for m in r.json()["migrations"]}
    r = api(cloud, "GET", "/os-migrations", "pocketstack")
    assert r.status_code == 403
    api(cloud, "DELETE", f"/servers/{sid}")


def test_soft_affinity_groups_are_weighed(fresh_cloud):
    """With the soft multipliers above the spreading weighers (RAM, CPU, disk: 1.0 each),
    soft-affinity members stay together and soft-anti-affinity members go apart, each
    time against what spreading alone would choose."""
    os.makedirs(fresh_cloud.data_dir, exist_ok=True)
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write("[filter_scheduler]\nsoft_affinity_weight_multiplier = 10\n"
                "soft_anti_affinity_weight_multiplier = 10\n")
    fresh_cloud.start()
    cloud = fresh_cloud
    for policy, same in (("soft-affinity", True), ("soft-anti-affinity", False)):
        group = cloud.cli(*V, "server", "group", "create", "--policy", policy,
                          name("grp"), "-f", "json")
        hosts = []
        for _ in range(2):
            sid = boot(cloud, name("grp"), **{"os:scheduler_hints": {"group": group["id"]}})
            hosts.append(wait(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"])
        assert (hosts[0] == hosts[1]) == same, (policy, hosts)
