"""Neutron's HTTP conventions, checked with raw requests: errors, fields, filters, paging,
sorting, revisions, tags, IPAM conflicts."""

from __future__ import annotations

import uuid

import pytest
import requests


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    def __init__(self, cloud, user: str = "pocketstack-admin") -> None:
        self.base = cloud.url(9696)
        self.headers = {"X-Auth-Token": cloud.token(user)}

    def __call__(self, method: str, path: str, body=None, headers=None, **params):
        return requests.request(method, self.base + path, json=body, params=params or None,
                                headers={**self.headers, **(headers or {})}, timeout=30)


@pytest.fixture(scope="module")
def api(cloud):
    return Api(cloud)


@pytest.fixture(scope="module")
def demo(cloud):
    return Api(cloud, "pocketstack")


def _net(api, cidr="10.60.0.0/29", **extra):
    net = api("POST", "/v2.0/networks", {"network": {"name": _name("n"), **extra}}).json()
    sub = api("POST", "/v2.0/subnets", {"subnet": {"network_id": net["network"]["id"],
                                                   "cidr": cidr, "ip_version": 4}})
    assert sub.status_code == 201, sub.text
    return net["network"], sub.json()["subnet"]


def test_version_discovery(cloud):
    root = requests.get(cloud.url(9696, "/"), timeout=10).json()
    assert root["versions"][0]["id"] == "v2.0"
    res = requests.get(cloud.url(9696, "/v2.0"), timeout=10).json()
    assert "networks" in {r["collection"] for r in res["resources"]}


def test_error_bodies(api):
    r = api("GET", "/v2.0/networks/" + str(uuid.uuid4()))
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert r.json()["NeutronError"]["detail"] == ""
    for path, kind in (("subnets", "SubnetNotFound"), ("ports", "PortNotFound"),
                       ("routers", "RouterNotFound")):
        r = api("GET", f"/v2.0/{path}/nope")
        assert (r.status_code, r.json()["NeutronError"]["type"]) == (404, kind)
    r = api("POST", "/v2.0/networks", {"network": {"bogus": 1}})
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "HTTPBadRequest"
    r = api("POST", "/v2.0/subnets", {"subnet": {"network_id": "x", "cidr": "nonsense"}})
    assert r.status_code == 404
    net, _ = _net(api, "10.61.0.0/24")
    r = api("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.61.0.0/25",
                                                 "ip_version": 4}})
    assert r.status_code == 400
    r = api("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "bad",
                                                 "ip_version": 4}})
    assert r.status_code == 400 and "NeutronError" in r.json()
    r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "zz"}})
    assert r.status_code == 400
    r = requests.post(api.base + "/v2.0/networks", data=b"{not json", headers=api.headers,
                      timeout=10)
    assert r.status_code == 400 and "NeutronError" in r.json()


def test_fields_filters_sort_and_pagination(api):
    tag = uuid.uuid4().hex[:8]
    ids = []
    for i in range(5):
        r = api("POST", "/v2.0/networks", {"network": {"name": f"pg-{tag}-{i}",
                                                       "admin_state_up": i % 2 == 0}})
        ids.append(r.json()["network"]["id"])
    r = api("GET", "/v2.0/networks", fields=["id", "name"], name=[f"pg-{tag}-1", f"pg-{tag}-3"])
    nets = r.json()["networks"]
    assert {n["name"] for n in nets} == {f"pg-{tag}-1", f"pg-{tag}-3"}
    assert all(set(n) == {"id", "name"} for n in nets)
    r = api("GET", "/v2.0/networks", id=ids, admin_state_up="False")
    assert {n["id"] for n in r.json()["networks"]} == {ids[1], ids[3]}
    r = api("GET", "/v2.0/networks", id=ids, sort_key="name", sort_dir="desc")
    assert [n["id"] for n in r.json()["networks"]] == ids[::-1]
    seen, url = [], "/v2.0/networks"
    params = {"id": ids, "sort_key": "name", "sort_dir": "asc", "limit": 2}
    for _ in range(5):
        body = api("GET", url, **params).json()
        seen += [n["id"] for n in body["networks"]]
        nxt = [lnk for lnk in body["networks_links"] if lnk["rel"] == "next"]
        if not nxt:
            break
        url, params = nxt[0]["href"].replace(api.base, ""), {}
    assert seen == ids
    r = api("GET", "/v2.0/networks/" + ids[0], fields="name")
    assert r.json() == {"network": {"name": f"pg-{tag}-0"}}
    r = api("GET", "/v2.0/networks", limit="x")
    assert r.status_code == 400


