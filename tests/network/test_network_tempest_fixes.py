"""Behaviours Tempest's interop network tests check: extra routes cleared with null,
overlapping router interfaces, security group rule port values, subnets of external networks."""

from __future__ import annotations

import uuid

import pytest
import requests


class Api:
    def __init__(self, cloud, user: str = "pocketstack-admin") -> None:
        self.base = cloud.url(9696)
        self.headers = {"X-Auth-Token": cloud.token(user)}

    def __call__(self, method: str, path: str, body=None, **params):
        return requests.request(method, self.base + path, json=body, params=params or None,
                                headers=self.headers, timeout=30)


@pytest.fixture(scope="module")
def api(cloud):
    return Api(cloud)


def _net_subnet(api, cidr):
    net = api("POST", "/v2.0/networks", {"network": {"name": "tf-" + uuid.uuid4().hex[:6]}})
    net = net.json()["network"]
    sub = api("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr,
                                                   "ip_version": 4}})
    assert sub.status_code == 201, sub.text
    return net, sub.json()["subnet"]


def test_routes_null_clears_and_overlapping_interfaces(api):
    router = api("POST", "/v2.0/routers", {"router": {"name": "tf-r"}}).json()["router"]
    _, sub1 = _net_subnet(api, "10.71.0.0/28")
    _, sub2 = _net_subnet(api, "10.71.0.0/28")  # same CIDR on another network
    path = f"/v2.0/routers/{router['id']}"
    r = api("PUT", path + "/add_router_interface", {"subnet_id": sub1["id"]})
    assert r.status_code == 200, r.text
    r = api("PUT", path + "/add_router_interface", {"subnet_id": sub2["id"]})
    assert r.status_code == 400, r.text
    assert "overlaps" in r.json()["NeutronError"]["message"]
    routes = [{"destination": "192.168.5.0/24", "nexthop": "10.71.0.3"}]
    r = api("PUT", path, {"router": {"routes": routes}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == routes
    r = api("PUT", path, {"router": {"routes": None}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == []
    assert api("GET", path).json()["router"]["routes"] == []
    r = api("PUT", path, {"router": {"routes": "nope"}})
    assert r.status_code == 400


@pytest.mark.parametrize("proto,pmin,pmax,text", [
    ("tcp", -16, 80, "Invalid value for port -16"),
    ("tcp", 80, 79, "port_range_min must be <= port_range_max"),
    ("tcp", 80, 65536, "Invalid value for port 65536"),
    ("tcp", None, 6, "port_range_min must be <= port_range_max"),
    ("icmp", 1, 256, "Invalid value for ICMP code"),
    ("icmp", -1, 25, "Invalid value"),
    ("icmp", None, 6, "ICMP type (port-range-min) is missing"),
    ("icmp", 300, 1, "Invalid value for ICMP type"),
    ("tcp", "x", 1, "is not an integer"),
])
def test_rule_port_values(api, proto, pmin, pmax, text):
    sg = api("POST", "/v2.0/security-groups", {"security_group": {"name": "tf-sg"}})
    sg_id = sg.json()["security_group"]["id"]
    r = api("POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg_id, "direction": "ingress", "protocol": proto,
        "port_range_min": pmin, "port_range_max": pmax}})
    assert r.status_code == 400, r.text
    assert text in r.json()["NeutronError"]["message"]
    api("DELETE", f"/v2.0/security-groups/{sg_id}")


def test_external_subnets_visible_with_extension(cloud, api):
    demo = Api(cloud, "pocketstack")
    aliases = {e["alias"] for e in demo("GET", "/v2.0/extensions").json()["extensions"]}
    assert "subnet-external-network" in aliases
    public = demo("GET", "/v2.0/networks", **{"router:external": "True"}).json()["networks"]
    assert public and all(n["router:external"] for n in public)
    subs = demo("GET", "/v2.0/subnets", network_id=public[0]["id"]).json()["subnets"]
    assert subs and all(s["router:external"] is True for s in subs)
    _, private = _net_subnet(api, "10.72.0.0/28")
    assert private["router:external"] is False


def test_security_group_cannot_be_renamed_default(api):
    sg = api("POST", "/v2.0/security-groups", {"security_group": {"name": "tf-rename"}})
    sg_id = sg.json()["security_group"]["id"]
    r = api("PUT", f"/v2.0/security-groups/{sg_id}", {"security_group": {"name": "default"}})
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "SecurityGroupDefaultAlreadyExists"
    api("DELETE", f"/v2.0/security-groups/{sg_id}")


def test_external_network_deleted_with_unassociated_floating_ips(api):
    net = api("POST", "/v2.0/networks", {"network": {"name": "tf-ext",
                                                     "router:external": True}})
    net = net.json()["network"]
    sub = api("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                   "cidr": "172.31.9.0/28",
                                                   "enable_dhcp": False}}).json()["subnet"]
    fip = api("POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": net["id"]}})
    assert fip.status_code == 201, fip.text
    assert api("DELETE", f"/v2.0/networks/{net['id']}").status_code == 204
    fip_id = fip.json()["floatingip"]["id"]
    assert api("GET", f"/v2.0/floatingips/{fip_id}").status_code == 404
    assert api("GET", f"/v2.0/subnets/{sub['id']}").status_code == 404
