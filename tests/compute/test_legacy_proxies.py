"""Nova's deprecated (up to 2.35) security-group proxy of the Networking service."""

from __future__ import annotations

from compute_helpers import api, name

V = "2.35"


def test_security_group_proxy_round_trip(cloud):
    conn = cloud.conn("pocketstack")
    r = api(cloud, "POST", "/os-security-groups", user="pocketstack", version=V,
            json={"security_group": {"name": name("sg"), "description": "web"}})
    assert r.status_code == 200, r.text
    sg = r.json()["security_group"]
    assert sg["rules"] == [] and sg["description"] == "web"
    peer = api(cloud, "POST", "/os-security-groups", user="pocketstack", version=V,
               json={"security_group": {"name": name("peer"), "description": ""}}
               ).json()["security_group"]
    # the same group through Neutron's API
    assert conn.network.get_security_group(sg["id"]).description == "web"

    rule = {"parent_group_id": sg["id"], "ip_protocol": "tcp", "from_port": 22,
            "to_port": 22, "cidr": "10.2.3.124/24"}
    r = api(cloud, "POST", "/os-security-group-rules", user="pocketstack", version=V,
            json={"security_group_rule": rule})
    assert r.status_code == 200, r.text
    created = r.json()["security_group_rule"]
    assert created["ip_range"] == {"cidr": "10.2.3.124/24"} and created["from_port"] == 22
    dup = api(cloud, "POST", "/os-security-group-rules", user="pocketstack", version=V,
              json={"security_group_rule": {**rule, "cidr": "10.2.3.0/24"}})
    assert dup.status_code == 400, dup.text  # the same network: a duplicate
    from_peer = api(cloud, "POST", "/os-security-group-rules", user="pocketstack", version=V,
                    json={"security_group_rule": {"parent_group_id": sg["id"],
                                                  "ip_protocol": "icmp", "from_port": -1,
                                                  "to_port": -1, "group_id": peer["id"]}})
    assert from_peer.status_code == 200, from_peer.text
    assert from_peer.json()["security_group_rule"]["group"]["name"] == peer["name"]
    bad = [{"ip_protocol": "bogus", "from_port": 1, "to_port": 2},
           {"ip_protocol": "tcp", "from_port": 30, "to_port": 20},
           {"ip_protocol": "tcp", "from_port": "x", "to_port": 20},
           {"ip_protocol": "icmp", "from_port": 300, "to_port": 0}]
    for b in bad:
        r = api(cloud, "POST", "/os-security-group-rules", user="pocketstack", version=V,
                json={"security_group_rule": {"parent_group_id": sg["id"], **b}})
        assert r.status_code == 400 and "badRequest" in r.json(), (b, r.text)

    # deleting the peer group takes the rules that name it with it
    assert api(cloud, "DELETE", f"/os-security-groups/{peer['id']}", user="pocketstack",
               version=V).status_code == 202
    shown = api(cloud, "GET", f"/os-security-groups/{sg['id']}", user="pocketstack",
                version=V).json()["security_group"]
    assert [r["id"] for r in shown["rules"]] == [created["id"]]

    listed = api(cloud, "GET", "/os-security-groups", user="pocketstack", version=V).json()
    names = [g["name"] for g in listed["security_groups"]]
    assert sg["name"] in names and "default" in names
    default = next(g for g in listed["security_groups"] if g["name"] == "default")
    r = api(cloud, "DELETE", f"/os-security-groups/{default['id']}", user="pocketstack",
            version=V)
    assert r.status_code == 400
    assert api(cloud, "GET", "/os-security-groups/not-a-uuid", user="pocketstack",
               version=V).status_code == 400
    assert api(cloud, "GET", f"/os-security-groups/{'0' * 32}", user="pocketstack",
               version=V).status_code == 404
    assert api(cloud, "DELETE", f"/os-security-group-rules/{created['id']}",
               user="pocketstack", version=V).status_code == 202
    assert api(cloud, "DELETE", f"/os-security-groups/{sg['id']}", user="pocketstack",
               version=V).status_code == 202
    # gone from the API in 2.36, as in Nova
    assert api(cloud, "GET", "/os-security-groups", user="pocketstack",
               version="2.36").status_code == 404


