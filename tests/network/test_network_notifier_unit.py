"""Which Nova events a port change means (the notifier's pure part)."""

from __future__ import annotations

from pocketstack.network.notifier import port_events


def port(**kw):
    base = {"id": "p1", "device_id": "vm1", "device_owner": "compute:nova",
            "status": "ACTIVE", "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]}
    return {**base, **kw}


def names(events):
    return [(e["name"], e["server_uuid"], e["tag"]) for e in events]


def test_created_bound_is_plugged_and_unbound_port_says_nothing():
    assert names(port_events(None, port())) == [("network-vif-plugged", "vm1", "p1")]
    assert port_events(None, port(status="DOWN")) == []
    assert port_events(None, port(device_id="", device_owner="")) == []
    assert port_events(None, port(device_owner="network:router_interface")) == []


def test_status_and_address_changes():
    assert names(port_events(port(status="DOWN"), port())) == [
        ("network-vif-plugged", "vm1", "p1")]
    assert names(port_events(port(), port(status="DOWN"))) == [
        ("network-vif-unplugged", "vm1", "p1")]
    moved = port(fixed_ips=[{"subnet_id": "s", "ip_address": "10.0.0.9"}])
    assert names(port_events(port(), moved)) == [("network-changed", "vm1", "p1")]
    assert port_events(port(), port(name="renamed")) == []


def test_deleted_or_moved_to_another_server():
    assert names(port_events(port(), None)) == [("network-vif-deleted", "vm1", "p1")]
    assert names(port_events(port(), port(device_id="vm2"))) == [
        ("network-vif-deleted", "vm1", "p1"), ("network-vif-plugged", "vm2", "p1")]
    assert names(port_events(port(), port(device_id="", device_owner=""))) == [
        ("network-vif-deleted", "vm1", "p1")]