def test_revision_if_match_and_tags(api):
    net = api("POST", "/v2.0/networks", {"network": {"name": _name("rev")}}).json()["network"]
    rev = net["revision_number"]
    assert net["tenant_id"] == net["project_id"]
    r = api("PUT", f"/v2.0/networks/{net['id']}", {"network": {"description": "x"}},
            headers={"If-Match": f"revision_number={rev + 5}"})
    assert r.status_code == 412
    r = api("PUT", f"/v2.0/networks/{net['id']}", {"network": {"description": "x"}},
            headers={"If-Match": f"revision_number={rev}"})
    assert r.status_code == 200 and r.json()["network"]["revision_number"] == rev + 1
    r = api("PUT", f"/v2.0/networks/{net['id']}/tags", {"tags": ["a", "b"]})
    assert r.json() == {"tags": ["a", "b"]}
    assert api("PUT", f"/v2.0/networks/{net['id']}/tags/c").status_code == 201
    assert api("GET", f"/v2.0/networks/{net['id']}/tags/c").status_code == 204
    assert api("DELETE", f"/v2.0/networks/{net['id']}/tags/a").status_code == 204
    assert api("GET", f"/v2.0/networks/{net['id']}/tags/a").status_code == 404
    r = api("GET", "/v2.0/networks", tags="b,c")
    assert net["id"] in {n["id"] for n in r.json()["networks"]}
    r = api("GET", "/v2.0/networks", **{"not-tags-any": "c"})
    assert net["id"] not in {n["id"] for n in r.json()["networks"]}


def test_ipam_exhaustion_reuse_and_in_use(api):
    net, sub = _net(api, "10.62.0.0/29")  # 5 usable addresses besides the gateway
    assert sub["allocation_pools"] == [{"start": "10.62.0.2", "end": "10.62.0.6"}]
    ports = []
    for _ in range(5):
        r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})
        assert r.status_code == 201, r.text
        ports.append(r.json()["port"])
    assert len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 5
    avail = api("GET", f"/v2.0/network-ip-availabilities/{net['id']}").json()
    assert (avail["network_ip_availability"]["used_ips"],
            avail["network_ip_availability"]["total_ips"]) == (5, 5)
    r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    freed = ports[2]["fixed_ips"][0]["ip_address"]
    assert api("DELETE", f"/v2.0/ports/{ports[2]['id']}").status_code == 204
    r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert r.status_code == 201 and r.json()["port"]["fixed_ips"][0]["ip_address"] == freed
    r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": ports[0]["fixed_ips"][0]["ip_address"]}]}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "IpAddressInUse"
    r = api("DELETE", f"/v2.0/subnets/{sub['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "SubnetInUse"
    r = api("DELETE", f"/v2.0/networks/{net['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "NetworkInUse"
    # a DHCP port does not keep its subnet or network alive
    api("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "device_owner":
                                         "network:dhcp", "fixed_ips": []}})
    for p in api("GET", "/v2.0/ports", network_id=net["id"]).json()["ports"]:
        if p["device_owner"] != "network:dhcp":
            assert api("DELETE", f"/v2.0/ports/{p['id']}").status_code == 204
    assert api("DELETE", f"/v2.0/networks/{net['id']}").status_code == 204
    assert api("GET", f"/v2.0/subnets/{sub['id']}").status_code == 404


