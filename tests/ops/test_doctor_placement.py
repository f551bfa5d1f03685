"""The doctor finds orphaned and missing Placement allocations; the manage commands
(Nova's ``placement audit --delete`` and ``heal_allocations``) repair them."""

from __future__ import annotations

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops_helpers import api, boot, doctor, manage, run_fix, wait  # noqa: E402

PV = {"OpenStack-API-Version": "placement 1.28"}
CHECK = "placement allocations"


def _allocations(cloud, consumer: str) -> dict:
    r = api(cloud, "GET", 8778, f"/allocations/{consumer}", headers=PV)
    assert r.status_code == 200, r.text
    return r.json()["allocations"]


def test_orphaned_and_missing_allocations(fresh_cloud):
    data = fresh_cloud.data_dir
    fresh_cloud.start()
    sid = boot(fresh_cloud)
    wait(fresh_cloud, sid)
    held = _allocations(fresh_cloud, sid)
    (rp, entry), = held.items()
    code, findings = doctor(data)
    assert [f["status"] for f in findings if f["check"] == CHECK] == ["OK"], findings

    # a consumer no server knows holds room on the server's host (a delete that died half
    # way), and the server's own allocation is lost
    ghost = str(uuid.uuid4())
    project = api(fresh_cloud, "GET", 8774, f"/v2.1/servers/{sid}").json()["server"]["tenant_id"]
    body = {"allocations": {rp: {"resources": {"VCPU": 1, "MEMORY_MB": 64}}},
            "project_id": project, "user_id": project, "consumer_generation": None}
    r = api(fresh_cloud, "PUT", 8778, f"/allocations/{ghost}", headers=PV, json=body)
    assert r.status_code == 204, r.text
    r = api(fresh_cloud, "DELETE", 8778, f"/allocations/{sid}", headers=PV)
    assert r.status_code == 204, r.text

    code, findings = doctor(data)
    assert code == 1
    bad = [f for f in findings if f["check"] == CHECK and f["status"] != "OK"]
    assert len(bad) == 2, bad
    orphan = next(f for f in bad if ghost in f["detail"])
    assert "VCPU=1" in orphan["detail"] and "MEMORY_MB=64" in orphan["detail"]
    assert orphan["fix"] == "pocketstack manage placement audit --delete"
    lost = next(f for f in bad if sid in f["detail"])
    assert lost["fix"] == "pocketstack manage placement heal-allocations"

    # the read-only forms report without changing anything
    proc = manage(data, "placement", "audit", check=False)
    assert proc.returncode == 1 and ghost in proc.stdout
    proc = manage(data, "placement", "heal-allocations", "--dry-run", check=False)
    assert proc.returncode == 1 and sid in proc.stdout
    assert _allocations(fresh_cloud, ghost) and not _allocations(fresh_cloud, sid)

    for f in bad:
        run_fix(data, f["fix"])
    assert _allocations(fresh_cloud, ghost) == {}
    healed = _allocations(fresh_cloud, sid)
    assert list(healed) == [rp]
    assert healed[rp]["resources"] == entry["resources"]
    code, findings = doctor(data)
    assert [f["status"] for f in findings if f["check"] == CHECK] == ["OK"], findings
    # and the healed server is an ordinary server again: its delete frees the room
    assert api(fresh_cloud, "DELETE", 8774, f"/v2.1/servers/{sid}").status_code == 204


def test_unknown_instance_is_refused_cleanly(fresh_cloud):
    fresh_cloud.start()
    proc = manage(fresh_cloud.data_dir, "placement", "heal-allocations", "--instance",
                  str(uuid.uuid4()))
    assert "nothing to heal" in proc.stdout
