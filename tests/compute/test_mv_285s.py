"""Compute microversions 2.85 to 2.87: updating a volume attachment's
delete_on_termination, validation of known flavor extra specs, rescue of volume-backed
servers."""

from __future__ import annotations

import pytest
from compute_helpers import api, boot, boot_from_volume, name, new_volume, wait


def _raw_image(cloud, tmp_path_factory, *props):
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(b"\0" * 4096)
    return cloud.cli("image", "create", name("raw"), "--file", str(path), "--disk-format",
                     "raw", "--container-format", "bare", "--public", *props,
                     "-f", "json")["id"]


@pytest.fixture(scope="module")
def rescue_image(cloud, tmp_path_factory):
    return _raw_image(cloud, tmp_path_factory, "--property", "hw_rescue_bus=scsi",
                      "--property", "hw_rescue_device=cdrom")


@pytest.fixture(scope="module")
def plain_image(cloud, tmp_path_factory):
    return _raw_image(cloud, tmp_path_factory)


def test_2_85_update_delete_on_termination(cloud):
    sid = boot(cloud, name("dot"))
    wait(cloud, sid, "ACTIVE")
    vol = new_volume(cloud)
    cloud.cli("--os-compute-api-version", "2.79", "server", "add", "volume", sid, vol["id"])
    url = f"/servers/{sid}/os-volume_attachments/{vol['id']}"
    assert api(cloud, "GET", url, version="2.79").json()["volumeAttachment"][
        "delete_on_termination"] is False
    cloud.cli("--os-compute-api-version", "2.85", "server", "volume", "update",
              "--delete-on-termination", sid, vol["id"])
    assert api(cloud, "GET", url, version="2.85").json()["volumeAttachment"][
        "delete_on_termination"] is True
    body = {"volumeAttachment": {"volumeId": vol["id"], "delete_on_termination": False}}
    assert api(cloud, "PUT", url, "pocketstack-admin", "2.85", json=body).status_code == 202
    assert api(cloud, "GET", url, version="2.85").json()["volumeAttachment"][
        "delete_on_termination"] is False
    # before 2.85 the field is unknown (a PUT was a swap only)
    assert api(cloud, "PUT", url, version="2.84", json=body).status_code == 400
    for bad in ({"volumeId": vol["id"], "device": "/dev/vdz"},
                {"volumeId": vol["id"], "serverId": "0" * 32},
                {"volumeId": vol["id"], "delete_on_termination": "maybe"},
                {"volumeId": vol["id"], "bogus": 1}, {}):
        r = api(cloud, "PUT", url, version="2.85", json={"volumeAttachment": bad})
        assert r.status_code == 400 and "badRequest" in r.json(), (bad, r.text)
    r = api(cloud, "PUT", f"/servers/{sid}/os-volume_attachments/{'1' * 32}",
            version="2.85", json={"volumeAttachment": {"volumeId": "1" * 32}})
    assert r.status_code == 404
    cloud.cli("server", "remove", "volume", sid, vol["id"])
    api(cloud, "DELETE", f"/servers/{sid}")


def test_2_86_extra_spec_validation(cloud):
    flavor = cloud.cli("flavor", "create", "--ram", "64", "--disk", "0", "--vcpus", "1",
                       name("xs"), "-f", "json")
    fid = flavor["id"]
    cloud.cli("--os-compute-api-version", "2.86", "flavor", "set", "--property",
              "hw:cpu_policy=dedicated", "--property", "resources:CUSTOM_GPU=1",
              "--property", "my:own=anything", fid)
    r = cloud.cli("--os-compute-api-version", "2.86", "flavor", "set", "--property",
                  "hw:cpu_policy=bogus", fid, check=False)
    assert r.returncode != 0 and "is not one of" in r.stderr
    url = f"/flavors/{fid}/os-extra_specs"
    for specs, message in (({"hw:numa_nodes": "0"}, "less than the min"),
                           ({"hw:no_such_spec": "1"}, "does not appear to be a valid"),
                           ({"trait:NOT_A_TRAIT": "required"}, "does not appear"),
                           ({"hw_rng:allowed": "maybe"}, "boolean-like"),
                           ({"resources:VCPU": "many"}, "not a valid integer")):
        r = api(cloud, "POST", url, version="2.86", json={"extra_specs": specs})
        assert r.status_code == 400 and message in r.json()["badRequest"]["message"], r.text
        assert api(cloud, "POST", url, version="2.85",
                   json={"extra_specs": specs}).status_code == 200  # not validated before
    r = api(cloud, "PUT", f"{url}/hw:cpu_policy", version="2.86",
            json={"hw:cpu_policy": "nope"})
    assert r.status_code == 400
    r = api(cloud, "PUT", f"{url}/hw:cpu_policy", version="2.86",
            json={"hw:cpu_policy": "shared"})
    assert r.status_code == 200
    cloud.cli("flavor", "delete", fid)


def test_2_87_rescue_volume_backed(cloud, rescue_image, plain_image):
    sid = boot_from_volume(cloud, plain_image)
    act = f"/servers/{sid}/action"
    r = api(cloud, "POST", act, version="2.87", json={"rescue": None})
    assert r.status_code == 400 and "volume-backed" in r.text  # no stable rescue device
    r = api(cloud, "POST", act, version="2.86",
            json={"rescue": {"rescue_image_ref": rescue_image}})
    assert r.status_code == 400 and "volume-backed" in r.text
    cloud.cli("--os-compute-api-version", "2.87", "server", "rescue", "--image",
              rescue_image, sid)
    wait(cloud, sid, "RESCUE")
    cloud.cli("server", "unrescue", sid)
    wait(cloud, sid, "ACTIVE")
    api(cloud, "DELETE", f"/servers/{sid}")
    # a server booted from a volume of an image asking for a stable rescue device
    sid = boot_from_volume(cloud, rescue_image)
    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.87",
            json={"rescue": None})
    assert r.status_code == 200, r.text
    wait(cloud, sid, "RESCUE")
    api(cloud, "DELETE", f"/servers/{sid}")
