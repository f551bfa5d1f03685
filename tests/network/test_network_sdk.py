"""Networking through openstacksdk, and the in-process API compute uses."""

from __future__ import annotations

import uuid

from openstack import exceptions


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sdk_network_subnet_port(cloud):
    conn = cloud.conn("pocketstack")
    net = conn.network.create_network(name=_name("sdk"))
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.80.0.0/28", ip_version=4,
                                     name=_name("sub"))
    port = conn.network.create_port(network_id=net.id, name=_name("p"))
    assert port.fixed_ips[0]["ip_address"] == "10.80.0.2"
    assert port.security_group_ids and port.mac_address.startswith("fa:16:3e:")
    default = conn.network.find_security_group("default", project_id=net.project_id)
    assert port.security_group_ids == [default.id]
    conn.network.set_tags(net, ["x", "y"])
    assert sorted(conn.network.get_network(net.id).tags) == ["x", "y"]
    assert [n.id for n in conn.network.networks(tags="x")] == [net.id]
    # paginated listing through the SDK follows networks_links
    names = {n.name for n in conn.network.networks(limit=1)}
    assert {net.name, "private"} <= names
    port = conn.network.update_port(port, name="renamed", if_revision=port.revision_number)
    assert port.name == "renamed"
    try:
        conn.network.update_port(port, name="again", if_revision=999)
        raise AssertionError("stale revision accepted")
    except exceptions.PreconditionFailedException:
        pass
    conn.network.delete_port(port.id)  # the object still carries the stale If-Match
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    assert conn.network.find_network(net.id) is None


def test_sdk_router_interface_and_fip(cloud):
    conn = cloud.conn("pocketstack")
    public = conn.network.find_network("public")
    net = conn.network.create_network(name=_name("rt"))
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.81.0.0/24", ip_version=4)
    router = conn.network.create_router(name=_name("r"),
                                        external_gateway_info={"network_id": public.id})
    info = conn.network.add_interface_to_router(router, subnet=sub.id)
    assert info["subnet_id"] == sub.id and info["port_id"]
    iface = conn.network.get_port(info["port_id"])
    assert iface.device_owner == "network:router_interface"
    assert iface.fixed_ips[0]["ip_address"] == "10.81.0.1"
    port = conn.network.create_port(network_id=net.id)
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    assert fip.router_id == router.id and fip.fixed_ip_address == port.fixed_ips[0][
        "ip_address"]
    conn.network.delete_ip(fip)
    conn.network.delete_port(port)
    conn.network.remove_interface_from_router(router, subnet=sub.id)
    conn.network.delete_router(router)
    conn.network.delete_network(net)


def test_in_process_api_for_compute(tmp_path):
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud
    from pocketstack.config import Config
    from pocketstack.network.common import Query

    c = Cloud(Config.load(), str(tmp_path / "data"))
    c.prepare()
    try:
        net = c.service("network").net
        demo = c.identity.resources.find_project("demo", "default")
        networks, _ = net.networks.list(RequestContext.admin(), Query.empty())
        private = next(n for n in networks if n["name"] == "private")
        a = net.allocate_port(demo["id"], private["id"], "vm-1", host="node1")
        b = net.allocate_port(demo["id"], private["id"], "vm-1", security_groups=["default"])
        assert len(b["security_groups"]) == 1
        assert net.bind_port(b["id"], "node2")["binding:host_id"] == "node2"
        assert net.subnet_info(b["fixed_ips"][0]["subnet_id"])["cidr"] == "10.0.0.0/26"
        assert net.floating_ips_for_port(b["id"]) == []
        assert [n["name"] for n in net.networks_for_project(demo["id"])] == ["private"]
        assert a["fixed_ips"][0]["ip_address"] != b["fixed_ips"][0]["ip_address"]
        assert a["binding:host_id"] == "node1" and a["device_owner"] == "compute:nova"
        ports = net.ports_for_device("vm-1")
        assert {p["id"] for p in ports} == {a["id"], b["id"]}
        assert net.delete_ports_for_device("vm-1") == 2
        assert net.ports_for_device("vm-1") == []
    finally:
        c.stop()
