"""Compute microversions 2.88 to 2.90: hypervisors without resource figures, volume
attachments with attachment_id/bdm_uuid, hostname on create/update/rebuild."""

from __future__ import annotations

from compute_helpers import IMAGE, api, boot, name, new_volume, wait


def test_2_88_hypervisors(cloud):
    old = api(cloud, "GET", "/os-hypervisors/detail", version="2.87").json()["hypervisors"]
    assert "vcpus" in old[0] and "uptime" not in old[0]
    new = api(cloud, "GET", "/os-hypervisors/detail", version="2.88").json()["hypervisors"]
    for gone in ("vcpus", "memory_mb", "local_gb", "running_vms", "cpu_info",
                 "current_workload", "free_ram_mb", "disk_available_least"):
        assert gone not in new[0]
    assert "uptime" in new[0] and new[0]["state"] in ("up", "down")
    hid = new[0]["id"]
    shown = cloud.cli("--os-compute-api-version", "2.88", "hypervisor", "show", hid,
                      "-f", "json")
    assert shown["uptime"] and "vcpus" not in shown
    for path in ("/os-hypervisors/statistics", f"/os-hypervisors/{hid}/uptime"):
        assert api(cloud, "GET", path, version="2.87").status_code == 200
        r = api(cloud, "GET", path, version="2.88")
        assert r.status_code == 404 and "itemNotFound" in r.json(), r.text


def test_2_89_volume_attachment_ids(cloud):
    sid = boot(cloud, name("va"))
    wait(cloud, sid, "ACTIVE")
    vol = new_volume(cloud)
    r = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments", version="2.89",
            json={"volumeAttachment": {"volumeId": vol["id"]}})
    assert r.status_code == 200 and r.json()["volumeAttachment"]["id"] == vol["id"]
    url = f"/servers/{sid}/os-volume_attachments"
    att = api(cloud, "GET", url, version="2.89").json()["volumeAttachments"][0]
    assert "id" not in att and att["volumeId"] == vol["id"]
    cinder = cloud.cli("volume", "show", vol["id"], "-f", "json")["attachments"][0]
    assert att["attachment_id"] == cinder["attachment_id"] and len(att["bdm_uuid"]) == 36
    old = api(cloud, "GET", f"{url}/{vol['id']}", version="2.88").json()["volumeAttachment"]
    assert old["id"] == vol["id"] and "attachment_id" not in old
    listed = cloud.cli("--os-compute-api-version", "2.89", "server", "volume", "list", sid,
                       "-f", "json")
    assert listed[0]["Attachment ID"] == att["attachment_id"]
    assert listed[0]["BlockDeviceMapping UUID"] == att["bdm_uuid"]
    cloud.cli("server", "remove", "volume", sid, vol["id"])
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_90_hostname(cloud):
    srv = cloud.cli("--os-compute-api-version", "2.90", "server", "create", "--flavor", "1",
                    "--image", IMAGE, "--no-network", "--hostname", "web-01", "--wait",
                    name("hn"), "-f", "json", cloud="pocketstack")
    sid = srv["id"]
    shown = api(cloud, "GET", f"/servers/{sid}", "pocketstack", "2.90").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:hostname"] == "web-01"  # visible to its owner now
    assert "OS-EXT-SRV-ATTR:host" not in shown
    old = api(cloud, "GET", f"/servers/{sid}", "pocketstack", "2.89").json()["server"]
    assert "OS-EXT-SRV-ATTR:hostname" not in old
    cloud.cli("--os-compute-api-version", "2.90", "server", "set", "--hostname", "web-02",
              sid, cloud="pocketstack")
    r = api(cloud, "GET", "/servers?hostname=web-02", "pocketstack", "2.90")
    assert sid in {s["id"] for s in r.json()["servers"]}
    r = api(cloud, "POST", f"/servers/{sid}/action", "pocketstack", "2.90",
            json={"rebuild": {"imageRef": IMAGE, "hostname": "web-03"}})
    assert r.status_code == 202 and r.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "web-03"
    wait(cloud, sid, "ACTIVE")
    put = f"/servers/{sid}"
    for version, value in (("2.89", "web-04"), ("2.90", "a"), ("2.90", "web.example.org"),
                           ("2.90", "-web"), ("2.90", "x" * 64)):
        r = api(cloud, "PUT", put, "pocketstack", version,
                json={"server": {"hostname": value}})
        assert r.status_code == 400 and "badRequest" in r.json(), (version, value, r.text)
    r = api(cloud, "POST", "/servers", "pocketstack", "2.90", json={"server": {
        "name": name("hn"), "flavorRef": "1", "imageRef": IMAGE, "networks": "none",
        "hostname": "many", "max_count": 2}})
    assert r.status_code == 400 and "multiple" in r.text
    r = api(cloud, "POST", f"/servers/{sid}/action", "pocketstack", "2.89",
            json={"rebuild": {"imageRef": IMAGE, "hostname": "web-05"}})
    assert r.status_code == 400
    api(cloud, "DELETE", f"/servers/{sid}", "pocketstack")
