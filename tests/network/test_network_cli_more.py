"""More of the Done-when with the real CLI: network quotas set/list/delete, IP
availability, and Neutron's filter validation (unknown filters are a 400)."""

from __future__ import annotations

import requests


def test_network_quota_set_list_delete(cloud):
    cloud.cli("quota", "set", "--ports", "77", "--networks", "9", "--routers", "4", "demo")
    shown = cloud.cli("quota", "show", "--network", "demo", "-f", "json")
    values = {r["Resource"]: r["Limit"] for r in shown} if isinstance(shown, list) else shown
    assert values["ports"] == 77 and values["networks"] == 9 and values["routers"] == 4
    listed = cloud.cli("quota", "list", "--network", "-f", "json")
    demo = cloud.cli("project", "show", "demo", "-f", "json")["id"]
    assert any(r["Project ID"] == demo and r["Ports"] == 77 for r in listed), listed
    cloud.cli("quota", "delete", "--network", "demo")
    shown = cloud.cli("quota", "show", "--network", "demo", "-f", "json")
    values = {r["Resource"]: r["Limit"] for r in shown} if isinstance(shown, list) else shown
    assert values["ports"] == 500 and values["networks"] == 100


def test_ip_availability_cli(cloud):
    rows = cloud.cli("ip", "availability", "list", "-f", "json")
    private = cloud.cli("network", "show", "private", "-f", "json")
    row = next(r for r in rows if r["Network ID"] == private["id"])
    assert row["Total IPs"] == 61  # 10.0.0.0/26 less network, broadcast and gateway
    shown = cloud.cli("ip", "availability", "show", "private", "-f", "json")
    assert shown["network_name"] == "private" and shown["total_ips"] == 61
    assert shown["used_ips"] >= 1  # router1's interface at least


def test_unknown_filters_are_rejected(cloud):
    token = cloud.token("pocketstack-admin")
    for path in ("networks", "subnets", "ports", "routers", "floatingips", "security-groups",
                 "security-group-rules", "rbac-policies", "subnetpools"):
        r = requests.get(cloud.url(9696, f"/v2.0/{path}"), params={"no_such_attr": "x"},
                         headers={"X-Auth-Token": token})
        assert r.status_code == 400, (path, r.text)
        err = r.json()["NeutronError"]
        assert err["type"] == "HTTPBadRequest"
        assert err["message"] == "[no_such_attr] is invalid attribute for filtering"
    # known attributes, control parameters and the structured fixed_ips filter still work
    r = requests.get(cloud.url(9696, "/v2.0/ports"), headers={"X-Auth-Token": token},
                     params=[("device_owner", "network:router_interface"), ("fields", "id"),
                             ("fixed_ips", "subnet_id=nope"), ("sort_key", "name"),
                             ("limit", "5")])
    assert r.status_code == 200 and r.json()["ports"] == []
    r = requests.get(cloud.url(9696, "/v2.0/networks"), headers={"X-Auth-Token": token},
                     params={"router:external": "true", "shared": "false"})
    assert [n["name"] for n in r.json()["networks"]] == ["public"]
    exts = {e["Alias"] for e in cloud.cli("extension", "list", "--network", "-f", "json")}
    assert "filter-validation" in exts
