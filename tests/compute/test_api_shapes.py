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


def test_legacy_v2_version_document(cloud):
    import requests

    listed = requests.get(cloud.url(8774, "/"), timeout=10).json()["versions"]
    for v in listed:
        href = v["links"][0]["href"]
        r = requests.get(href, timeout=10)
        assert r.status_code == 200, (href, r.text)
        assert r.json()["version"]["id"] == v["id"]


def test_image_metadata_proxy(cloud):
    conn = cloud.conn()
    image = conn.image.create_image(name=name("img"), disk_format="raw",
                                    container_format="bare", visibility="private")
    base = f"/images/{image.id}/metadata"
    r = api(cloud, "POST", base, version="2.35", json={"metadata": {"a": "1", "b": "2"}})
    assert r.status_code == 200, r.text
    assert {k: v for k, v in r.json()["metadata"].items() if k in "ab"} == {"a": "1", "b": "2"}
    r = api(cloud, "PUT", f"{base}/a", version="2.35", json={"meta": {"a": "9"}})
    assert r.status_code == 200 and r.json() == {"meta": {"a": "9"}}, r.text
    r = api(cloud, "PUT", f"{base}/a", version="2.35", json={"meta": {"z": "9"}})
    assert r.status_code == 400
    r = api(cloud, "PUT", base, version="2.35", json={"metadata": {"c": "3"}})
    assert r.json()["metadata"] == {"c": "3"}
    assert api(cloud, "DELETE", f"{base}/c", version="2.35").status_code == 204
    assert api(cloud, "DELETE", f"{base}/c", version="2.35").status_code == 404
    assert api(cloud, "GET", base, version="2.35").json() == {"metadata": {}}
    assert conn.image.get_image(image.id).properties.get("c") is None
    assert api(cloud, "GET", base, version="2.36").status_code == 404  # proxy gone in 2.36
    conn.image.delete_image(image.id)
