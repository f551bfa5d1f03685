"""Compute microversions 2.91 to 2.96: unshelve to a host / unpinning, keypair names and
import only, rebuild of volume-backed servers, FQDN hostnames, evacuation to STOPPED,
pinned_availability_zone."""

from __future__ import annotations

import time

from compute_helpers import IMAGE, api, boot, name, wait


def _shelved(cloud, sid):
    cloud.cli("server", "shelve", "--wait", sid)
    wait(cloud, sid, "SHELVED_OFFLOADED")


def _server(cloud, sid, version="2.96"):
    return api(cloud, "GET", f"/servers/{sid}", version=version).json()["server"]


def test_2_91_unshelve_to_host_and_2_96_pinned_zone(cloud):
    sid = boot(cloud, name("pin"), server={"availability_zone": "nova"})
    wait(cloud, sid, "ACTIVE")
    assert _server(cloud, sid)["pinned_availability_zone"] == "nova"
    assert "pinned_availability_zone" not in _server(cloud, sid, "2.95")
    listed = cloud.conn().compute.get(f"/servers/detail?uuid={sid}", microversion="2.96")
    assert any(s.get("pinned_availability_zone") == "nova"
               for s in listed.json()["servers"])
    hosts = [s["Host"] for s in cloud.cli("compute", "service", "list", "--service",
                                          "nova-compute", "-f", "json")]
    act = f"/servers/{sid}/action"
    r = api(cloud, "POST", act, version="2.91", json={"unshelve": {"host": hosts[-1]}})
    assert r.status_code == 409  # not SHELVED_OFFLOADED
    _shelved(cloud, sid)
    for body, code in (({"unshelve": {"host": "nowhere"}}, 400),
                       ({"unshelve": {"host": hosts[-1], "availability_zone": "nope"}}, 400),
                       ({"unshelve": {"bogus": 1}}, 400)):
        r = api(cloud, "POST", act, version="2.91", json=body)
        assert r.status_code == code, (body, r.text)
    r = api(cloud, "POST", act, version="2.90", json={"unshelve": {"host": hosts[-1]}})
    assert r.status_code == 400  # host is a 2.91 field
    r = api(cloud, "POST", act, version="2.90", json={"unshelve": {
        "availability_zone": None}})
    assert r.status_code == 400  # null zone too
    cloud.cli("--os-compute-api-version", "2.91", "server", "unshelve", "--host", hosts[-1],
              "--wait", sid)
    shown = wait(cloud, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == hosts[-1]
    assert _server(cloud, sid)["pinned_availability_zone"] == "nova"
    _shelved(cloud, sid)
    cloud.cli("--os-compute-api-version", "2.91", "server", "unshelve",
              "--no-availability-zone", "--wait", sid)
    wait(cloud, sid, "ACTIVE")
    assert _server(cloud, sid)["pinned_availability_zone"] is None
    shown = cloud.cli("--os-compute-api-version", "2.96", "server", "show", sid, "-f", "json")
    assert shown["pinned_availability_zone"] in (None, "None", "")
    out = api(cloud, "PUT", f"/servers/{sid}", version="2.96",
              json={"server": {"name": "renamed"}}).json()["server"]
    assert "pinned_availability_zone" in out
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_91_unshelve_to_host_is_admin_only(cloud):
    sid = boot(cloud, name("pinu"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    _shelved(cloud, sid)
    r = api(cloud, "POST", f"/servers/{sid}/action", "pocketstack", "2.91",
            json={"unshelve": {"host": "fake-host-1"}})
    assert r.status_code == 403 and "forbidden" in r.json()
    api(cloud, "DELETE", f"/servers/{sid}", "pocketstack")


def test_2_92_keypairs(cloud):
    kp = name("kp")
    r = api(cloud, "POST", "/os-keypairs", "pocketstack", "2.92",
            json={"keypair": {"name": kp}})
    assert r.status_code == 400  # generation is gone: import only
    made = cloud.cli("--os-compute-api-version", "2.91", "keypair", "create", kp,
                     cloud="pocketstack")
    assert "PRIVATE KEY" in made
    key = cloud.cli("keypair", "show", "--public-key", kp, cloud="pocketstack").strip()
    dotted = f"me@{kp}.key"
    r = api(cloud, "POST", "/os-keypairs", "pocketstack", "2.91",
            json={"keypair": {"name": dotted, "public_key": key}})
    assert r.status_code == 400  # '@' and '.' only from 2.92 on
    r = api(cloud, "POST", "/os-keypairs", "pocketstack", "2.92",
            json={"keypair": {"name": dotted, "public_key": key}})
    assert r.status_code == 201, r.text
    r = api(cloud, "POST", "/os-keypairs", "pocketstack", "2.92",
            json={"keypair": {"name": "bad/name", "public_key": key}})
    assert r.status_code == 400
    for k in (kp, dotted):
        assert api(cloud, "DELETE", f"/os-keypairs/{k}", "pocketstack").status_code in (
            202, 204)


def test_2_93_rebuild_volume_backed(cloud, tmp_path):
    path = tmp_path / "disk.raw"
    path.write_bytes(b"\0" * 4096)
    images = [cloud.cli("image", "create", name("raw"), "--file", str(path),
                        "--disk-format", "raw", "--container-format", "bare", "--public",
                        "-f", "json")["id"] for _ in range(2)]
    r = api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": name("bfv"), "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{"uuid": images[0], "source_type": "image",
                                     "destination_type": "volume", "volume_size": 1,
                                     "boot_index": 0, "delete_on_termination": True}]}})
    sid = r.json()["server"]["id"]
    server = wait(cloud, sid, "ACTIVE")
    vid = server["os-extended-volumes:volumes_attached"][0]["id"]
    act = f"/servers/{sid}/action"
    r = api(cloud, "POST", act, version="2.92", json={"rebuild": {"imageRef": images[1]}})
    assert r.status_code == 400 and "volume-backed" in r.text
    r = api(cloud, "POST", act, version="2.92", json={"rebuild": {"imageRef": images[0]}})
    assert r.status_code == 202, r.text  # the same image: allowed before 2.93
    wait(cloud, sid, "ACTIVE")
    before = cloud.cli("volume", "show", vid, "-f", "json")["attachments"][0]["attachment_id"]
    cloud.cli("--os-compute-api-version", "2.93", "server", "rebuild", "--image", images[1],
              "--reimage-boot-volume", "--wait", sid)
    server = wait(cloud, sid, "ACTIVE")
    assert server["image"] == ""
    vol = cloud.cli("volume", "show", vid, "-f", "json")
    assert vol["status"] == "in-use"
    assert vol["volume_image_metadata"]["image_id"] == images[1]
    assert vol["attachments"][0]["attachment_id"] != before
    att = api(cloud, "GET", f"/servers/{sid}/os-volume_attachments", version="2.93").json()
    assert att["volumeAttachments"][0]["attachment_id"] == vol["attachments"][0][
        "attachment_id"]
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
    for image in images:
        cloud.cli("image", "delete", image)


