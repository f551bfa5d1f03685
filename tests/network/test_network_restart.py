"""The default topology is created once: a restart keeps it as it was."""

from __future__ import annotations


def test_default_topology_survives_restart(fresh_cloud):
    fresh_cloud.start()
    conn = fresh_cloud.conn("pocketstack-admin")
    before = sorted((n.name, n.id) for n in conn.network.networks())
    ports = sorted(p.id for p in conn.network.ports())
    assert [n for n, _ in before] == ["private", "public"]
    assert fresh_cloud.stop() == 0
    fresh_cloud.start()
    conn = fresh_cloud.conn("pocketstack-admin")
    assert sorted((n.name, n.id) for n in conn.network.networks()) == before
    assert sorted(p.id for p in conn.network.ports()) == ports
    assert [r.name for r in conn.network.routers()] == ["router1"]


def test_ipam_after_restart_and_holes(fresh_cloud):
    """Next-fit allocation: holes are refilled after the cursor wraps, a restart (which
    forgets the cursor) never hands out an address twice."""
    fresh_cloud.start()
    conn = fresh_cloud.conn("pocketstack-admin")
    net = conn.network.create_network(name="ipam-restart")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.90.0.0/28", ip_version=4)
    ports = [conn.network.create_port(network_id=net.id) for _ in range(8)]
    ips = [p.fixed_ips[0]["ip_address"] for p in ports]
    assert len(set(ips)) == 8
    for p in ports[1:6:2]:  # free three scattered addresses
        conn.network.delete_port(p)
    assert fresh_cloud.stop() == 0
    fresh_cloud.start()
    conn = fresh_cloud.conn("pocketstack-admin")
    more = []
    while True:  # fill the subnet (13 pool addresses) to the end
        try:
            more.append(conn.network.create_port(network_id=net.id))
        except Exception as exc:  # noqa: BLE001 - openstacksdk's ConflictException
            assert "No more IP addresses" in str(exc)
            break
    held = [f["ip_address"] for p in conn.network.ports(network_id=net.id)
            for f in p.fixed_ips]
    assert len(held) == len(set(held)) == 13
    pool = sub.allocation_pools[0]
    assert pool == {"start": "10.90.0.2", "end": "10.90.0.14"}
    assert {ip for p in ports[1:6:2] for ip in [p.fixed_ips[0]["ip_address"]]} <= set(held)