def test_security_group_rule_validation(api):
    sg = api("POST", "/v2.0/security-groups", {"security_group": {"name": _name("sg")}})
    sg = sg.json()["security_group"]
    assert {(r["direction"], r["ethertype"]) for r in sg["security_group_rules"]} == {
        ("egress", "IPv4"), ("egress", "IPv6")}

    def rule(**kw):
        return api("POST", "/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress", **kw}})

    assert rule(protocol="tcp", port_range_min=90, port_range_max=80).status_code == 400
    assert rule(protocol="tcp", port_range_min=22, port_range_max=22,
                remote_ip_prefix="::/0").status_code == 400
    assert rule(port_range_min=22, port_range_max=22).status_code == 400
    assert rule(protocol="nonsense").status_code == 400
    assert rule(protocol="icmp", port_range_max=3).status_code == 400
    assert rule(remote_ip_prefix="10.0.0.0/8", remote_group_id=sg["id"]).status_code == 400
    ok = rule(protocol="6", port_range_min=22, port_range_max=22)
    assert ok.status_code == 201
    dup = rule(protocol="tcp", port_range_min=22, port_range_max=22)
    assert dup.status_code == 409
    assert dup.json()["NeutronError"]["type"] == "SecurityGroupRuleExists"
    r = api("PUT", f"/v2.0/quotas/{sg['project_id']}", {"quota": {"security_group": 55}})
    assert r.json()["quota"]["security_group"] == 55
    d = api("GET", f"/v2.0/quotas/{sg['project_id']}/details").json()["quota"]
    assert d["security_group"]["limit"] == 55 and d["security_group"]["used"] >= 2
    assert api("DELETE", f"/v2.0/quotas/{sg['project_id']}").status_code == 204


def test_visibility_and_policy(api, demo):
    net = api("POST", "/v2.0/networks", {"network": {"name": _name("adm")}}).json()["network"]
    assert demo("GET", f"/v2.0/networks/{net['id']}").status_code == 404
    r = demo("POST", "/v2.0/networks", {"network": {"name": "x", "router:external": True}})
    assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    mine = demo("POST", "/v2.0/networks", {"network": {"name": _name("d")}}).json()["network"]
    listed = {n["id"] for n in demo("GET", "/v2.0/networks").json()["networks"]}
    assert mine["id"] in listed and net["id"] not in listed
    assert "provider:network_type" not in mine
    assert demo("DELETE", f"/v2.0/networks/{mine['id']}").status_code == 204


def test_port_fixed_ips_filter_update_and_fields_paging(api):
    net, sub = _net(api, "10.63.0.0/28")
    a = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}}).json()["port"]
    b = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}}).json()["port"]
    ip_b = b["fixed_ips"][0]["ip_address"]
    r = api("GET", "/v2.0/ports", fixed_ips=f"ip_address={ip_b}")
    assert [p["id"] for p in r.json()["ports"]] == [b["id"]]
    r = api("GET", "/v2.0/ports", fixed_ips=f"subnet_id={sub['id']}", fields="id")
    assert {p["id"] for p in r.json()["ports"]} == {a["id"], b["id"]}
    # keep the address on the subnet given by subnet_id only, add a chosen one
    r = api("PUT", f"/v2.0/ports/{a['id']}", {"port": {"fixed_ips": [
        {"subnet_id": sub["id"]}, {"ip_address": "10.63.0.14"}]}})
    assert r.status_code == 200, r.text
    ips = [f["ip_address"] for f in r.json()["port"]["fixed_ips"]]
    assert ips == [a["fixed_ips"][0]["ip_address"], "10.63.0.14"]
    r = api("PUT", f"/v2.0/ports/{a['id']}", {"port": {"fixed_ips": [
        {"ip_address": "10.63.0.14"}]}})
    assert [f["ip_address"] for f in r.json()["port"]["fixed_ips"]] == ["10.63.0.14"]
    # paging with fields that leave out the id still links to the next page
    body = api("GET", "/v2.0/ports", network_id=net["id"], fields="name", limit=1).json()
    assert list(body["ports"][0]) == ["name"]
    assert [lnk["rel"] for lnk in body["ports_links"]] == ["next"]
    assert "marker=" in body["ports_links"][0]["href"]


