"""Networking through the real ``openstack`` CLI."""

from __future__ import annotations

import uuid


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_default_topology(cloud):
    nets = {n["Name"]: n for n in cloud.cli("network", "list", "-f", "json")}
    assert {"public", "private"} <= set(nets)
    public = cloud.cli("network", "show", "public", "-f", "json")
    assert public["router:external"] is True and public["shared"] is False
    sub = cloud.cli("subnet", "show", "public-subnet", "-f", "json")
    assert sub["cidr"] == "172.24.4.0/24" and sub["gateway_ip"] == "172.24.4.1"
    demo = cloud.cli("network", "show", "private", "-f", "json", cloud="pocketstack")
    priv = cloud.cli("subnet", "show", "private-subnet", "-f", "json", cloud="pocketstack")
    assert priv["cidr"] == "10.0.0.0/26" and priv["subnetpool_id"]
    router = cloud.cli("router", "show", "router1", "-f", "json", cloud="pocketstack")
    assert router["project_id"] == demo["project_id"]
    assert router["external_gateway_info"]["network_id"] == public["id"]
    assert [i["subnet_id"] for i in router["interfaces_info"]] == [priv["id"]]
    pools = cloud.cli("subnet", "pool", "list", "-f", "json")
    assert any(p["Name"] == "shared-default-subnetpool-v4" for p in pools)


def test_network_lifecycle(cloud):
    name = _name("net")
    net = cloud.cli("network", "create", "--share", "--mtu", "1400", "--description", "hello",
                    "--disable-port-security", "--tag", "red", name, "-f", "json")
    assert net["mtu"] == 1400 and net["shared"] is True and net["description"] == "hello"
    assert net["port_security_enabled"] is False and net["tags"] == ["red"]
    assert net["revision_number"] >= 0 and net["created_at"].endswith("Z")
    cloud.cli("network", "set", "--no-share", "--enable-port-security", "--name", name + "x",
              name)
    shown = cloud.cli("network", "show", name + "x", "-f", "json")
    assert shown["shared"] is False and shown["port_security_enabled"] is True
    assert shown["revision_number"] > net["revision_number"]
    ext = cloud.cli("network", "create", "--external", _name("ext"), "-f", "json")
    assert ext["router:external"] is True
    listed = cloud.cli("network", "list", "--external", "-f", "json")
    assert ext["id"] in {n["ID"] for n in listed} and net["id"] not in {n["ID"] for n in listed}
    cloud.cli("network", "delete", name + "x", ext["id"])
    assert name + "x" not in {n["Name"] for n in cloud.cli("network", "list", "-f", "json")}


