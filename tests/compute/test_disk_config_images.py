"""OS-DCF:diskConfig from an image's auto_disk_config property: Nova's /images proxy
views (up to 2.35), the default of servers built from it, and AUTO refused when the
image says disabled."""

from __future__ import annotations

import requests

from compute_helpers import api, name, wait


def _image(cloud, auto_disk_config: str) -> str:
    headers = {"X-Auth-Token": cloud.token("pocketstack-admin")}
    r = requests.post(cloud.url(9292, "/v2/images"), headers=headers, timeout=30,
                      json={"name": name("dcf"), "disk_format": "raw",
                            "container_format": "bare", "visibility": "public",
                            "auto_disk_config": auto_disk_config})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    r = requests.put(cloud.url(9292, f"/v2/images/{image_id}/file"), data=b"x" * 64,
                     headers={**headers, "Content-Type": "application/octet-stream"},
                     timeout=30)
    assert r.status_code == 204, r.text
    return image_id


def _boot(cloud, image_id: str, **server) -> requests.Response:
    return api(cloud, "POST", "/servers", json={"server": {
        "name": name("dcf"), "flavorRef": "1", "imageRef": image_id, "networks": "none",
        **server}}, version="2.37")


def test_image_views_show_disk_config(cloud):
    auto, disabled = _image(cloud, "True"), _image(cloud, "disabled")
    shown = api(cloud, "GET", f"/images/{auto}", version="2.35").json()["image"]
    assert shown["OS-DCF:diskConfig"] == "AUTO"
    assert shown["metadata"]["auto_disk_config"] == "True"
    shown = api(cloud, "GET", f"/images/{disabled}").json()["image"]
    assert shown["OS-DCF:diskConfig"] == "MANUAL"
    detail = {i["id"]: i for i in api(cloud, "GET", "/images/detail").json()["images"]}
    assert detail[auto]["OS-DCF:diskConfig"] == "AUTO"
    assert "OS-DCF:diskConfig" not in detail[cloud.tiny_image()]  # no property, no field
    listed = {i["id"]: i for i in api(cloud, "GET", "/images").json()["images"]}
    assert "OS-DCF:diskConfig" not in listed[auto]  # the index has no details
    # the proxy is gone from 2.36
    assert api(cloud, "GET", f"/images/{auto}", version="2.36").status_code == 404

    # a server built from the AUTO image inherits AUTO
    r = _boot(cloud, auto)
    assert r.status_code == 202 and r.json()["server"]["OS-DCF:diskConfig"] == "AUTO"
    sid = r.json()["server"]["id"]
    assert wait(cloud, sid, "ACTIVE")["OS-DCF:diskConfig"] == "AUTO"
    assert cloud.conn().compute.get_server(sid).disk_config == "AUTO"
    # rebuilding on the disabled image with AUTO is refused; without, MANUAL is kept
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"rebuild": {
        "imageRef": disabled, "OS-DCF:diskConfig": "AUTO"}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == \
        f"Requested image {disabled} has automatic disk resize disabled."
    cloud.conn().compute.delete_server(sid)

    r = _boot(cloud, disabled, **{"OS-DCF:diskConfig": "AUTO"})
    assert r.status_code == 400, r.text
    assert "has automatic disk resize disabled" in r.json()["badRequest"]["message"]
    r = _boot(cloud, disabled)
    assert r.status_code == 202 and r.json()["server"]["OS-DCF:diskConfig"] == "MANUAL"
    sid = r.json()["server"]["id"]
    wait(cloud, sid, "ACTIVE")
    shown = cloud.cli("server", "show", sid, "-f", "json")
    assert shown["OS-DCF:diskConfig"] == "MANUAL"
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {
        "flavorRef": "2", "OS-DCF:diskConfig": "AUTO"}})  # the image still says disabled
    assert r.status_code == 400 and "automatic disk resize disabled" in r.text
    cloud.conn().compute.delete_server(sid)
