"""Raw HTTP: version discovery, error bodies, microversions, actions and the state machine."""

from __future__ import annotations

import uuid

import pytest
import requests
from volume_helpers import wait_for

PORT = 8776


@pytest.fixture(scope="module")
def api(cloud):
    token = cloud.token("pocketstack-admin")
    project = cloud.conn("pocketstack-admin").current_project_id

    def call(method, path, body=None, version="3.71", token_=None, project_path=False,
             **kw):
        headers = {"X-Auth-Token": token_ or token,
                   "OpenStack-API-Version": f"volume {version}"}
        prefix = f"/v3/{project}" if project_path else "/v3"
        return requests.request(method, cloud.url(PORT, prefix + path), json=body,
                                headers=headers, timeout=60, **kw)

    call.project = project
    call.token = token
    call.url = lambda path: cloud.url(PORT, "/v3" + path)
    return call


def _create(api, size=1, **extra):
    r = api("POST", "/volumes", {"volume": {"size": size, "name": uuid.uuid4().hex[:8],
                                             **extra}})
    assert r.status_code == 202, r.text
    return r.json()["volume"]


def test_version_discovery(cloud):
    r = requests.get(cloud.url(PORT, "/"), timeout=10)
    assert r.status_code == 300
    v = r.json()["versions"][0]
    assert v["id"] == "v3.0" and v["min_version"] == "3.0" and v["version"] == "3.71"
    r = requests.get(cloud.url(PORT, "/v3/"), timeout=10)
    assert r.status_code == 200 and r.json()["versions"][0]["version"] == "3.71"


def test_microversion_header_and_bounds(api):
    r = api("GET", "/volumes", version="3.50")
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "volume 3.50"
    assert api("GET", "/volumes", version="3.99").status_code == 406
    r = api("GET", "/volumes", version="latest")
    assert r.headers["OpenStack-API-Version"] == "volume 3.71"


def test_project_and_projectless_paths(api):
    vol = _create(api)
    a = api("GET", f"/volumes/{vol['id']}", project_path=True)
    b = api("GET", f"/volumes/{vol['id']}")
    assert a.status_code == b.status_code == 200
    assert a.json()["volume"]["id"] == b.json()["volume"]["id"] == vol["id"]
    assert api("DELETE", f"/volumes/{vol['id']}", project_path=True).status_code == 202


