"""Answer shapes Tempest's schemas check: which keys each answer carries, links, 404s."""

from __future__ import annotations

import uuid

import pytest
import requests

PORT = 8776


@pytest.fixture(scope="module")
def api(cloud):
    token = cloud.token("pocketstack")
    project = cloud.conn("pocketstack").current_project_id

    def call(method, path, body=None, project_path=False, **kw):
        prefix = f"/v3/{project}" if project_path else "/v3"
        return requests.request(method, cloud.url(PORT, prefix + path), json=body,
                                headers={"X-Auth-Token": token}, timeout=60, **kw)

    call.project = project
    return call


def test_create_and_update_answers_lack_the_show_extensions(api):
    r = api("POST", "/volumes", {"volume": {"size": 1, "name": uuid.uuid4().hex[:8]}})
    assert r.status_code == 202
    created = r.json()["volume"]
    assert "os-vol-tenant-attr:tenant_id" not in created
    assert "volume_image_metadata" not in created
    shown = api("GET", f"/volumes/{created['id']}").json()["volume"]
    assert shown["os-vol-tenant-attr:tenant_id"] == api.project
    updated = api("PUT", f"/volumes/{created['id']}", {"volume": {"name": "x"}}).json()
    assert "os-vol-tenant-attr:tenant_id" not in updated["volume"]
    snap = api("POST", "/snapshots", {"snapshot": {"volume_id": created["id"]}})
    assert snap.status_code == 202
    body = snap.json()["snapshot"]
    assert not [k for k in body if k.startswith("os-extended-snapshot-attributes")]
    detail = api("GET", f"/snapshots/{body['id']}").json()["snapshot"]
    assert detail["os-extended-snapshot-attributes:project_id"] == api.project
    listed = api("GET", "/snapshots").json()["snapshots"]
    assert listed and not [k for s in listed for k in s if k.startswith("os-extended")]
    api("DELETE", f"/snapshots/{body['id']}")
    api("DELETE", f"/volumes/{created['id']}")


def test_snapshot_of_null_volume_is_404_missing_is_400(api):
    r = api("POST", "/snapshots", {"snapshot": {"volume_id": None, "name": "x"}})
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = api("POST", "/snapshots", {"snapshot": {"name": "x"}})
    assert r.status_code == 400 and "badRequest" in r.json()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("project_path", [False, True])
def test_empty_volume_id_is_404(api, method, project_path):
    r = api(method, "/volumes/", {"volume": {}} if method == "PUT" else None,
            project_path=project_path)
    assert r.status_code == 404 and "itemNotFound" in r.json()