def test_bulk_atomic_quota_and_extraroutes(api):
    net, sub = _net(api, "10.64.0.0/28")
    r = api("POST", "/v2.0/ports", {"ports": [{"network_id": net["id"]},
                                              {"network_id": net["id"]}]})
    assert r.status_code == 201 and len(r.json()["ports"]) == 2
    before = len(api("GET", "/v2.0/ports", network_id=net["id"]).json()["ports"])
    r = api("POST", "/v2.0/ports", {"ports": [{"network_id": net["id"]},
                                              {"network_id": "missing"}]})
    assert r.status_code == 404
    assert len(api("GET", "/v2.0/ports", network_id=net["id"]).json()["ports"]) == before
    # network revision moves with its subnets
    rev = api("GET", f"/v2.0/networks/{net['id']}").json()["network"]["revision_number"]
    assert rev >= 1
    # over quota
    project = net["project_id"]
    used = api("GET", f"/v2.0/quotas/{project}/details").json()["quota"]["router"]["used"]
    api("PUT", f"/v2.0/quotas/{project}", {"quota": {"router": used + 1}})
    try:
        ok = api("POST", "/v2.0/routers", {"router": {"name": _name("r")}})
        assert ok.status_code == 201
        r = api("POST", "/v2.0/routers", {"router": {"name": _name("r")}})
        assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "OverQuota"
    finally:
        api("DELETE", f"/v2.0/quotas/{project}")
    router = ok.json()["router"]
    api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    r = api("DELETE", f"/v2.0/subnets/{sub['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "SubnetInUse"
    route = {"destination": "192.168.50.0/24", "nexthop": "10.64.0.9"}
    r = api("PUT", f"/v2.0/routers/{router['id']}/add_extraroutes",
            {"router": {"routes": [route]}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == [route]
    r = api("PUT", f"/v2.0/routers/{router['id']}/add_extraroutes",
            {"router": {"routes": [{"destination": "192.168.51.0/24", "nexthop": "1.2.3.4"}]}})
    assert r.status_code == 400
    r = api("PUT", f"/v2.0/routers/{router['id']}/remove_extraroutes",
            {"router": {"routes": [route]}})
    assert r.json()["router"]["routes"] == []
    stale = api("DELETE", f"/v2.0/routers/{router['id']}",
                headers={"If-Match": "revision_number=999"})
    assert stale.status_code == 412


def test_bad_input_is_4xx_never_5xx(api):
    net, sub = _net(api, "10.65.0.0/28")
    sg = api("POST", "/v2.0/security-groups", {"security_group": {"name": _name("sg")}})
    sg = sg.json()["security_group"]
    base = {"subnets": {"network_id": net["id"], "cidr": "10.66.0.0/24", "ip_version": 4},
            "ports": {"network_id": net["id"]},
            "security-group-rules": {"security_group_id": sg["id"], "direction": "ingress"},
            "subnetpools": {"name": "x", "prefixes": ["10.150.0.0/16"]},
            "rbac-policies": {"object_type": "network", "object_id": net["id"],
                              "action": "access_as_shared", "target_tenant": "x"}}
    fields = {
        "networks": ["name", "mtu", "shared", "admin_state_up", "tags", "project_id"],
        "subnets": ["network_id", "cidr", "ip_version", "gateway_ip", "allocation_pools",
                    "dns_nameservers", "host_routes", "subnetpool_id", "prefixlen"],
        "ports": ["network_id", "fixed_ips", "mac_address", "security_groups",
                  "allowed_address_pairs", "binding:vnic_type", "extra_dhcp_opts"],
        "routers": ["external_gateway_info", "admin_state_up"],
        "security-group-rules": ["security_group_id", "protocol", "port_range_min",
                                 "remote_ip_prefix", "remote_group_id", "ethertype"],
        "subnetpools": ["prefixes", "default_prefixlen", "min_prefixlen", "name"],
        "rbac-policies": ["object_type", "object_id", "target_tenant"],
    }
    member = {"networks": "network", "subnets": "subnet", "ports": "port",
              "routers": "router", "security-group-rules": "security_group_rule",
              "subnetpools": "subnetpool", "rbac-policies": "rbac_policy"}
    junk = [5, "x", [1], [{"a": 1}], {"k": 5}, True, "10.0.0.0/33",
            [{"subnet_id": 5}], [{"start": 5, "end": "x"}]]
    for coll, names in fields.items():
        for field in names:
            for value in junk:
                body = {**base.get(coll, {}), field: value}
                r = api("POST", f"/v2.0/{coll}", {member[coll]: body})
                assert r.status_code < 500, (coll, field, value, r.text)
                if r.status_code >= 400:
                    assert "NeutronError" in r.json()
    for value in (5, [1], {"k": 1}, [{"ip_address": 7}]):
        r = api("PUT", f"/v2.0/ports/{sub['id']}", {"port": {"fixed_ips": value}})
        assert 400 <= r.status_code < 500
    r = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"],
                                             "fixed_ips": [{"ip_address": "10.65.0.0"}]}})
    assert r.status_code == 400