def test_os_hosts_and_extensions(cloud):
    hosts = api(cloud, "GET", "/os-hosts", version="2.42").json()["hosts"]
    computes = [h["host_name"] for h in hosts if h["service"] == "compute"]
    assert computes and all(h["zone"] for h in hosts)
    assert api(cloud, "GET", "/os-hosts?zone=no-such-zone", version="2.42").json() == {
        "hosts": []}
    host = computes[0]
    detail = api(cloud, "GET", f"/os-hosts/{host}", version="2.42").json()["host"]
    assert [r["resource"]["project"] for r in detail][:3] == ["(total)", "(used_now)",
                                                              "(used_max)"]
    assert detail[0]["resource"]["cpu"] > 0
    assert api(cloud, "GET", "/os-hosts/no-such-host", version="2.42").status_code == 404
    assert api(cloud, "GET", "/os-hosts", user="pocketstack",
               version="2.42").status_code == 403
    assert api(cloud, "PUT", f"/os-hosts/{host}", version="2.42",
               json={"status": "sideways"}).status_code == 400
    r = api(cloud, "PUT", f"/os-hosts/{host}", version="2.42", json={"status": "disable"})
    assert r.json() == {"host": host, "status": "disabled"}
    svc = api(cloud, "GET", f"/os-services?host={host}&binary=nova-compute").json()
    assert svc["services"][0]["status"] == "disabled"
    api(cloud, "PUT", f"/os-hosts/{host}", version="2.42", json={"status": "enable"})
    assert api(cloud, "GET", f"/os-hosts/{host}/reboot", version="2.42").status_code == 501
    assert api(cloud, "GET", "/os-hosts/nope/reboot", version="2.42").status_code == 404
    assert api(cloud, "GET", "/os-hosts", version="2.43").status_code == 404

    ext = api(cloud, "GET", "/extensions").json()["extensions"]
    assert "Hosts" in [e["name"] for e in ext]
    assert api(cloud, "GET", "/extensions/os-hosts").json()["extension"]["alias"] == "os-hosts"
    assert api(cloud, "GET", "/extensions/nope").status_code == 404


def test_floating_ip_and_network_proxies(cloud):
    pools = api(cloud, "GET", "/os-floating-ip-pools", user="pocketstack", version=V).json()
    assert {"name": "public"} in pools["floating_ip_pools"]
    r = api(cloud, "POST", "/os-floating-ips", user="pocketstack", version=V,
            json={"pool": "public"})
    assert r.status_code == 200, r.text
    fip = r.json()["floating_ip"]
    assert fip["pool"] == "public" and fip["instance_id"] is None and fip["fixed_ip"] is None
    conn = cloud.conn("pocketstack")
    assert conn.network.get_ip(fip["id"]).floating_ip_address == fip["ip"]
    listed = api(cloud, "GET", "/os-floating-ips", user="pocketstack", version=V).json()
    assert fip["id"] in [f["id"] for f in listed["floating_ips"]]
    assert api(cloud, "POST", "/os-floating-ips", user="pocketstack", version=V,
               json={"pool": "no-such-pool"}).status_code == 404
    assert api(cloud, "DELETE", f"/os-floating-ips/{fip['id']}", user="pocketstack",
               version=V).status_code == 202
    assert api(cloud, "GET", f"/os-floating-ips/{fip['id']}", user="pocketstack",
               version=V).status_code == 404

    nets = api(cloud, "GET", "/os-tenant-networks", user="pocketstack", version=V).json()
    private = next(n for n in nets["networks"] if n["label"] == "private")
    assert private["cidr"]
    shown = api(cloud, "GET", f"/os-networks/{private['id']}", user="pocketstack",
                version=V).json()["network"]
    assert shown["label"] == "private" and shown["vlan"] is None
    assert api(cloud, "POST", "/os-networks", version=V,
               json={"network": {"label": "x"}}).status_code == 410
    assert api(cloud, "GET", "/os-networks", version="2.36").status_code == 404


def test_volume_and_snapshot_proxies(cloud):
    r = api(cloud, "POST", "/os-volumes", user="pocketstack", version=V,
            json={"volume": {"size": 1, "display_name": name("v"),
                             "metadata": {"k": "v"}}})
    assert r.status_code == 200, r.text
    vol = r.json()["volume"]
    assert vol["size"] == 1 and vol["metadata"] == {"k": "v"} and vol["attachments"] == [{}]
    conn = cloud.conn("pocketstack")
    conn.block_storage.wait_for_status(conn.block_storage.get_volume(vol["id"]), "available",
                                       wait=60, interval=0.3)
    shown = api(cloud, "GET", f"/os-volumes/{vol['id']}", user="pocketstack",
                version=V).json()["volume"]
    assert shown["displayName"] == vol["displayName"] and shown["status"] == "available"
    listed = api(cloud, "GET", "/os-volumes/detail?limit=1", user="pocketstack",
                 version=V).json()["volumes"]
    assert len(listed) == 1
    for bad in ({"size": 0}, {"size": "x"}, {}):
        r = api(cloud, "POST", "/os-volumes", user="pocketstack", version=V,
                json={"volume": bad})
        assert r.status_code == 400, (bad, r.text)
    assert api(cloud, "GET", f"/os-volumes/{'0' * 32}", user="pocketstack",
               version=V).status_code == 404
    r = api(cloud, "POST", "/os-snapshots", user="pocketstack", version=V,
            json={"snapshot": {"volume_id": vol["id"], "display_name": "s"}})
    assert r.status_code == 200, r.text
    snap = r.json()["snapshot"]
    assert snap["volumeId"] == vol["id"] and snap["displayName"] == "s"
    ids = [s["id"] for s in api(cloud, "GET", "/os-snapshots", user="pocketstack",
                                version=V).json()["snapshots"]]
    assert snap["id"] in ids
    assert api(cloud, "DELETE", f"/os-snapshots/{snap['id']}", user="pocketstack",
               version=V).status_code == 202
    assert api(cloud, "DELETE", f"/os-volumes/{vol['id']}", user="pocketstack",
               version=V).status_code == 202
    assert api(cloud, "GET", "/os-volumes", user="pocketstack", version="2.36").status_code == 404