def test_error_format(api):
    r = api("GET", f"/volumes/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["code"] == 404
    assert "could not be found" in r.json()["itemNotFound"]["message"]
    r = api("POST", "/volumes", {"volume": {"size": "abc"}})
    assert r.status_code == 400 and "badRequest" in r.json()
    r = api("POST", "/volumes", {"volume": {"size": 0}})
    assert r.status_code == 400
    r = api("POST", "/volumes", {"nothing": {}})
    assert r.status_code == 400
    r = requests.post(api.url("/volumes"), data=b"{not json",
                      headers={"X-Auth-Token": api.token})
    assert r.status_code == 400 and "badRequest" in r.json()


def test_quota_over_limit_is_413(api):
    r = api("POST", "/volumes", {"volume": {"size": 5000}})
    assert r.status_code == 413
    assert "overLimit" in r.json() and "gigabytes" in r.json()["overLimit"]["message"]


def test_microversion_fields(api):
    vol = _create(api)
    old = api("GET", f"/volumes/{vol['id']}", version="3.0").json()["volume"]
    new = api("GET", f"/volumes/{vol['id']}", version="3.71").json()["volume"]
    assert "volume_type_id" not in old and "group_id" not in old
    assert new["volume_type_id"] and new["consumes_quota"] is True
    api("DELETE", f"/volumes/{vol['id']}")


def test_list_filters_sort_and_pagination(api):
    tag = uuid.uuid4().hex[:6]
    ids = [_create(api, metadata={"tag": tag})["id"] for _ in range(3)]
    r = api("GET", "/volumes/detail", params={"metadata": f'{{"tag": "{tag}"}}',
                                              "limit": 2, "sort": "created_at:asc"})
    body = r.json()
    assert [v["id"] for v in body["volumes"]] == ids[:2]
    assert body["volumes_links"][0]["rel"] == "next"
    r = api("GET", "/volumes/detail", params={"metadata": f'{{"tag": "{tag}"}}',
                                              "marker": ids[1], "sort": "created_at:asc"})
    assert [v["id"] for v in r.json()["volumes"]] == ids[2:]
    r = api("GET", "/volumes", params={"name": "no-such-volume-name"})
    assert r.json()["volumes"] == []
    for i in ids:
        api("DELETE", f"/volumes/{i}")


def test_metadata_crud(api):
    vol = _create(api, metadata={"a": "1"})
    path = f"/volumes/{vol['id']}/metadata"
    assert api("POST", path, {"metadata": {"b": "2"}}).json()["metadata"] == {"a": "1", "b": "2"}
    assert api("PUT", path, {"metadata": {"c": "3"}}).json()["metadata"] == {"c": "3"}
    assert api("GET", path + "/c").json() == {"meta": {"c": "3"}}
    assert api("PUT", path + "/c", {"meta": {"c": "4"}}).json() == {"meta": {"c": "4"}}
    assert api("DELETE", path + "/c").status_code == 200
    assert api("GET", path + "/c").status_code == 404
    api("DELETE", f"/volumes/{vol['id']}")


def test_attach_detach_state_machine(api):
    vol = _create(api)
    act = f"/volumes/{vol['id']}/action"
    status = lambda: api("GET", f"/volumes/{vol['id']}").json()["volume"]["status"]  # noqa
    assert api("POST", act, {"os-reserve": None}).status_code == 202
    assert status() == "attaching"  # Cinder's legacy flow
    assert api("POST", act, {"os-reserve": None}).status_code == 400
    r = api("POST", act, {"os-initialize_connection": {"connector": {"host": "h"}}})
    info = r.json()["connection_info"]
    assert info["driver_volume_type"] == "file"
    assert info["data"]["device_path"].endswith(f"volume-{vol['id']}")
    server = str(uuid.uuid4())
    assert api("POST", act, {"os-attach": {"instance_uuid": server,
                                           "mountpoint": "/dev/vdb"}}).status_code == 202
    shown = api("GET", f"/volumes/{vol['id']}").json()["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == server
    r = api("DELETE", f"/volumes/{vol['id']}")
    assert r.status_code == 400 and "Invalid volume" in r.json()["badRequest"]["message"]
    assert api("POST", act, {"os-begin_detaching": None}).status_code == 202
    assert status() == "detaching"
    assert api("POST", act, {"os-roll_detaching": None}).status_code == 202
    assert status() == "in-use"
    assert api("POST", act, {"os-detach": {}}).status_code == 202
    assert status() == "available"
    assert api("POST", act, {"os-unknown": {}}).status_code == 400
    assert api("POST", act, {"os-extend": {"new_size": 1}}).status_code == 400
    assert api("POST", act, {"os-extend": {"new_size": 3}}).status_code == 202
    shown = wait_for(lambda: api("GET", f"/volumes/{vol['id']}").json()["volume"], "available")
    assert shown["size"] == 3
    assert api("POST", act, {"os-reset_status": {"status": "error"}}).status_code == 202
    assert status() == "error"
    assert api("POST", act, {"os-force_delete": {}}).status_code == 202
    assert api("GET", f"/volumes/{vol['id']}").status_code == 404


def test_attachments_api(api):
    vol = _create(api)
    r = api("POST", "/attachments", {"attachment": {"volume_uuid": vol["id"],
                                                    "instance_uuid": str(uuid.uuid4())}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    assert att["status"] == "reserved"
    assert api("GET", f"/volumes/{vol['id']}").json()["volume"]["status"] == "reserved"
    r = api("PUT", f"/attachments/{att['id']}", {"attachment": {"connector": {"host": "x"}}})
    assert r.json()["attachment"]["connection_info"]["driver_volume_type"] == "file"
    assert api("POST", f"/attachments/{att['id']}/action",
               {"os-complete": None}).status_code == 204
    assert api("GET", f"/volumes/{vol['id']}").json()["volume"]["status"] == "in-use"
    listed = api("GET", "/attachments", params={"volume_id": vol["id"]}).json()
    assert [a["id"] for a in listed["attachments"]] == [att["id"]]
    assert api("GET", "/attachments", version="3.26").status_code == 404
    assert api("DELETE", f"/attachments/{att['id']}").status_code == 200
    assert api("GET", f"/volumes/{vol['id']}").json()["volume"]["status"] == "available"
    api("DELETE", f"/volumes/{vol['id']}")


def test_other_project_sees_404(cloud, api):
    vol = _create(api)
    demo = cloud.token("pocketstack")
    r = api("GET", f"/volumes/{vol['id']}", token_=demo)
    assert r.status_code == 404
    r = api("POST", f"/volumes/{vol['id']}/action", {"os-reset_status": {"status": "error"}},
            token_=demo)
    assert r.status_code in (403, 404)
    assert r.json().get("forbidden") or r.json().get("itemNotFound")
    api("DELETE", f"/volumes/{vol['id']}")


def test_limits_extensions_quota_usage(api):
    vol = _create(api, size=2)
    lim = api("GET", "/limits").json()["limits"]["absolute"]
    assert lim["maxTotalVolumes"] == 10 and lim["totalGigabytesUsed"] >= 2
    ext = api("GET", "/extensions").json()["extensions"]
    assert "os-volume-transfer" in [e["alias"] for e in ext]
    q = api("GET", f"/os-quota-sets/{api.project}", params={"usage": "true"}).json()
    assert q["quota_set"]["volumes"]["in_use"] >= 1
    assert q["quota_set"]["volumes"]["limit"] == 10
    d = api("GET", f"/os-quota-sets/{api.project}/defaults").json()["quota_set"]
    assert d["backup_gigabytes"] == 1000 and d["per_volume_gigabytes"] == -1
    api("DELETE", f"/volumes/{vol['id']}")


def test_quota_update_enforced(cloud, api):
    demo = cloud.conn("pocketstack").current_project_id
    # other tests on this shared cloud may hold demo volumes: cap the quota at what is in use
    used = api("GET", f"/os-quota-sets/{demo}?usage=true").json()["quota_set"]["volumes"]
    r = api("PUT", f"/os-quota-sets/{demo}", {"quota_set": {"volumes": used["in_use"]}})
    assert r.status_code == 200 and r.json()["quota_set"]["volumes"] == used["in_use"]
    try:
        r = api("POST", "/volumes", {"volume": {"size": 1}}, token_=cloud.token("pocketstack"))
        assert r.status_code == 413
        assert "Maximum number of volumes" in r.json()["overLimit"]["message"]
    finally:
        api("DELETE", f"/os-quota-sets/{demo}")
    assert api("GET", f"/os-quota-sets/{demo}").json()["quota_set"]["volumes"] == 10


def test_clone_and_revert(api):
    vol = _create(api)
    clone = _create(api, source_volid=vol["id"])
    # constant time (synchronous) with reflinks, else a copy after the answer
    assert clone["status"] in ("available", "creating")
    clone = wait_for(lambda: api("GET", f"/volumes/{clone['id']}").json()["volume"],
                     "available")
    assert clone["source_volid"] == vol["id"]
    r = api("POST", "/snapshots", {"snapshot": {"volume_id": vol["id"], "name": "s"}})
    snap = r.json()["snapshot"]
    r = api("POST", f"/volumes/{vol['id']}/action", {"revert": {"snapshot_id": snap["id"]}})
    assert r.status_code == 202
    r = api("POST", f"/volumes/{vol['id']}/action", {"revert": {"snapshot_id": snap["id"]}},
            version="3.39")
    assert r.status_code == 400
    assert api("DELETE", f"/volumes/{vol['id']}", params={"cascade": "true"}).status_code == 202
    api("DELETE", f"/volumes/{clone['id']}")


def test_image_ref_without_image_service(api):
    r = api("POST", "/volumes", {"volume": {"size": 1, "imageRef": str(uuid.uuid4())}})
    assert r.status_code == 400


def test_pools_capabilities_messages(api):
    pools = api("GET", "/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    assert pools[0]["name"].endswith("@file#file")
    caps = pools[0]["capabilities"]
    assert caps["volume_backend_name"] == "file" and caps["total_capacity_gb"] > 0
    backend = pools[0]["name"].split("#")[0]
    assert api("GET", f"/capabilities/{backend}").json()["pool_name"] == "file"
    assert api("GET", "/messages").json() == {"messages": []}


def test_snapshot_of_in_use_volume_and_backup_from_snapshot(api):
    vol = _create(api)
    act = f"/volumes/{vol['id']}/action"
    api("POST", act, {"os-attach": {"instance_uuid": str(uuid.uuid4()), "mountpoint": "/x"}})
    r = api("POST", "/snapshots", {"snapshot": {"volume_id": vol["id"]}}, version="3.65")
    assert r.status_code == 400 and "Invalid volume" in r.json()["badRequest"]["message"]
    r = api("POST", "/snapshots", {"snapshot": {"volume_id": vol["id"]}}, version="3.66")
    assert r.status_code == 202
    snap = r.json()["snapshot"]
    r = api("POST", "/backups", {"backup": {"volume_id": vol["id"], "snapshot_id": snap["id"]}})
    assert r.status_code == 202
    backup = r.json()["backup"]
    b = wait_for(lambda: api("GET", f"/backups/{backup['id']}").json()["backup"], "available")
    assert b["snapshot_id"] == snap["id"]
    r = api("POST", "/backups", {"backup": {"volume_id": vol["id"]}})
    assert r.status_code == 400  # in-use without force
    r = api("POST", "/backups", {"backup": {"volume_id": vol["id"], "force": True,
                                            "incremental": True}})
    assert r.status_code == 202
    incr = r.json()["backup"]["id"]
    wait_for(lambda: api("GET", f"/backups/{incr}").json()["backup"], "available")
    assert api("GET", f"/backups/{incr}").json()["backup"]["is_incremental"] is True
    assert api("GET", f"/backups/{backup['id']}").json()["backup"]["has_dependent_backups"]
    assert api("DELETE", f"/backups/{backup['id']}").status_code == 400
    for path in (f"/backups/{incr}", f"/backups/{backup['id']}"):
        assert api("DELETE", path).status_code == 202
    api("POST", act, {"os-detach": {}})
    assert api("DELETE", f"/volumes/{vol['id']}?cascade=true").status_code == 202


def test_system_scoped_admin_cannot_create_without_project(cloud, api):
    token = cloud.token("pocketstack-system-admin")
    r = api("POST", "/volumes", {"volume": {"size": 1}}, token_=token)
    assert r.status_code == 400 and "badRequest" in r.json()


def test_default_types_and_per_type_quota(cloud, api):
    demo = cloud.conn("pocketstack").current_project_id
    demo_token = cloud.token("pocketstack")
    name = "dt-" + uuid.uuid4().hex[:6]
    t = api("POST", "/types", {"volume_type": {"name": name}}).json()["volume_type"]
    r = api("PUT", f"/default-types/{demo}", {"default_type": {"volume_type": name}})
    assert r.status_code == 200 and r.json()["default_type"]["volume_type_id"] == t["id"]
    assert api("GET", f"/default-types/{demo}", version="3.61").status_code == 404
    assert api("GET", "/types/default", token_=demo_token).json()["volume_type"]["id"] == t["id"]
    vol = api("POST", "/volumes", {"volume": {"size": 1}}, token_=demo_token).json()["volume"]
    assert vol["volume_type"] == name
    assert api("DELETE", f"/types/{t['id']}").status_code == 400  # in use
    api("PUT", f"/os-quota-sets/{demo}", {"quota_set": {f"volumes_{name}": 1}})
    r = api("POST", "/volumes", {"volume": {"size": 1}}, token_=demo_token)
    assert r.status_code == 413 and f"volumes_{name}" in r.json()["overLimit"]["message"]
    api("DELETE", f"/os-quota-sets/{demo}")
    api("DELETE", f"/volumes/{vol['id']}", token_=demo_token)
    assert api("DELETE", f"/default-types/{demo}").status_code == 204
    assert api("GET", f"/default-types/{demo}").status_code == 404
    assert api("DELETE", f"/types/{t['id']}").status_code == 202


def test_readonly_flag_and_attached_mode_in_metadata(api):
    vol = _create(api)
    act = f"/volumes/{vol['id']}/action"
    assert api("POST", act, {"os-update_readonly_flag": {"readonly": True}}).status_code == 202
    meta = api("GET", f"/volumes/{vol['id']}").json()["volume"]["metadata"]
    assert meta["readonly"] == "True"
    r = api("POST", act, {"os-attach": {"instance_uuid": str(uuid.uuid4()), "mode": "rw"}})
    assert r.status_code == 400  # read-only volumes attach ro
    api("POST", act, {"os-attach": {"instance_uuid": str(uuid.uuid4()), "mode": "ro"}})
    meta = api("GET", f"/volumes/{vol['id']}").json()["volume"]["metadata"]
    assert meta["attached_mode"] == "ro"
    info = api("POST", act, {"os-initialize_connection": {"connector": {}}}).json()
    assert info["connection_info"]["data"]["access_mode"] == "ro"
    api("POST", act, {"os-detach": {}})
    meta = api("GET", f"/volumes/{vol['id']}").json()["volume"]["metadata"]
    assert "attached_mode" not in meta
    api("DELETE", f"/volumes/{vol['id']}")


def test_backup_export_import_record(api):
    vol = _create(api)
    backup = api("POST", "/backups", {"backup": {"volume_id": vol["id"]}}).json()["backup"]
    wait_for(lambda: api("GET", f"/backups/{backup['id']}").json()["backup"], "available")
    rec = api("GET", f"/backups/{backup['id']}/export_record").json()["backup-record"]
    assert rec["backup_service"] and rec["backup_url"]
    r = api("POST", "/backups/import_record", {"backup-record": rec})
    assert r.status_code == 400  # it still exists
    assert api("POST", "/backups/import_record", {"backup-record": {
        "backup_service": rec["backup_service"], "backup_url": "!!"}}).status_code == 400
    r = api("POST", f"/volumes/{vol['id']}/action", {"os-migrate_volume": {"host": "x"}})
    assert r.status_code == 400
    api("DELETE", f"/backups/{backup['id']}")
    api("DELETE", f"/volumes/{vol['id']}")


def test_type_encryption_specs(api):
    name = "enc-" + uuid.uuid4().hex[:6]
    t = api("POST", "/types", {"volume_type": {"name": name}}).json()["volume_type"]
    base = f"/types/{t['id']}/encryption"
    assert api("GET", base).json() == {}
    r = api("POST", base, {"encryption": {"provider": "luks", "cipher": "aes-xts-plain64",
                                          "key_size": 256, "control_location": "front-end"}})
    assert r.status_code == 200, r.text
    enc = r.json()["encryption"]
    assert enc["provider"] == "luks" and enc["encryption_id"]
    assert api("POST", base, {"encryption": {"provider": "luks"}}).status_code == 400
    assert api("GET", base + "/cipher").json() == {"cipher": "aes-xts-plain64"}
    r = api("PUT", f"{base}/{enc['encryption_id']}", {"encryption": {"key_size": 512}})
    assert r.json()["encryption"] == {"key_size": 512}
    assert api("GET", base).json()["key_size"] == 512
    r = api("POST", "/volumes", {"volume": {"size": 1, "volume_type": name}})
    assert r.status_code == 400 and "key manager" in r.json()["badRequest"]["message"]
    assert api("POST", base, {"encryption": {"control_location": "x"}}).status_code == 400
    assert api("DELETE", f"{base}/{enc['encryption_id']}").status_code == 202
    assert api("GET", base).json() == {}
    api("DELETE", f"/types/{t['id']}")


def test_quota_class_defaults_and_hosts(api):
    r = api("PUT", "/os-quota-class-sets/default", {"quota_class_set": {"backups": 7}})
    assert r.status_code == 200 and r.json()["quota_class_set"]["backups"] == 7
    try:
        d = api("GET", f"/os-quota-sets/{api.project}/defaults").json()["quota_set"]
        assert d["backups"] == 7
        assert api("GET", "/os-quota-class-sets/default").json()["quota_class_set"][
            "backups"] == 7
    finally:
        api("PUT", "/os-quota-class-sets/default", {"quota_class_set": {"backups": 10}})
    hosts = api("GET", "/os-hosts").json()["hosts"]
    assert {h["service"] for h in hosts} >= {"cinder-volume"}
    services = api("GET", "/os-services", params={"zone": "nova",
                                                   "binary": "cinder-volume"}).json()
    assert len(services["services"]) == 1


def test_snapshot_metadata_items(api):
    vol = _create(api)
    snap = api("POST", "/snapshots", {"snapshot": {"volume_id": vol["id"],
                                                   "metadata": {"a": "1"}}}).json()["snapshot"]
    base = f"/snapshots/{snap['id']}/metadata"
    assert api("GET", base + "/a").json() == {"meta": {"a": "1"}}
    assert api("PUT", base + "/a", {"meta": {"a": "2"}}).json() == {"meta": {"a": "2"}}
    assert api("PUT", base + "/a", {"meta": {"b": "2"}}).status_code == 400
    assert api("GET", base).json()["metadata"] == {"a": "2"}
    assert api("DELETE", base + "/a").status_code == 200
    assert api("GET", base + "/a").status_code == 404
    api("DELETE", f"/volumes/{vol['id']}?cascade=true")


def test_non_admin_sees_only_user_visible_extra_specs(cloud, api):
    name = "vis-" + uuid.uuid4().hex[:6]
    t = api("POST", "/types", {"volume_type": {"name": name, "extra_specs": {
        "multiattach": "<is> True", "volume_backend_name": "file"}}}).json()["volume_type"]
    demo = api("GET", f"/types/{t['id']}", token_=cloud.token("pocketstack")).json()
    assert demo["volume_type"]["extra_specs"] == {"multiattach": "<is> True"}
    assert "qos_specs_id" not in demo["volume_type"]
    vol = _create(api, volume_type=name)
    assert vol["multiattach"] is True
    api("DELETE", f"/volumes/{vol['id']}")
    api("DELETE", f"/types/{t['id']}")


def test_force_detach_and_reimage_version(api):
    vol = _create(api)
    act = f"/volumes/{vol['id']}/action"
    api("POST", act, {"os-attach": {"instance_uuid": str(uuid.uuid4()), "mountpoint": "/a"}})
    assert api("POST", act, {"os-force_detach": {}}).status_code == 202
    shown = api("GET", f"/volumes/{vol['id']}").json()["volume"]
    assert shown["status"] == "available" and shown["attachments"] == []
    r = api("POST", act, {"os-reimage": {"image_id": str(uuid.uuid4())}}, version="3.67")
    assert r.status_code == 400
    r = api("POST", act, {"os-reimage": {"image_id": str(uuid.uuid4())}})
    assert r.status_code == 400  # no image service in this cloud
    api("DELETE", f"/volumes/{vol['id']}")