@pytest.mark.parametrize("project_path", [False, True])
def test_full_page_has_next_link_in_the_requested_url_form(api, project_path):
    ids = [api("POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
           for _ in range(2)]
    r = api("GET", "/volumes", params={"limit": 2}, project_path=project_path)
    body = r.json()
    assert len(body["volumes"]) == 2
    href = body["volumes_links"][0]["href"]
    prefix = f"/v3/{api.project}/volumes?" if project_path else "/v3/volumes?"
    assert prefix in href and "limit=2" in href and "marker=" in href
    for i in ids:
        api("DELETE", f"/volumes/{i}")


def test_extensions_list_hosts(api):
    names = [e["name"] for e in api("GET", "/extensions").json()["extensions"]]
    assert "Hosts" in names


@pytest.fixture(scope="module")
def admin(cloud):
    token = cloud.token("pocketstack-admin")

    def call(method, path, body=None, version="3.0", **kw):
        return requests.request(method, cloud.url(PORT, "/v3" + path), json=body,
                                headers={"X-Auth-Token": token,
                                         "OpenStack-API-Version": f"volume {version}"},
                                timeout=60, **kw)
    return call


def test_type_create_and_update_answers(admin):
    r = admin("POST", "/types", {"volume_type": {"name": uuid.uuid4().hex[:8]}})
    created = r.json()["volume_type"]
    assert "qos_specs_id" not in created and "os-volume-type-access:is_public" in created
    r = admin("PUT", f"/types/{created['id']}", {"volume_type": {"description": "d"}})
    updated = r.json()["volume_type"]
    assert updated["description"] == "d"
    assert "qos_specs_id" not in updated and "os-volume-type-access:is_public" not in updated
    assert "qos_specs_id" in admin("GET", f"/types/{created['id']}").json()["volume_type"]
    admin("DELETE", f"/types/{created['id']}")


def test_hosts_and_services_fields(admin):
    for h in admin("GET", "/os-hosts").json()["hosts"]:
        assert h["service-status"] == "available" and h["service-state"] == "enabled"
    for s in admin("GET", "/os-services").json()["services"]:
        if s["binary"] == "cinder-volume":
            assert s["replication_status"] == "disabled"
        else:
            assert "replication_status" not in s and "frozen" not in s


def test_update_snapshot_status_by_the_owner(api, admin):
    vol = api("POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]
    snap = api("POST", "/snapshots", {"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    body = {"os-update_snapshot_status": {"status": "error", "progress": "80%"}}
    r = api("POST", f"/snapshots/{snap['id']}/action", body)
    assert r.status_code == 400  # available: nothing to report
    admin("POST", f"/snapshots/{snap['id']}/action", {"os-reset_status": {"status": "creating"}})
    r = api("POST", f"/snapshots/{snap['id']}/action", body)
    assert r.status_code == 202, r.text
    shown = admin("GET", f"/snapshots/{snap['id']}").json()["snapshot"]
    assert shown["status"] == "error"
    assert shown["os-extended-snapshot-attributes:progress"] == "80%"
    api("DELETE", f"/snapshots/{snap['id']}")
    admin("DELETE", f"/volumes/{vol['id']}")


def test_snapshot_sort_keys(api):
    r = api("GET", "/snapshots", params={"sort_key": "display_name", "sort_dir": "asc"})
    assert r.status_code == 200
    r = api("GET", "/snapshots", params={"sort_key": "invalid"})
    assert r.status_code == 400 and "sort key" in r.text


def test_backup_update_answers_the_summary(admin):
    vol = admin("POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]
    b = admin("POST", "/backups", {"backup": {"volume_id": vol["id"]}}).json()["backup"]
    for _ in range(200):
        if admin("GET", f"/backups/{b['id']}").json()["backup"]["status"] == "available":
            break
    r = admin("PUT", f"/backups/{b['id']}", {"backup": {"name": "n"}}, version="3.9")
    assert r.status_code == 200 and set(r.json()["backup"]) == {"id", "name", "links"}
    admin("DELETE", f"/backups/{b['id']}")
    for _ in range(200):
        if admin("GET", f"/backups/{b['id']}").status_code == 404:
            break
    admin("DELETE", f"/volumes/{vol['id']}")


def test_show_host_usage_and_service_host_filter(admin, cloud):
    hosts = admin("GET", "/os-hosts").json()["hosts"]
    vol_host = next(h["host_name"] for h in hosts if h["service"] == "cinder-volume")
    r = admin("GET", f"/os-hosts/{vol_host}")
    assert r.status_code == 200, r.text
    rows = r.json()["host"]
    assert rows[0]["resource"]["project"] == "(total)"
    assert all(isinstance(v, str) for row in rows for v in row["resource"].values())
    assert admin("GET", "/os-hosts/no-such-host").status_code == 404
    bare = vol_host.split("@")[0]
    found = admin("GET", "/os-services", params={"host": bare,
                                                 "binary": "cinder-volume"}).json()
    assert [s["binary"] for s in found["services"]] == ["cinder-volume"]
    r = admin("PUT", "/os-services/disable", {"host": vol_host, "binary": "cinder-volume"})
    assert r.json()["service"] == "cinder-volume" and r.json()["disabled"] is True
    admin("PUT", "/os-services/enable", {"host": vol_host, "binary": "cinder-volume"})
    r = admin("PUT", "/os-services/disable-log-reason",
              {"host": vol_host, "binary": "cinder-volume"})
    assert r.status_code == 400 and "disabled_reason" in r.text


def test_backup_record_imported_under_a_new_id(admin):
    import base64
    import json

    vol = admin("POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]
    b = admin("POST", "/backups", {"backup": {"volume_id": vol["id"]}}).json()["backup"]
    for _ in range(200):
        if admin("GET", f"/backups/{b['id']}").json()["backup"]["status"] == "available":
            break
    rec = admin("GET", f"/backups/{b['id']}/export_record").json()["backup-record"]
    assert rec["backup_service"].startswith("cinder.backup.drivers")
    data = json.loads(base64.b64decode(rec["backup_url"]))
    new_id = str(uuid.uuid4())
    data["id"] = new_id
    url = base64.b64encode(json.dumps(data).encode()).decode()
    r = admin("POST", "/backups/import_record", {"backup-record": {
        "backup_service": rec["backup_service"], "backup_url": url}})
    assert r.status_code == 201, r.text
    assert r.json()["backup"]["id"] == new_id
    admin("DELETE", f"/backups/{b['id']}")  # the copy keeps its data
    for _ in range(200):
        if admin("GET", f"/backups/{b['id']}").status_code == 404:
            break
    r = admin("POST", f"/backups/{new_id}/restore", {"restore": {}})
    assert r.status_code == 202, r.text
    restored = r.json()["restore"]["volume_id"]
    for _ in range(200):
        if admin("GET", f"/volumes/{restored}").json()["volume"]["status"] == "available":
            break
    assert admin("GET", f"/volumes/{restored}").json()["volume"]["status"] == "available"
    admin("DELETE", f"/backups/{new_id}")
    for v in (restored, vol["id"]):
        admin("DELETE", f"/volumes/{v}")


def test_retype_follows_the_multiattach_of_the_new_type(cloud):
    from volume_helpers import wait_resource

    plain = cloud.cli("volume", "type", "create", f"plain-{uuid.uuid4().hex[:6]}", "-f", "json")
    multi = cloud.cli("volume", "type", "create", "--property", "multiattach=<is> True",
                      f"multi-{uuid.uuid4().hex[:6]}", "-f", "json")
    vol = cloud.cli("volume", "create", "--size", "1", "--type", plain["name"],
                    f"rt-{uuid.uuid4().hex[:6]}", "-f", "json")
    wait_resource(cloud, "volumes", vol["id"])
    for vtype, flag in ((multi, True), (plain, False)):
        cloud.cli("volume", "set", "--type", vtype["name"], "--retype-policy", "never",
                  vol["id"])
        shown = cloud.cli("volume", "show", vol["id"], "-f", "json")
        assert shown["type"] == vtype["name"] and shown["multiattach"] is flag
    cloud.cli("volume", "delete", vol["id"])
