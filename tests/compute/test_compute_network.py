"""Compute <-> Network: ports at build, addresses, interfaces, security groups, floating IPs."""

from __future__ import annotations

import requests
from compute_helpers import IMAGE, api, ensure_image, name, wait

DEMO = "pocketstack"


def _boot(cloud, server_name, networks, user=DEMO, version="2.79", **server):
    ensure_image(cloud)
    body = {"server": {"name": server_name, "flavorRef": "1", "imageRef": IMAGE,
                       "networks": networks, **server}}
    return api(cloud, "POST", "/servers", user, version, json=body)


def _ports(cloud, server_id):
    return cloud.cli("port", "list", "--device-id", server_id, "--long", "-f", "json")


def _net(cloud, net_name):
    return cloud.cli("network", "show", net_name, "-f", "json")


def test_cli_create_on_private_network_and_delete_frees_port(cloud):
    sname = name("vm")
    server = cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE,
                       "--network", "private", "--wait", sname, "-f", "json", cloud=DEMO)
    assert server["status"] == "ACTIVE"
    sid = server["id"]
    body = api(cloud, "GET", f"/servers/{sid}", DEMO, "2.79").json()["server"]
    (entry,) = body["addresses"]["private"]
    assert entry["version"] == 4 and entry["OS-EXT-IPS:type"] == "fixed"
    assert entry["addr"].startswith("10.0.0.") and entry["OS-EXT-IPS-MAC:mac_addr"]
    assert body["security_groups"] == [{"name": "default"}]
    admin_view = api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"]
    port = cloud.cli("port", "show", _ports(cloud, sid)[0]["ID"], "-f", "json")
    assert port["device_id"] == sid and port["device_owner"] == "compute:nova"
    assert port["binding_host_id"] == admin_view["OS-EXT-SRV-ATTR:host"]
    assert port["mac_address"] == entry["OS-EXT-IPS-MAC:mac_addr"]
    subnet = cloud.cli("subnet", "show", "private-subnet", "-f", "json")
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    ips = api(cloud, "GET", f"/servers/{sid}/ips", DEMO).json()
    assert ips == {"addresses": {"private": [{"version": 4, "addr": entry["addr"]}]}}
    found = api(cloud, "GET", f"/servers/detail?ip={entry['addr'].replace('.', '[.]')}$",
                DEMO).json()["servers"]
    assert [s["id"] for s in found] == [sid]
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)
    assert _ports(cloud, sid) == []


def test_networks_auto_none_port_fixed_ip_and_errors(cloud):
    private = _net(cloud, "private")
    r = _boot(cloud, name("auto"), "auto")
    assert r.status_code == 202, r.text
    auto_id = r.json()["server"]["id"]
    r = _boot(cloud, name("none"), "none")
    none_id = r.json()["server"]["id"]
    port = cloud.cli("port", "create", "--network", "private", name("p"), "-f", "json",
                     cloud=DEMO)
    r = _boot(cloud, name("port"), [{"port": port["id"]}])
    assert r.status_code == 202, r.text
    port_server = r.json()["server"]["id"]
    r = _boot(cloud, name("fixed"), [{"uuid": private["id"], "fixed_ip": "10.0.0.50"}])
    fixed_id = r.json()["server"]["id"]
    for sid in (auto_id, none_id, port_server, fixed_id):
        wait(cloud, sid, "ACTIVE", user=DEMO)
    show = {sid: api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]
            for sid in (auto_id, none_id, port_server, fixed_id)}
    assert list(show[auto_id]["addresses"]) == ["private"]
    assert show[none_id]["addresses"] == {}
    assert show[port_server]["addresses"]["private"][0]["addr"] == \
        port["fixed_ips"][0]["ip_address"]
    assert show[fixed_id]["addresses"]["private"][0]["addr"] == "10.0.0.50"
    # errors, as Nova words them
    r = _boot(cloud, name("bad"), [{"uuid": "9a2b4a5c-0000-4000-8000-000000000000"}])
    assert r.status_code == 400 and "could not be found" in r.json()["badRequest"]["message"]
    r = _boot(cloud, name("bad"), [{"port": port["id"]}])
    assert r.status_code == 409 and "in use" in r.json()["conflictingRequest"]["message"]
    r = _boot(cloud, name("bad"), [{"port": "9a2b4a5c-0000-4000-8000-000000000000"}])
    assert r.status_code == 400
    r = _boot(cloud, name("bad"), "auto", security_groups=[{"name": "no-such-group"}])
    assert r.status_code == 400 and "no-such-group" in r.json()["badRequest"]["message"]
    # deleting frees the ports nova made and unbinds the one the user made
    for sid in (auto_id, port_server, fixed_id):
        api(cloud, "DELETE", f"/servers/{sid}", DEMO)
    for sid in (auto_id, port_server, fixed_id):
        wait(cloud, sid, "DELETED", user=DEMO)
    assert _ports(cloud, auto_id) == [] and _ports(cloud, fixed_id) == []
    kept = cloud.cli("port", "show", port["id"], "-f", "json")
    assert kept["device_id"] == "" and kept["device_owner"] == ""
    api(cloud, "DELETE", f"/servers/{none_id}", DEMO)


