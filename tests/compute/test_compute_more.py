"""Compute: tags, list filters through the CLI, restarts, unimplemented parts."""

from __future__ import annotations

import requests
import websockets.sync.client

from compute_helpers import api, boot, name, wait


def test_server_tags(cloud):
    sid = boot(cloud, name("tag"), server={"tags": ["a", "b"]})
    wait(cloud, sid, "ACTIVE")
    assert api(cloud, "GET", f"/servers/{sid}/tags", version="2.26").json() == {
        "tags": ["a", "b"]}
    assert api(cloud, "PUT", f"/servers/{sid}/tags/c", version="2.26").status_code == 201
    assert api(cloud, "GET", f"/servers/{sid}/tags/c", version="2.26").status_code == 204
    assert api(cloud, "DELETE", f"/servers/{sid}/tags/a", version="2.26").status_code == 204
    assert api(cloud, "GET", f"/servers/{sid}/tags/a", version="2.26").status_code == 404
    r = api(cloud, "GET", "/servers?tags=b,c", version="2.79").json()["servers"]
    assert sid in [s["id"] for s in r]
    r = api(cloud, "GET", "/servers?not-tags-any=c", version="2.79").json()["servers"]
    assert sid not in [s["id"] for s in r]
    # tags need 2.26
    assert api(cloud, "GET", f"/servers/{sid}/tags", version="2.25").status_code == 404
    api(cloud, "DELETE", f"/servers/{sid}")


def test_cli_list_filters(cloud):
    prefix = name("flt")
    a = boot(cloud, f"{prefix}-a", user="pocketstack", flavor="42")
    b = boot(cloud, f"{prefix}-b", user="pocketstack", flavor="84")
    for i in (a, b):
        wait(cloud, i, "ACTIVE", user="pocketstack")
    c = "pocketstack"
    rows = cloud.cli("server", "list", "--name", prefix, "--flavor", "m1.nano", "-f", "json",
                     cloud=c)
    assert [r["ID"] for r in rows] == [a]
    rows = cloud.cli("server", "list", "--name", prefix, "--status", "ACTIVE", "-f", "json",
                     cloud=c)
    assert {r["ID"] for r in rows} == {a, b}
    first = cloud.cli("server", "list", "--name", prefix, "--limit", "1", "-f", "json",
                      cloud=c)
    assert len(first) == 1
    rest = cloud.cli("server", "list", "--name", prefix, "--marker", first[0]["ID"], "-f",
                     "json", cloud=c)
    assert {r["ID"] for r in first + rest} == {a, b}
    cloud.cli("server", "set", "--name", f"{prefix}-renamed", "--description", "d", a,
              cloud=c)
    shown = cloud.cli("server", "show", a, "-f", "json", cloud=c)
    assert shown["name"] == f"{prefix}-renamed" and shown["description"] == "d"
    cloud.cli("server", "delete", "--wait", a, b, cloud=c)


def _placement(cloud, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, cloud.url(8778, path), timeout=30, headers={
        "X-Auth-Token": cloud.token(), "OpenStack-API-Version": "placement 1.6"}, **kwargs)


def _host_traits(cloud, host: str) -> tuple[str, set[str], int]:
    rp = _placement(cloud, "GET", f"/resource_providers?name={host}").json()
    uuid = rp["resource_providers"][0]["uuid"]
    body = _placement(cloud, "GET", f"/resource_providers/{uuid}/traits").json()
    return uuid, set(body["traits"]), body["resource_provider_generation"]


def test_restart_keeps_state_and_seeds_once(fresh_cloud):
    fresh_cloud.start()
    sid = boot(fresh_cloud, name("keep"))
    wait(fresh_cloud, sid, "ACTIVE")
    api(fresh_cloud, "DELETE", "/flavors/42")
    # guests with pinned CPUs fill the 2 hosts x 2 NUMA cells; the pins survive a restart
    r = api(fresh_cloud, "POST", "/flavors", json={"flavor": {
        "name": "pinned", "ram": 256, "vcpus": 3, "disk": 1, "id": "pinned"}})
    assert r.status_code == 200, r.text
    api(fresh_cloud, "POST", "/flavors/pinned/os-extra_specs",
        json={"extra_specs": {"hw:cpu_policy": "dedicated"}})
    pinned = [boot(fresh_cloud, name("pin"), flavor="pinned") for _ in range(4)]
    for p in pinned:
        wait(fresh_cloud, p, "ACTIVE")
    console = fresh_cloud.cli("console", "url", "show", "--serial", "-f", "json", sid)["url"]
    # a disabled host whose provider lost COMPUTE_STATUS_DISABLED (say, reported before
    # traits were) and has a trait of an operator's: the start reports the one, keeps the other
    fresh_cloud.cli("compute", "service", "set", "--disable", "fake-host-2", "nova-compute")
    rp, traits, generation = _host_traits(fresh_cloud, "fake-host-2")
    assert "COMPUTE_STATUS_DISABLED" in traits
    assert _placement(fresh_cloud, "PUT", "/traits/CUSTOM_KEPT").ok
    assert _placement(fresh_cloud, "PUT", f"/resource_providers/{rp}/traits", json={
        "traits": sorted(traits - {"COMPUTE_STATUS_DISABLED"} | {"CUSTOM_KEPT"}),
        "resource_provider_generation": generation}).ok
    assert fresh_cloud.stop() == 0
    fresh_cloud.start()
    traits = _host_traits(fresh_cloud, "fake-host-2")[1]
    assert {"COMPUTE_STATUS_DISABLED", "CUSTOM_KEPT", "COMPUTE_NODE"} <= traits
    extra = boot(fresh_cloud, name("pin"), flavor="pinned")
    assert "No valid host" in wait(fresh_cloud, extra, "ERROR")["fault"]["message"]
    body = wait(fresh_cloud, sid, "ACTIVE")
    token = console.split("token=")[1]  # console tokens are in the database
    assert api(fresh_cloud, "GET", f"/os-console-auth-tokens/{token}", version="2.31").ok
    with websockets.sync.client.connect(console, open_timeout=30) as ws:
        seen = b""
        while b"login:" not in seen:  # and the serial proxy still takes it
            seen += ws.recv(timeout=30)
    assert body["OS-EXT-SRV-ATTR:host"] in ("fake-host-1", "fake-host-2")
    flavors = {f["id"] for f in api(fresh_cloud, "GET", "/flavors").json()["flavors"]}
    assert "1" in flavors and "42" not in flavors  # seeded once, deletions stick
    services = api(fresh_cloud, "GET", "/os-services", version="2.79").json()["services"]
    assert len([s for s in services if s["binary"] == "nova-compute"]) == 2
    usage = api(fresh_cloud, "GET", "/os-hypervisors/detail", version="2.79").json()
    assert sum(h["running_vms"] for h in usage["hypervisors"]) == 5


