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