def test_security_groups_on_create_and_add_remove(cloud):
    sg = cloud.cli("security", "group", "create", name("sg"), "-f", "json", cloud=DEMO)
    sname = name("sgvm")
    cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE, "--network",
              "private", "--security-group", sg["name"], "--wait", sname, cloud=DEMO)
    sid = cloud.cli("server", "show", sname, "-f", "json", cloud=DEMO)["id"]
    port = cloud.cli("port", "show", _ports(cloud, sid)[0]["ID"], "-f", "json")
    assert port["security_group_ids"] == [sg["id"]]
    cloud.cli("server", "add", "security", "group", sname, "default", cloud=DEMO)
    groups = api(cloud, "GET", f"/servers/{sid}/os-security-groups", DEMO).json()
    assert sorted(g["name"] for g in groups["security_groups"]) == sorted(
        [sg["name"], "default"])
    proc = cloud.cli("server", "add", "security", "group", sname, "default", cloud=DEMO,
                     check=False)
    assert proc.returncode != 0 and "already associated" in proc.stderr
    cloud.cli("server", "remove", "security", "group", sname, sg["name"], cloud=DEMO)
    shown = api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]
    assert shown["security_groups"] == [{"name": "default"}]
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"removeSecurityGroup": {"name": sg["name"]}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"addSecurityGroup": {"name": "missing-group"}})
    assert r.status_code == 404
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)


def test_floating_ip_cli_and_nova_actions(cloud):
    sname = name("fipvm")
    cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE, "--network",
              "private", "--wait", sname, cloud=DEMO)
    sid = cloud.cli("server", "show", sname, "-f", "json", cloud=DEMO)["id"]
    fip = cloud.cli("floating", "ip", "create", "public", "-f", "json", cloud=DEMO)
    address = fip["floating_ip_address"]
    cloud.cli("server", "add", "floating", "ip", sname, address, cloud=DEMO)
    entries = api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]["addresses"]
    kinds = {(e["addr"], e["OS-EXT-IPS:type"]) for e in entries["private"]}
    assert (address, "floating") in kinds and len(kinds) == 2
    cloud.cli("server", "remove", "floating", "ip", sname, address, cloud=DEMO)
    entries = api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]["addresses"]
    assert [e["OS-EXT-IPS:type"] for e in entries["private"]] == ["fixed"]
    # Nova's own actions (before 2.44)
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.1",
            json={"addFloatingIp": {"address": address}})
    assert r.status_code == 202, r.text
    assert cloud.cli("floating", "ip", "show", address, "-f", "json")["port_id"]
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.1",
            json={"removeFloatingIp": {"address": address}})
    assert r.status_code == 202, r.text
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.1",
            json={"removeFloatingIp": {"address": address}})
    assert r.status_code == 409
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.79",
            json={"addFloatingIp": {"address": address}})
    assert r.status_code == 404
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)
    cloud.cli("floating", "ip", "delete", address, cloud=DEMO)


