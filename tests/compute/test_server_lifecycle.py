"""Shelve/unshelve, rescue/unrescue and soft delete, with the real CLI and raw HTTP."""

from __future__ import annotations

import os
import time
from typing import Any

import requests

from compute_helpers import api, boot, name, wait


def _placement(cloud: Any, uuid: str) -> dict[str, Any]:
    r = requests.get(cloud.url(8778, f"/allocations/{uuid}"), timeout=30,
                     headers={"X-Auth-Token": cloud.token(), "OpenStack-API-Version":
                              "placement 1.28"})
    assert r.status_code == 200, r.text
    return r.json()["allocations"]


def _images_named(cloud: Any, image_name: str) -> list[dict[str, Any]]:
    r = requests.get(cloud.url(9292, "/v2/images"), params={"name": image_name},
                     headers={"X-Auth-Token": cloud.token()}, timeout=30)
    return r.json()["images"]


def _actions(cloud: Any, sid: str) -> list[str]:
    r = api(cloud, "GET", f"/servers/{sid}/os-instance-actions", version="2.79")
    return [a["action"] for a in r.json()["instanceActions"]]


def test_shelve_offload_unshelve_cli(cloud: Any) -> None:
    vm = name("shelve")
    sid = boot(cloud, vm)
    wait(cloud, sid, "ACTIVE")
    assert _placement(cloud, sid)
    cloud.cli("server", "shelve", "--wait", sid)
    body = wait(cloud, sid, "SHELVED_OFFLOADED")  # shelved_offload_time 0: at once
    assert body["OS-EXT-SRV-ATTR:host"] is None
    assert body["OS-EXT-STS:power_state"] == 4
    assert _placement(cloud, sid) == {}  # the allocation is freed on offload
    images = _images_named(cloud, f"{vm}-shelved")
    assert len(images) == 1 and images[0]["status"] == "active"
    assert images[0]["instance_uuid"] == sid
    listed = cloud.cli("server", "list", "--status", "SHELVED_OFFLOADED", "-f", "json")
    assert sid in [s["ID"] for s in listed]
    # wrong states: 409 as Nova
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"shelve": None})
    assert r.status_code == 409 and "vm_state shelved_offloaded" in r.text
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"shelveOffload": None})
    assert r.status_code == 409
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.77",
            json={"unshelve": {"availability_zone": "no-such-zone"}})
    assert r.status_code == 400, r.text
    cloud.cli("--os-compute-api-version", "2.77", "server", "unshelve",
              "--availability-zone", "nova", "--wait", sid)
    body = wait(cloud, sid, "ACTIVE")
    assert body["OS-EXT-SRV-ATTR:host"] and body["OS-EXT-STS:power_state"] == 1
    assert _placement(cloud, sid)  # claimed again where it was rescheduled
    assert _images_named(cloud, f"{vm}-shelved") == []  # deleted after unshelve
    assert {"shelve", "unshelve"} <= set(_actions(cloud, sid))
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"unshelve": None})
    assert r.status_code == 409
    cloud.cli("server", "delete", "--wait", sid)


def test_shelve_policies_and_body(cloud: Any) -> None:
    sid = boot(cloud, name("shelve-p"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    r = api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack",
            json={"shelveOffload": None})
    assert r.status_code == 403  # admin only, as Nova
    r = api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack-alt",
            json={"shelve": None})
    assert r.status_code == 404
    r = api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack", version="2.77",
            json={"unshelve": {"availability_zone": "nova"}})
    assert r.status_code == 409  # not shelved
    r = api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack", version="2.77",
            json={"unshelve": {"host": "x"}})
    assert r.status_code == 400  # host is 2.91, not advertised
    api(cloud, "DELETE", f"/servers/{sid}", user="pocketstack")


