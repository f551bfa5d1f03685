"""The metadata API on port 8775, asked as Neutron's proxy asks it."""

from __future__ import annotations

import json

import pytest
import requests

from md_helpers import boot, by_network, get, name, sign, signed


@pytest.fixture(scope="module")
def vm(cloud, tmp_path_factory):
    out = boot(cloud, tmp_path_factory.mktemp("md"), role="web", tier="1")
    out["project_id"] = out["project_id"] or cloud.conn("pocketstack").current_project_id
    return out


def test_not_in_catalog_and_healthcheck(cloud):
    types = {s["Type"] for s in cloud.cli("catalog", "list", "-f", "json")}
    assert "metadata" not in types and "" not in types
    assert requests.get(cloud.url(8775, "/healthcheck"), timeout=10).text == "OK"


def test_ec2_tree(cloud, vm):
    h = by_network(vm)
    versions = get(cloud, "/", h).text.splitlines()
    assert versions[0] == "1.0" and "2009-04-04" in versions and versions[-1] == "latest"
    assert get(cloud, "/latest", h).text.splitlines() == ["meta-data/", "user-data"]
    listing = get(cloud, "/latest/meta-data/", h).text.splitlines()
    for leaf in ("ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/",
                 "hostname", "instance-action", "instance-id", "instance-type",
                 "local-hostname", "local-ipv4", "placement/", "public-hostname",
                 "public-ipv4", "public-keys/", "reservation-id", "security-groups"):
        assert leaf in listing, leaf
    leaves = {p: get(cloud, "/latest/meta-data/" + p, h) for p in (
        "hostname", "local-hostname", "local-ipv4", "instance-type", "ami-launch-index",
        "placement/availability-zone", "public-keys/", "public-keys/0/openssh-key",
        "security-groups", "instance-action", "block-device-mapping/root", "instance-id",
        "reservation-id", "ami-id")}
    assert all(r.status_code == 200 for r in leaves.values())
    text = {p: r.text for p, r in leaves.items()}
    assert text["hostname"] == text["local-hostname"] == f"{vm['name']}.novalocal"
    assert text["local-ipv4"] == vm["ip"]
    assert text["instance-type"] == "m1.tiny"
    assert text["ami-launch-index"] == "0"
    assert text["placement/availability-zone"] == "nova"
    assert text["public-keys/"] == f"0={vm['key_name']}"
    assert text["public-keys/0/openssh-key"].strip() == vm["public_key"].strip()
    assert text["security-groups"] == "default"
    assert text["instance-action"] == "none"
    assert text["block-device-mapping/root"] == "/dev/vda"
    assert text["instance-id"].startswith("i-") and text["ami-id"].startswith("ami-")
    assert text["reservation-id"].startswith("r-")
    assert get(cloud, "/latest/user-data", h).content == vm["user_data"]
    assert get(cloud, "/2009-04-04/meta-data/hostname", h).text == text["hostname"]
    assert get(cloud, "/latest/meta-data/nothing-here", h).status_code == 404
    assert get(cloud, "/1999-01-01/meta-data/", h).status_code == 404