def test_add_remove_port_and_network(cloud):
    sname = name("ifvm")
    cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE, "--nic", "none",
              "--wait", sname, cloud=DEMO)
    sid = cloud.cli("server", "show", sname, "-f", "json", cloud=DEMO)["id"]
    port = cloud.cli("port", "create", "--network", "private", name("p"), "-f", "json",
                     cloud=DEMO)
    cloud.cli("server", "add", "port", sname, port["id"], cloud=DEMO)
    cloud.cli("server", "add", "network", sname, "private", cloud=DEMO)
    listed = api(cloud, "GET", f"/servers/{sid}/os-interface", DEMO).json()
    attachments = listed["interfaceAttachments"]
    assert len(attachments) == 2 and port["id"] in [a["port_id"] for a in attachments]
    one = api(cloud, "GET", f"/servers/{sid}/os-interface/{port['id']}", DEMO).json()
    assert one["interfaceAttachment"]["net_id"] == port["network_id"]
    assert len(api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]["addresses"][
        "private"]) == 2
    cloud.cli("server", "remove", "port", sname, port["id"], cloud=DEMO)
    assert cloud.cli("port", "show", port["id"], "-f", "json")["device_id"] == ""
    r = api(cloud, "DELETE", f"/servers/{sid}/os-interface/{port['id']}", DEMO)
    assert r.status_code == 404
    r = api(cloud, "POST", f"/servers/{sid}/os-interface", DEMO,
            json={"interfaceAttachment": {"net_id": "9a2b4a5c-0000-4000-8000-000000000000"}})
    assert r.status_code == 404
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)
    assert _ports(cloud, sid) == []


def test_external_events(cloud):
    r = _boot(cloud, name("ev"), "none")
    sid = r.json()["server"]["id"]
    wait(cloud, sid, "ACTIVE", user=DEMO)
    events = {"events": [{"name": "network-vif-plugged", "server_uuid": sid,
                          "tag": "port-1", "status": "completed"}]}
    r = api(cloud, "POST", "/os-server-external-events", json=events)
    assert r.status_code == 200 and r.json()["events"][0]["code"] == 200
    r = api(cloud, "POST", "/os-server-external-events", DEMO, json=events)
    assert r.status_code == 403
    missing = {"events": [{"name": "network-changed",
                           "server_uuid": "9a2b4a5c-0000-4000-8000-000000000000"}]}
    assert api(cloud, "POST", "/os-server-external-events", json=missing).status_code == 404
    bad = {"events": [{"name": "no-such-event", "server_uuid": sid}]}
    assert api(cloud, "POST", "/os-server-external-events", json=bad).status_code == 400
    r = api(cloud, "POST", "/os-server-external-events",
            json={"events": events["events"] + missing["events"]})
    assert r.status_code == 207
    api(cloud, "DELETE", f"/servers/{sid}", DEMO)


def test_no_500_on_bad_network_bodies(cloud):
    r = _boot(cloud, name("ok"), "none")
    sid = r.json()["server"]["id"]
    for path, body in ((f"/servers/{sid}/os-interface", {"interfaceAttachment": 3}),
                       (f"/servers/{sid}/os-interface", {"interfaceAttachment": {"x": 1}}),
                       (f"/servers/{sid}/action", {"addFloatingIp": None}),
                       (f"/servers/{sid}/action", {"addSecurityGroup": []}),
                       (f"/servers/{sid}/action", {"createImage": "x"}),
                       (f"/servers/{sid}/action", {"createBackup": {"name": "b"}}),
                       ("/os-server-external-events", {"events": "x"})):
        r = api(cloud, "POST", path, version="2.1", json=body)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
    assert requests is not None
    api(cloud, "DELETE", f"/servers/{sid}", DEMO)


def test_resize_moves_port_binding_and_multi_create_port_is_400(cloud):
    r = _boot(cloud, name("mvport"), "auto")
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, json={"resize": {"flavorRef": "84"}})
    assert r.status_code == 202, r.text
    body = wait(cloud, sid, "VERIFY_RESIZE")
    port = cloud.cli("port", "show", _ports(cloud, sid)[0]["ID"], "-f", "json")
    assert port["binding_host_id"] == body["OS-EXT-SRV-ATTR:host"]
    api(cloud, "POST", f"/servers/{sid}/action", DEMO, json={"revertResize": None})
    body = wait(cloud, sid, "ACTIVE")
    port = cloud.cli("port", "show", port["id"], "-f", "json")
    assert port["binding_host_id"] == body["OS-EXT-SRV-ATTR:host"]
    api(cloud, "DELETE", f"/servers/{sid}")
    free = cloud.cli("port", "create", "--network", "private", name("p"), "-f", "json",
                     cloud=DEMO)
    r = _boot(cloud, name("multi"), [{"port": free["id"]}], max_count=2)
    assert r.status_code == 400 and "multiple instances" in r.text
    cloud.cli("port", "delete", free["id"], cloud=DEMO)