def test_2_94_fqdn_hostname(cloud):
    sid = boot(cloud, name("fq"), version="2.94", server={"hostname": "web.example.org"})
    assert _server(cloud, sid, "2.94")["OS-EXT-SRV-ATTR:hostname"] == "web.example.org"
    wait(cloud, sid, "ACTIVE")
    for version, value, code in (("2.93", "a.b", 400), ("2.94", "bad name", 400),
                                 ("2.94", "y" * 256, 400), ("2.94", "x" * 200, 200),
                                 ("2.94", "db_1.example", 200)):
        r = api(cloud, "PUT", f"/servers/{sid}", version=version,
                json={"server": {"hostname": value}})
        assert r.status_code == code, (version, value, r.text)
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.94",
            json={"rebuild": {"imageRef": IMAGE, "hostname": "r.example.org"}})
    assert r.status_code == 202 and r.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == \
        "r.example.org"
    wait(cloud, sid, "ACTIVE")
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_95_evacuate_leaves_stopped(cloud):
    sids = [boot(cloud, name("ev")) for _ in range(2)]
    for sid in sids:
        wait(cloud, sid, "ACTIVE")
    source = _server(cloud, sids[0])["OS-EXT-SRV-ATTR:host"]
    other = _server(cloud, sids[1])["OS-EXT-SRV-ATTR:host"]
    cloud.cli("compute", "service", "set", "--down", source, "nova-compute")
    try:
        cloud.cli("--os-compute-api-version", "2.95", "server", "evacuate", sids[0])
        moved = wait(cloud, sids[0], "SHUTOFF")
        assert moved["OS-EXT-SRV-ATTR:host"] != source
        assert moved["OS-EXT-STS:power_state"] == 4
    finally:
        cloud.cli("compute", "service", "set", "--up", source, "nova-compute")
    if other != source:  # an older microversion keeps the server's state
        cloud.cli("compute", "service", "set", "--down", other, "nova-compute")
        try:
            r = api(cloud, "POST", f"/servers/{sids[1]}/action", version="2.94",
                    json={"evacuate": {}})
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 30
            while _server(cloud, sids[1])["OS-EXT-SRV-ATTR:host"] == other:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert wait(cloud, sids[1], "ACTIVE")["OS-EXT-STS:power_state"] == 1
        finally:
            cloud.cli("compute", "service", "set", "--up", other, "nova-compute")
    for sid in sids:
        api(cloud, "DELETE", f"/servers/{sid}")