def test_rescue_unrescue(cloud: Any) -> None:
    sid = boot(cloud, name("rescue"))
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"unrescue": None})
    assert r.status_code == 409
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rescue": {"bogus": 1}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rescue": {
        "rescue_image_ref": "00000000-0000-0000-0000-000000000000"}})
    assert r.status_code == 400 and "could not be found" in r.text
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rescue": {"adminPass": "s3cret"}})
    assert r.status_code == 200 and r.json() == {"adminPass": "s3cret"}
    body = wait(cloud, sid, "RESCUE")
    assert body["OS-EXT-STS:vm_state"] == "rescued"
    log = cloud.cli("console", "log", "show", sid)
    assert "Booting rescue image" in log
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rescue": None})
    assert r.status_code == 409
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"os-stop": None})
    assert r.status_code == 409
    cloud.cli("server", "unrescue", sid)
    wait(cloud, sid, "ACTIVE")
    cloud.cli("server", "rescue", "--image", cloud.tiny_image(), sid)
    wait(cloud, sid, "RESCUE")
    cloud.cli("server", "unrescue", sid)
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rescue": None})
    assert r.status_code == 200 and len(r.json()["adminPass"]) >= 8
    wait(cloud, sid, "RESCUE")
    assert _actions(cloud, sid).count("rescue") == 3
    api(cloud, "DELETE", f"/servers/{sid}")


def _fresh(fresh_cloud: Any, conf: str) -> Any:
    os.makedirs(fresh_cloud.data_dir, exist_ok=True)
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write(conf)
    fresh_cloud.start()
    return fresh_cloud


def test_soft_delete_restore_reclaim_and_delayed_offload(fresh_cloud: Any) -> None:
    cloud = _fresh(fresh_cloud, "[DEFAULT]\nreclaim_instance_interval = 30\n"
                               "shelved_offload_time = -1\n")
    sid = boot(cloud, name("soft"))
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"restore": None})
    assert r.status_code == 409
    cloud.cli("server", "delete", sid)
    body = wait(cloud, sid, "SOFT_DELETED")
    assert body["OS-EXT-STS:power_state"] == 4
    assert sid not in [s["ID"] for s in cloud.cli("server", "list", "-f", "json")]
    listed = cloud.cli("server", "list", "--status", "SOFT_DELETED", "-f", "json")
    assert sid in [s["ID"] for s in listed]
    cloud.cli("server", "restore", sid)
    wait(cloud, sid, "ACTIVE")
    # forceDelete deletes at once
    cloud.cli("server", "delete", sid)
    wait(cloud, sid, "SOFT_DELETED")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"forceDelete": None})
    assert r.status_code == 202
    wait(cloud, sid, "DELETED")
    # the periodic reclaim deletes after reclaim_instance_interval
    sid2 = boot(cloud, name("reclaim"))
    wait(cloud, sid2, "ACTIVE")
    api(cloud, "DELETE", f"/servers/{sid2}")
    wait(cloud, sid2, "SOFT_DELETED")
    wait(cloud, sid2, "DELETED", timeout=90)
    # shelved_offload_time -1: stays SHELVED on its host until shelveOffload
    sid3 = boot(cloud, name("shelved"))
    wait(cloud, sid3, "ACTIVE")
    cloud.cli("server", "shelve", sid3)
    body = wait(cloud, sid3, "SHELVED")
    assert body["OS-EXT-SRV-ATTR:host"]
    time.sleep(1)
    assert wait(cloud, sid3, "SHELVED")["OS-EXT-SRV-ATTR:host"]
    r = api(cloud, "POST", f"/servers/{sid3}/action", version="2.77",
            json={"unshelve": {"availability_zone": "nova"}})
    assert r.status_code == 409  # an AZ needs SHELVED_OFFLOADED
    cloud.cli("server", "unshelve", sid3)  # powered on where it is
    body = wait(cloud, sid3, "ACTIVE")
    cloud.cli("server", "shelve", sid3)
    wait(cloud, sid3, "SHELVED")
    r = api(cloud, "POST", f"/servers/{sid3}/action", json={"shelveOffload": None})
    assert r.status_code == 202
    assert wait(cloud, sid3, "SHELVED_OFFLOADED")["OS-EXT-SRV-ATTR:host"] is None
    # deleting a shelved-offloaded server (never soft: no host) also drops its image
    cloud.cli("server", "delete", "--force", sid3)
    wait(cloud, sid3, "DELETED")
