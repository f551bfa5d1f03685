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