def test_openstack_tree(cloud, vm):
    h = by_network(vm)
    versions = get(cloud, "/openstack", h).text.splitlines()
    assert "2012-08-10" in versions and "2018-08-27" in versions and versions[-1] == "latest"
    names = get(cloud, "/openstack/latest", h).text.splitlines()
    assert {"meta_data.json", "network_data.json", "vendor_data.json", "vendor_data2.json",
            "user_data", "password"} <= set(names)
    r = get(cloud, "/openstack/latest/meta_data.json", h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    md = r.json()
    assert md["uuid"] == vm["id"] and md["name"] == vm["name"]
    assert md["hostname"] == f"{vm['name']}.novalocal"
    assert md["availability_zone"] == "nova" and md["launch_index"] == 0
    assert md["meta"] == {"role": "web", "tier": "1"}
    assert md["project_id"] == vm["project_id"]
    assert md["public_keys"] == {vm["key_name"]: vm["public_key"]}
    assert md["keys"] == [{"name": vm["key_name"], "type": "ssh", "data": vm["public_key"]}]
    assert md["devices"] == []
    nd = get(cloud, "/openstack/latest/network_data.json", h).json()
    port = vm["port"]
    assert nd["links"][0]["vif_id"] == port["id"]
    assert nd["links"][0]["ethernet_mac_address"] == port["mac_address"]
    assert nd["links"][0]["mtu"] == 1500
    assert nd["networks"][0]["network_id"] == vm["network_id"]
    assert nd["networks"][0]["link"] == nd["links"][0]["id"]
    assert nd["networks"][0]["type"] in ("ipv4_dhcp", "ipv4")
    assert isinstance(nd["services"], list)
    assert get(cloud, "/openstack/latest/vendor_data.json", h).json() == {}
    assert get(cloud, "/openstack/latest/vendor_data2.json", h).json() == {}
    assert get(cloud, "/openstack/latest/user_data", h).content == vm["user_data"]
    old = get(cloud, "/openstack/2012-08-10/meta_data.json", h).json()
    assert "project_id" not in old and "random_seed" not in old
    assert get(cloud, "/openstack/2012-08-10/network_data.json", h).status_code == 404


def test_signed_headers(cloud, vm):
    h = signed(cloud, vm, vm["project_id"])
    md = get(cloud, "/openstack/latest/meta_data.json", h).json()
    assert md["uuid"] == vm["id"]
    assert get(cloud, "/latest/meta-data/local-ipv4", h).text == vm["ip"]
    spoofed = {**h, "X-Instance-ID-Signature": "0" * 64}
    r = get(cloud, "/openstack/latest/meta_data.json", spoofed)
    assert r.status_code == 403 and vm["id"] not in r.text
    r = get(cloud, "/latest/meta-data/", {**h, "X-Instance-ID-Signature": ""})
    assert r.status_code == 403
    # a valid signature, but for another tenant: nothing
    r = get(cloud, "/openstack/latest/meta_data.json", {**h, "X-Tenant-ID": "someone-else"})
    assert r.status_code == 404 and vm["id"] not in r.text
    r = get(cloud, "/latest/meta-data/", {"X-Instance-ID": vm["id"],
                                          "X-Instance-ID-Signature": sign(cloud, vm["id"])})
    assert r.status_code == 400


def test_unknown_callers(cloud, vm):
    r = get(cloud, "/openstack/latest/meta_data.json",
            {"X-Forwarded-For": "10.0.0.250", "X-Neutron-Network-ID": vm["network_id"]})
    assert r.status_code == 404 and vm["id"] not in r.text
    r = get(cloud, "/latest/meta-data/", {"X-Forwarded-For": vm["ip"],
                                          "X-Neutron-Network-ID": "no-such-network"})
    assert r.status_code == 404
    assert get(cloud, "/latest/meta-data/", {}).status_code == 404
    assert get(cloud, "/latest/meta-data/", {"X-Forwarded-For": vm["ip"]}).status_code == 404


def test_router_header(cloud, vm):
    router = cloud.cli("router", "show", "router1", "-f", "json")
    r = get(cloud, "/latest/meta-data/instance-type",
            {"X-Forwarded-For": vm["ip"], "X-Neutron-Router-ID": router["id"]})
    assert r.status_code == 200 and r.text == "m1.tiny"
    r = get(cloud, "/latest/meta-data/instance-type",
            {"X-Forwarded-For": vm["ip"], "X-Neutron-Router-ID": "not-a-router"})
    assert r.status_code == 404


def test_instances_see_only_their_own(cloud, vm, tmp_path):
    other = boot(cloud, tmp_path, role="db")  # same network, same project
    mine = get(cloud, "/openstack/latest/meta_data.json", by_network(vm)).json()
    theirs = get(cloud, "/openstack/latest/meta_data.json", by_network(other)).json()
    assert mine["uuid"] == vm["id"] and theirs["uuid"] == other["id"]
    assert theirs["meta"] == {"role": "db"} and other["key_name"] in theirs["public_keys"]
    body = get(cloud, "/openstack/latest/meta_data.json", by_network(vm)).text
    assert other["id"] not in body and other["key_name"] not in body
    # a signature for my instance does not open another one
    h = {"X-Instance-ID": other["id"], "X-Tenant-ID": vm["project_id"],
         "X-Instance-ID-Signature": sign(cloud, vm["id"])}
    assert get(cloud, "/openstack/latest/meta_data.json", h).status_code == 403


def test_password_post_once_then_clear(cloud, vm):
    h = by_network(vm)
    assert get(cloud, "/openstack/latest/password", h).text == ""
    r = get(cloud, "/openstack/latest/password", h, "POST", data=b"encrypted-secret")
    assert r.status_code == 200
    assert get(cloud, "/openstack/latest/password", h).text == "encrypted-secret"
    r = get(cloud, "/openstack/latest/password", h, "POST", data=b"again")
    assert r.status_code == 409
    r = get(cloud, "/openstack/latest/password", h, "POST", data=b"x" * 300)
    assert r.status_code in (400, 409)
    shown = cloud.cli("server", "show", vm["id"], "-f", "json", cloud="pocketstack")
    token = cloud.token("pocketstack")
    url = cloud.url(8774, f"/v2.1/servers/{shown['id']}/os-server-password")
    r = requests.get(url, headers={"X-Auth-Token": token}, timeout=30)
    assert r.status_code == 200 and r.json() == {"password": "encrypted-secret"}
    r = requests.get(url, headers={"X-Auth-Token": cloud.token("pocketstack-alt")},
                     timeout=30)
    assert r.status_code == 404
    r = requests.delete(url, headers={"X-Auth-Token": token}, timeout=30)
    assert r.status_code == 204
    assert requests.get(url, headers={"X-Auth-Token": token}, timeout=30).json() == {
        "password": ""}
    r = get(cloud, "/openstack/latest/password", h, "POST", data=b"y" * 300)
    assert r.status_code == 400
    assert get(cloud, "/openstack/latest/password", h, "POST", data=b"new").status_code == 200
    assert get(cloud, "/openstack/latest/password", h).text == "new"


def test_methods_and_bad_input(cloud, vm):
    h = by_network(vm)
    assert get(cloud, "/latest/meta-data/", h, "PUT").status_code == 405
    assert get(cloud, "/latest/meta-data/hostname", h, "HEAD").status_code == 200
    r = get(cloud, "/latest/meta-data/", {**h, "X-Forwarded-For": "not-an-ip"})
    assert r.status_code == 404
    assert json.loads(get(cloud, "/openstack/latest/vendor_data.json", h).text) == {}
    assert name("x")


def test_config_drive(cloud, tmp_path):
    import os

    from pocketstack.metadata.configdrive import read_iso

    from md_helpers import image

    img = image(cloud, tmp_path)
    ud = tmp_path / "ud"
    ud.write_text("#!/bin/sh\necho hi\n")
    server = cloud.cli("server", "create", "--image", img, "--flavor", "m1.tiny", "--nic",
                       "none", "--config-drive", "True", "--user-data", str(ud), "--wait",
                       "--property", "drive=yes", name("cd"), "-f", "json", cloud="pocketstack")
    assert server["status"] == "ACTIVE" and server["config_drive"] == "True"
    # built during the build, before the driver spawned it: there once the server is ACTIVE
    path = os.path.join(cloud.data_dir, "instances", server["id"], "disk.config")
    drive = read_iso(path)
    assert drive["label"] == "config-2"
    files = drive["files"]
    md = json.loads(files["openstack/latest/meta_data.json"])
    assert md["uuid"] == server["id"] and md["meta"] == {"drive": "yes"}
    assert files["openstack/latest/user_data"] == ud.read_bytes()
    assert json.loads(files["openstack/latest/network_data.json"])["links"] == []
    assert json.loads(files["openstack/latest/vendor_data.json"]) == {}
    assert "instance-id" in json.loads(files["ec2/latest/meta-data.json"])
    assert files["ec2/latest/user-data"] == ud.read_bytes()
    # a server without a config drive (or with config_drive "False") gets none
    plain = cloud.cli("server", "create", "--image", img, "--flavor", "m1.tiny", "--nic",
                      "none", "--wait", name("nocd"), "-f", "json", cloud="pocketstack")
    token = cloud.token("pocketstack")
    r = requests.post(cloud.url(8774, "/v2.1/servers"), headers={
        "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.37"},
                      json={"server": {"name": name("nocd"), "imageRef": img, "flavorRef": "1",
                                       "networks": "none", "config_drive": "False"}},
                      timeout=30)
    assert r.status_code == 202, r.text
    falsy = cloud.cli("server", "show", r.json()["server"]["id"], "-f", "json")
    assert falsy["config_drive"] == ""
    assert not os.path.exists(os.path.join(cloud.data_dir, "instances", plain["id"]))
    # deleting the server deletes its drive
    cloud.cli("server", "delete", "--wait", server["id"], cloud="pocketstack")
    assert not os.path.exists(path)


def test_config_drive_on_the_network(cloud, vm, tmp_path):
    """A server with a port: the drive's network_data.json has its address."""
    import os

    from pocketstack.metadata.configdrive import read_iso

    from md_helpers import image

    # (the fixture's server did not ask for a drive: none was built)
    assert not os.path.exists(os.path.join(cloud.data_dir, "instances", vm["id"],
                                           "disk.config"))
    img = image(cloud, tmp_path)
    server = cloud.cli("server", "create", "--image", img, "--flavor", "m1.tiny", "--nic",
                       "net-id=private", "--config-drive", "True", "--wait", name("cdn"),
                       "-f", "json", cloud="pocketstack")
    drive = read_iso(os.path.join(cloud.data_dir, "instances", server["id"], "disk.config"))
    nd = json.loads(drive["files"]["openstack/latest/network_data.json"])
    assert len(nd["links"]) == 1 and nd["networks"][0]["type"] in ("ipv4", "ipv4_dhcp")
    port = cloud.cli("port", "list", "--device-id", server["id"], "-f", "json")[0]
    assert nd["links"][0]["ethernet_mac_address"] == port["MAC Address"]