def test_subnets_v4_v6_and_pool(cloud):
    net = _name("net")
    cloud.cli("network", "create", net)
    sub = cloud.cli("subnet", "create", "--network", net, "--subnet-range", "10.20.0.0/24",
                    "--allocation-pool", "start=10.20.0.10,end=10.20.0.100",
                    "--gateway", "10.20.0.254", "--dns-nameserver", "8.8.8.8",
                    "--host-route", "destination=10.30.0.0/16,gateway=10.20.0.5",
                    "--no-dhcp", _name("sub"), "-f", "json")
    assert sub["gateway_ip"] == "10.20.0.254" and sub["enable_dhcp"] is False
    assert sub["allocation_pools"] == [{"start": "10.20.0.10", "end": "10.20.0.100"}]
    assert sub["dns_nameservers"] == ["8.8.8.8"]
    assert sub["host_routes"] == [{"destination": "10.30.0.0/16", "nexthop": "10.20.0.5"}]
    v6 = cloud.cli("subnet", "create", "--network", net, "--ip-version", "6",
                   "--subnet-range", "fd00:1::/64", "--ipv6-ra-mode", "slaac",
                   "--ipv6-address-mode", "slaac", _name("sub6"), "-f", "json")
    assert v6["ip_version"] == 6 and v6["gateway_ip"] == "fd00:1::1"
    pool = _name("pool")
    cloud.cli("subnet", "pool", "create", "--pool-prefix", "10.200.0.0/16",
              "--default-prefix-length", "24", pool)
    a = cloud.cli("subnet", "create", "--network", net, "--subnet-pool", pool,
                  "--prefix-length", "26", _name("sp"), "-f", "json")
    b = cloud.cli("subnet", "create", "--network", net, "--subnet-pool", pool,
                  _name("sp"), "-f", "json")
    assert a["cidr"] == "10.200.0.0/26" and b["cidr"] == "10.200.1.0/24"
    port = cloud.cli("port", "create", "--network", net, _name("p"), "-f", "json")
    ips = [f["ip_address"] for f in port["fixed_ips"]]
    assert "10.20.0.10" in ips and any(ip.startswith("fd00:1::") for ip in ips)
    proc = cloud.cli("subnet", "delete", sub["id"], check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("port", "delete", port["id"])
    cloud.cli("subnet", "delete", sub["id"])


def test_port_options(cloud):
    net = _name("net")
    cloud.cli("network", "create", net)
    cloud.cli("subnet", "create", "--network", net, "--subnet-range", "10.21.0.0/24", net)
    sg = cloud.cli("security", "group", "create", _name("sg"), "-f", "json")
    port = cloud.cli("port", "create", "--network", net, "--fixed-ip",
                     "subnet=" + net + ",ip-address=10.21.0.50", "--mac-address",
                     "fa:16:3e:12:34:56", "--device-owner", "compute:nova", "--device", "vm-1",
                     "--host", "compute-1", "--security-group", sg["id"], "--allowed-address",
                     "ip-address=10.21.0.200", _name("p"), "-f", "json")
    assert port["fixed_ips"][0]["ip_address"] == "10.21.0.50"
    assert port["mac_address"] == "fa:16:3e:12:34:56" and port["device_id"] == "vm-1"
    assert port["binding_host_id"] == "compute-1" and port["security_group_ids"] == [sg["id"]]
    assert port["allowed_address_pairs"][0]["ip_address"] == "10.21.0.200"
    proc = cloud.cli("port", "create", "--network", net, "--fixed-ip",
                     "ip-address=10.21.0.50", _name("p"), check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("port", "set", "--name", "renamed", "--no-allowed-address", port["id"])
    shown = cloud.cli("port", "show", port["id"], "-f", "json")
    assert shown["name"] == "renamed" and shown["allowed_address_pairs"] == []


def test_router_and_floating_ip(cloud):
    demo = "pocketstack"
    net, router = _name("net"), _name("r")
    cloud.cli("network", "create", net, cloud=demo)
    sub = cloud.cli("subnet", "create", "--network", net, "--subnet-range", "10.22.0.0/24",
                    net, "-f", "json", cloud=demo)
    cloud.cli("router", "create", router, cloud=demo)
    cloud.cli("router", "set", "--external-gateway", "public", router, cloud=demo)
    cloud.cli("router", "add", "subnet", router, sub["id"], cloud=demo)
    shown = cloud.cli("router", "show", router, "-f", "json", cloud=demo)
    assert shown["external_gateway_info"]["external_fixed_ips"]
    assert shown["interfaces_info"][0]["ip_address"] == "10.22.0.1"
    port = cloud.cli("port", "create", "--network", net, _name("p"), "-f", "json", cloud=demo)
    fip = cloud.cli("floating", "ip", "create", "public", "-f", "json", cloud=demo)
    assert fip["floating_ip_address"].startswith("172.24.4.")
    cloud.cli("floating", "ip", "set", "--port", port["id"], fip["floating_ip_address"],
              cloud=demo)
    fip2 = cloud.cli("floating", "ip", "show", fip["id"], "-f", "json", cloud=demo)
    assert fip2["port_id"] == port["id"] and fip2["router_id"] == shown["id"]
    assert fip2["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    proc = cloud.cli("router", "delete", router, check=False, cloud=demo)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("floating", "ip", "delete", fip["id"], cloud=demo)
    cloud.cli("port", "delete", port["id"], cloud=demo)
    cloud.cli("router", "remove", "subnet", router, sub["id"], cloud=demo)
    cloud.cli("router", "delete", router, cloud=demo)
    cloud.cli("network", "delete", net, cloud=demo)


def test_security_groups(cloud):
    demo = "pocketstack-alt"
    groups = cloud.cli("security", "group", "list", "-f", "json", cloud=demo)
    default = [g for g in groups if g["Name"] == "default"]
    assert len(default) == 1
    rules = cloud.cli("security", "group", "rule", "list", default[0]["ID"], "-f", "json",
                      cloud=demo)
    assert len(rules) == 4
    name = _name("sg")
    cloud.cli("security", "group", "create", "--description", "web", name, cloud=demo)
    r = cloud.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
                  "80:81", "--remote-ip", "10.0.0.0/8", name, "-f", "json", cloud=demo)
    assert (r["port_range_min"], r["port_range_max"], r["protocol"]) == (80, 81, "tcp")
    proc = cloud.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
                     "80:81", "--remote-ip", "10.0.0.0/8", name, check=False, cloud=demo)
    assert proc.returncode != 0 and "409" in proc.stderr
    icmp = cloud.cli("security", "group", "rule", "create", "--protocol", "icmp",
                     "--icmp-type", "8", name, "-f", "json", cloud=demo)
    assert icmp["port_range_min"] == 8
    num = cloud.cli("security", "group", "rule", "create", "--protocol", "17", "--ethertype",
                    "IPv6", "--remote-group", name, "--ingress", name, "-f", "json", cloud=demo)
    assert num["protocol"] == "17" and num["remote_group_id"]
    proc = cloud.cli("security", "group", "rule", "create", "--protocol", "gre",
                     "--dst-port", "22", name, check=False, cloud=demo)
    assert proc.returncode != 0 and "400" in proc.stderr
    cloud.cli("security", "group", "delete", name, cloud=demo)
    names = {g["Name"] for g in cloud.cli("security", "group", "list", "-f", "json",
                                          cloud=demo)}
    assert name not in names


def test_rbac_quota_extensions_zones_agents(cloud):
    net = _name("net")
    cloud.cli("network", "create", net)
    assert net not in {n["Name"] for n in cloud.cli("network", "list", "-f", "json",
                                                    cloud="pocketstack")}
    rbac = cloud.cli("network", "rbac", "create", "--target-project", "demo", "--action",
                     "access_as_shared", "--type", "network", net, "-f", "json")
    assert rbac["action"] == "access_as_shared"
    assert net in {n["Name"] for n in cloud.cli("network", "list", "-f", "json",
                                                cloud="pocketstack")}
    rows = cloud.cli("quota", "show", "--network", "demo", "-f", "json")
    quota = {r["Resource"]: r["Limit"] for r in rows}
    assert (quota["networks"], quota["ports"], quota["routers"], quota["subnets"],
            quota["floating_ips"], quota["security_groups"],
            quota["security_group_rules"]) == (100, 500, 10, 100, 50, 10, 100)
    aliases = {e["Alias"] for e in cloud.cli("extension", "list", "--network", "-f", "json")}
    assert {"router", "external-net", "security-group", "quotas", "binding",
            "standard-attr-tag", "rbac-policies", "subnet_allocation"} <= aliases
    zones = cloud.cli("availability", "zone", "list", "--network", "-f", "json")
    assert {z["Zone Name"] for z in zones} == {"nova"}
    assert cloud.cli("network", "agent", "list", "-f", "json") == []