def test_rbac_shares_security_group(api, demo):
    sg = api("POST", "/v2.0/security-groups", {"security_group": {"name": _name("sh")}})
    sg = sg.json()["security_group"]
    assert demo("GET", f"/v2.0/security-groups/{sg['id']}").status_code == 404
    target = demo("GET", "/v2.0/networks", name="private").json()["networks"][0]["project_id"]
    r = api("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "security_group", "object_id": sg["id"], "action": "access_as_shared",
        "target_tenant": target}})
    assert r.status_code == 201, r.text
    assert demo("GET", f"/v2.0/security-groups/{sg['id']}").status_code == 200
    dup = api("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "security_group", "object_id": sg["id"], "action": "access_as_shared",
        "target_tenant": target}})
    assert dup.status_code == 409
    assert api("DELETE", f"/v2.0/rbac-policies/{r.json()['rbac_policy']['id']}").status_code \
        == 204
    assert demo("GET", f"/v2.0/security-groups/{sg['id']}").status_code == 404


def test_slaac_subnet_addresses_existing_ports(api):
    net, sub = _net(api, "10.67.0.0/28")
    port = api("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}}).json()["port"]
    v6 = api("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "fd67::/64", "ip_version": 6,
        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}}).json()["subnet"]
    fixed = api("GET", f"/v2.0/ports/{port['id']}").json()["port"]["fixed_ips"]
    mac = port["mac_address"].split(":")
    # EUI-64 from the MAC: flip the universal/local bit, insert ff:fe
    iid = f"{int(mac[0], 16) ^ 2:02x}{mac[1]}:{mac[2]}ff:fe{mac[3]}:{mac[4]}{mac[5]}"
    import ipaddress
    expected = str(ipaddress.ip_address(f"fd67::{iid}"))
    assert {f["subnet_id"]: f["ip_address"] for f in fixed}[v6["id"]] == expected
    assert api("DELETE", f"/v2.0/subnets/{v6['id']}").status_code == 204
    fixed = api("GET", f"/v2.0/ports/{port['id']}").json()["port"]["fixed_ips"]
    assert [f["subnet_id"] for f in fixed] == [sub["id"]]
