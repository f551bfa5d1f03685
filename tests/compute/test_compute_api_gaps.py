"""Round-4 Nova API gaps: x509 key pairs, OS-DCF:diskConfig, rebuild reply fields,
assisted volume snapshots and the legacy network actions."""

from __future__ import annotations

import urllib.parse

from compute_helpers import IMAGE, api, boot, name, wait


def test_x509_keypair_generated_with_the_cli_and_sdk(cloud):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    kp_name = name("cert")
    r = api(cloud, "POST", "/os-keypairs", version="2.2",
            json={"keypair": {"name": kp_name, "type": "x509"}})
    assert r.status_code == 201, r.text
    body = r.json()["keypair"]
    cert = x509.load_pem_x509_certificate(body["public_key"].encode())
    key = serialization.load_pem_private_key(body["private_key"].encode(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert body["type"] == "x509" and len(body["fingerprint"].split(":")) == 20
    shown = cloud.conn().compute.get_keypair(kp_name)
    assert shown.type == "x509" and shown.fingerprint == body["fingerprint"]
    listed = cloud.cli("keypair", "list", "-f", "json")
    assert kp_name in {k["Name"] for k in listed}
    cloud.cli("keypair", "delete", kp_name)


def test_disk_config_create_update_rebuild_resize(cloud):
    conn = cloud.conn()
    sid = boot(cloud, name("dcf"), server={"OS-DCF:diskConfig": "AUTO"})
    assert wait(cloud, sid, "ACTIVE")["OS-DCF:diskConfig"] == "AUTO"
    assert conn.compute.get_server(sid).disk_config == "AUTO"
    r = api(cloud, "PUT", f"/servers/{sid}", json={"server": {"OS-DCF:diskConfig": "MANUAL"}})
    assert r.status_code == 200 and r.json()["server"]["OS-DCF:diskConfig"] == "MANUAL"
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.57",
            json={"rebuild": {"imageRef": IMAGE, "OS-DCF:diskConfig": "AUTO"}})
    assert r.status_code == 202, r.text
    reply = r.json()["server"]
    assert reply["OS-DCF:diskConfig"] == "AUTO"
    assert "key_name" in reply and "user_data" in reply  # 2.54 and 2.57 rebuild fields
    assert wait(cloud, sid, "ACTIVE")["OS-DCF:diskConfig"] == "AUTO"
    r = api(cloud, "POST", f"/servers/{sid}/action",
            json={"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "BAD"}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/action",
            json={"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}})
    assert r.status_code == 202, r.text
    assert wait(cloud, sid, "VERIFY_RESIZE")["OS-DCF:diskConfig"] == "MANUAL"
    conn.compute.confirm_server_resize(sid)
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.75",
            json={"rebuild": {"imageRef": IMAGE}})
    assert r.status_code == 202 and "OS-EXT-STS:vm_state" in r.json()["server"]
    r = api(cloud, "GET", f"/servers/{sid}/diagnostics", version="2.48")
    assert r.status_code == 200 and r.json()["driver"] == "libvirt"
    conn.compute.delete_server(sid)


def test_legacy_network_actions(cloud):
    conn = cloud.conn()
    net = conn.network.find_network("private")
    sid = boot(cloud, name("multinic"), server={"networks": [{"uuid": net.id}]})
    wait(cloud, sid, "ACTIVE")
    assert api(cloud, "POST", f"/servers/{sid}/action",
               json={"injectNetworkInfo": None}).status_code == 202
    assert api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack",
               json={"injectNetworkInfo": None}).status_code in (403, 404)
    assert api(cloud, "POST", f"/servers/{sid}/action",
               json={"resetNetwork": None}).status_code == 410
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"addFixedIp": {"networkId": net.id}})
    assert r.status_code == 202, r.text
    ports = list(conn.network.ports(device_id=sid))
    assert len(ports) == 2
    address = ports[-1].fixed_ips[0]["ip_address"]
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.44",
            json={"removeFixedIp": {"address": address}})
    assert r.status_code == 404
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"removeFixedIp": {"address": address}})
    assert r.status_code == 202, r.text
    left = list(conn.network.ports(device_id=sid))
    assert len(left) == 1 and address not in {f["ip_address"] for f in left[0].fixed_ips}
    r = api(cloud, "POST", f"/servers/{sid}/action",
            json={"removeFixedIp": {"address": "10.9.9.9"}})
    assert r.status_code == 400
    conn.compute.delete_server(sid)


def test_assisted_volume_snapshots(cloud):
    conn = cloud.conn()
    sid = boot(cloud, name("avs"))
    volume = conn.block_storage.create_volume(size=1, name=name("avs"))
    conn.block_storage.wait_for_status(volume, "available")
    wait(cloud, sid, "ACTIVE")
    conn.compute.create_volume_attachment(sid, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, "in-use")
    body = {"snapshot": {"volume_id": volume.id, "create_info": {
        "snapshot_id": "5f1c1a4e-0e47-4f5a-9c53-000000000001", "type": "qcow2",
        "new_file": "new_file"}}}
    assert api(cloud, "POST", "/os-assisted-volume-snapshots", user="pocketstack",
               json=body).status_code == 403
    r = api(cloud, "POST", "/os-assisted-volume-snapshots", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["snapshot"] == {"id": "5f1c1a4e-0e47-4f5a-9c53-000000000001",
                                    "volumeId": volume.id}
    info = urllib.parse.quote(f'{{"volume_id": "{volume.id}"}}')
    r = api(cloud, "DELETE", "/os-assisted-volume-snapshots/"
            f"5f1c1a4e-0e47-4f5a-9c53-000000000001?delete_info={info}")
    assert r.status_code == 204, r.text
    body["snapshot"]["volume_id"] = "00000000-0000-0000-0000-000000000000"
    assert api(cloud, "POST", "/os-assisted-volume-snapshots", json=body).status_code == 404
    conn.compute.delete_server(sid)


def test_blank_ids_are_404(cloud):
    assert api(cloud, "DELETE", "/images/").status_code == 404
    assert api(cloud, "GET", "/os-simple-tenant-usage/").status_code == 404
    assert api(cloud, "GET", "/os-volumes/").status_code == 404
    assert api(cloud, "GET", "/os-volumes").status_code == 200
