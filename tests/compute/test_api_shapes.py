"""Request and reply shapes Tempest's full compute suite checks (Nova's schemas)."""

from __future__ import annotations

from compute_helpers import api, name


def test_flavor_create_accepts_nova_spellings(cloud):
    fid = 900000 + int(name("f").split("-")[1], 16) % 99999
    body = {"flavor": {"name": name("flv"), "ram": "64", "vcpus": 1, "disk": 0, "id": fid,
                       "os-flavor-access:is_public": "True"}}
    r = api(cloud, "POST", "/flavors", json=body)
    assert r.status_code == 200, r.text
    flavor = r.json()["flavor"]
    assert flavor["id"] == str(fid) and flavor["os-flavor-access:is_public"] is True
    assert flavor["ram"] == 64
    bad = {"flavor": {**body["flavor"], "id": None, "os-flavor-access:is_public": "maybe"}}
    r = api(cloud, "POST", "/flavors", json=bad)
    assert r.status_code == 400 and "is_public" in r.json()["badRequest"]["message"]
    assert api(cloud, "DELETE", f"/flavors/{fid}").status_code == 202


def test_aggregate_create_reply_has_no_hosts_or_metadata(cloud):
    r = api(cloud, "POST", "/os-aggregates", json={"aggregate": {"name": name("agg")}})
    assert r.status_code == 200, r.text
    agg = r.json()["aggregate"]
    assert "hosts" not in agg and "metadata" not in agg and agg["name"]
    shown = api(cloud, "GET", f"/os-aggregates/{agg['id']}").json()["aggregate"]
    assert shown["hosts"] == [] and shown["metadata"] == {}
    assert api(cloud, "DELETE", f"/os-aggregates/{agg['id']}").status_code == 200
