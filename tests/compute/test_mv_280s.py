"""Compute microversions 2.80 to 2.84, through the real CLI where it speaks them and raw
HTTP (``OpenStack-API-Version: compute 2.NN``) for the per-version edges."""

from __future__ import annotations

import hashlib
import os
import time

from compute_helpers import IMAGE, api, boot, name, wait


def _migrated(cloud, user="pocketstack-admin", **meta):
    sid = boot(cloud, name("mv"), user=user, server={"metadata": meta} if meta else {})
    wait(cloud, sid, "ACTIVE")
    api(cloud, "POST", f"/servers/{sid}/action", json={"migrate": None})
    return sid


def test_2_80_migrations_user_and_project(cloud):
    sid = _migrated(cloud, user="pocketstack")
    wait(cloud, sid, "VERIFY_RESIZE")
    me = api(cloud, "GET", f"/servers/{sid}", "pocketstack").json()["server"]
    rows = cloud.cli("--os-compute-api-version", "2.80", "server", "migration", "list",
                     "--user", me["user_id"], "--project", me["tenant_id"], "-f", "json")
    assert rows and all(r["User"] == me["user_id"] and r["Project"] == me["tenant_id"]
                        for r in rows)
    assert sid in {r["Server UUID"] for r in rows}
    r = api(cloud, "GET", "/os-migrations?user_id=nobody", version="2.80")
    assert r.json()["migrations"] == []
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}", version="2.80")
    assert r.json()["migrations"][0]["project_id"] == me["tenant_id"]
    r = api(cloud, "GET", f"/os-migrations?instance_uuid={sid}", version="2.79")
    assert "user_id" not in r.json()["migrations"][0]
    # 2.59-2.79: a closed query schema without the owner filters
    r = api(cloud, "GET", "/os-migrations?user_id=nobody", version="2.79")
    assert r.status_code == 400 and "badRequest" in r.json()
    r = api(cloud, "GET", "/os-migrations?bogus=1", version="2.80")
    assert r.status_code == 400
    api(cloud, "POST", f"/servers/{sid}/action", json={"confirmResize": None})
    wait(cloud, sid, "ACTIVE")
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_81_aggregate_image_cache(cloud):
    agg = cloud.cli("aggregate", "create", name("cache"), "-f", "json")
    host = cloud.cli("compute", "service", "list", "--service", "nova-compute",
                     "-f", "json")[0]["Host"]
    cloud.cli("aggregate", "add", "host", str(agg["id"]), host)
    cloud.cli("--os-compute-api-version", "2.81", "aggregate", "cache", "image",
              str(agg["id"]), IMAGE)
    path = os.path.join(cloud.data_dir, "instances", "_base",
                        hashlib.sha1(IMAGE.encode()).hexdigest())
    deadline = time.monotonic() + 20
    while not os.path.exists(path + ".info") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path + ".info")
    url = f"/os-aggregates/{agg['id']}/images"
    body = {"cache": [{"id": IMAGE}]}
    assert api(cloud, "POST", url, version="2.80", json=body).status_code == 404
    assert api(cloud, "POST", url, "pocketstack", "2.81", json=body).status_code == 403
    r = api(cloud, "POST", url, version="2.81", json={"cache": [{"id": IMAGE}] * 2})
    assert r.status_code == 400 and "Duplicate" in r.json()["badRequest"]["message"]
    for bad in ({"cache": []}, {"cache": [{"uuid": IMAGE}]}, {}):
        assert api(cloud, "POST", url, version="2.81", json=bad).status_code == 400
    r = api(cloud, "POST", "/os-aggregates/99999/images", version="2.81", json=body)
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = api(cloud, "POST", "/os-aggregates/abc/images", version="2.81", json=body)
    assert r.status_code == 400
    cloud.cli("aggregate", "remove", "host", str(agg["id"]), host)
    cloud.cli("aggregate", "delete", str(agg["id"]))


def test_2_82_accelerator_request_bound_event(cloud):
    sid = boot(cloud, name("arq"))
    wait(cloud, sid, "ACTIVE")
    event = {"events": [{"name": "accelerator-request-bound", "server_uuid": sid,
                         "tag": "arq-1", "status": "completed"}]}
    r = api(cloud, "POST", "/os-server-external-events", version="2.81", json=event)
    assert r.status_code == 400 and "badRequest" in r.json()
    r = api(cloud, "POST", "/os-server-external-events", version="2.82", json=event)
    assert r.status_code == 200, r.text
    assert r.json()["events"][0]["code"] == 200
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_83_non_admin_server_filters(cloud):
    sid = boot(cloud, name("flt"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    conn = cloud.conn("pocketstack")
    found = [s.id for s in conn.compute.servers(vm_state="active", power_state=1,
                                                 task_state=None, progress=0)]
    assert sid in found  # the SDK negotiates the newest version (>= 2.83)

    def ids(version, query):
        r = api(cloud, "GET", f"/servers/detail?{query}", "pocketstack", version)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["servers"]}

    # before 2.83 a non-admin's vm_state filter is ignored, from 2.83 on it applies
    assert sid in ids("2.82", "vm_state=stopped")
    assert sid not in ids("2.83", "vm_state=stopped")
    assert sid in ids("2.83", "vm_state=active&power_state=1")
    assert sid not in ids("2.83", "power_state=4")
    assert sid in ids("2.83", "config_drive=false")
    assert sid not in ids("2.83", "config_drive=true")
    assert sid not in ids("2.83", "key_name=none-such")
    assert sid in ids("2.82", "key_name=none-such")
    created = api(cloud, "GET", f"/servers/{sid}", "pocketstack").json()["server"]["created"]
    assert sid in ids("2.83", f"created_at={created[:10]}")
    assert sid not in ids("2.83", "created_at=1999-01-01")
    r = api(cloud, "GET", "/servers?power_state=x", "pocketstack", "2.83")
    assert r.status_code == 400
    api(cloud, "DELETE", f"/servers/{sid}", "pocketstack")


def test_2_84_instance_action_event_details(cloud):
    sid = _migrated(cloud, user="pocketstack", fake_fail_migrate="1")
    wait(cloud, sid, ("ACTIVE", "ERROR"))
    actions = api(cloud, "GET", f"/servers/{sid}/os-instance-actions").json()
    req_id = next(a["request_id"] for a in actions["instanceActions"]
                  if a["action"] == "migrate")
    url = f"/servers/{sid}/os-instance-actions/{req_id}"
    events = api(cloud, "GET", url, version="2.84").json()["instanceAction"]["events"]
    failed = [e for e in events if e["result"] == "Error"]
    assert failed and all(e["details"] for e in failed)
    assert all(e["details"] is None for e in events if e["result"] == "Success")
    old = api(cloud, "GET", url, version="2.83").json()["instanceAction"]["events"]
    assert all("details" not in e for e in old)
    shown = cloud.cli("--os-compute-api-version", "2.84", "server", "event", "show", sid,
                      req_id, "-f", "json")
    assert any(e.get("details") for e in shown["events"])
    mine = api(cloud, "GET", url, "pocketstack", "2.84").json()["instanceAction"]["events"]
    assert all("details" not in e for e in mine)  # an admin-only field by default
    api(cloud, "DELETE", f"/servers/{sid}")