def test_bad_input_is_4xx_never_500(cloud):
    sid = boot(cloud, name("bad"))
    project = cloud.conn("pocketstack").current_project_id
    garbage = [b"[]", b"null", b"42", b'"x"', b"{}", b'{"x": 1}', b"{bad json"]
    targets = [("POST", "/servers"), ("PUT", f"/servers/{sid}"),
               ("POST", f"/servers/{sid}/action"), ("POST", f"/servers/{sid}/metadata"),
               ("PUT", f"/servers/{sid}/metadata"), ("PUT", f"/servers/{sid}/metadata/k"),
               ("PUT", f"/servers/{sid}/tags"), ("POST", "/flavors"),
               ("POST", "/flavors/1/action"), ("POST", "/flavors/1/os-extra_specs"),
               ("PUT", "/flavors/1/os-extra_specs/k"), ("PUT", "/flavors/1"),
               ("POST", "/os-keypairs"), ("POST", "/os-server-groups"),
               ("PUT", f"/os-quota-sets/{project}"), ("PUT", "/os-services/nope")]
    for method, path in targets:
        for body in garbage:
            r = api(cloud, method, path, version="2.79", data=body,
                    headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (method, path, body, r.status_code, r.text)
    odd = [{"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "none",
                       "min_count": "abc"}},
           {"server": {"name": " x", "flavorRef": "1", "imageRef": "i", "networks": "none"}},
           {"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "none",
                       "metadata": {"k": 1}}},
           {"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": [{}]}},
           {"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "none",
                       "os:scheduler_hints": []}},
           {"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "none",
                       "key_name": "missing"}},
           {"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "none",
                       "availability_zone": "nowhere"}}]
    for body in odd:
        r = api(cloud, "POST", "/servers", version="2.79", json=body)
        assert r.status_code == 400, (body, r.text)
    r = api(cloud, "POST", "/flavors", version="2.79",
            json={"flavor": {"name": name("f"), "ram": 10 ** 12, "vcpus": 1, "disk": 1}})
    assert r.status_code == 400
    r = api(cloud, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"cores": "-5"}})
    assert r.status_code == 400
    for q in ("limit=-1", "limit=x", "changes-since=yesterday", "sort_dir=up"):
        assert api(cloud, "GET", f"/servers?{q}", version="2.79").status_code == 400, q
    api(cloud, "DELETE", f"/servers/{sid}")


def test_aggregate_zone_steers_scheduling(cloud):
    aname, zone = name("agg"), name("az")
    agg = cloud.cli("aggregate", "create", "--zone", zone, aname, "-f", "json")
    assert agg["availability_zone"] == zone
    cloud.cli("aggregate", "add", "host", aname, "fake-host-2")
    try:
        zones = [z["Zone Name"] for z in cloud.cli("availability", "zone", "list",
                                                   "--compute", "-f", "json")]
        assert zone in zones
        sid = boot(cloud, name("inaz"), server={"availability_zone": zone})
        body = wait(cloud, sid, "ACTIVE")
        assert body["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
        assert body["OS-EXT-AZ:availability_zone"] == zone
        proc = cloud.cli("aggregate", "delete", aname, check=False)
        assert proc.returncode != 0 and "400" in proc.stderr
        api(cloud, "DELETE", f"/servers/{sid}")
        wait(cloud, sid, "DELETED")
    finally:
        cloud.cli("aggregate", "remove", "host", aname, "fake-host-2")
        cloud.cli("aggregate", "delete", aname)
    r = api(cloud, "POST", "/servers", version="2.79",
            json={"server": {"name": "x", "flavorRef": "1", "imageRef": "i",
                             "networks": "none", "availability_zone": zone}})
    assert r.status_code == 400


def test_usage(cloud):
    sid = boot(cloud, name("use"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    project = cloud.conn("pocketstack").current_project_id
    rows = cloud.cli("usage", "list", "-f", "json")
    demo = next(r for r in rows if r["Project"] in ("demo", project))
    assert sid in [s["instance_id"] for s in demo["Servers"]]
    assert float(demo["CPU Hours"]) < 1
    shown = cloud.cli("usage", "show", "-f", "json", cloud="pocketstack")
    assert sid in [s["instance_id"] for s in shown["Servers"]]
    assert api(cloud, "GET", "/os-simple-tenant-usage", user="pocketstack").status_code == 403
    api(cloud, "DELETE", f"/servers/{sid}", user="pocketstack")
