"""Compute <-> Image: image checks on create, server snapshots and backups."""

from __future__ import annotations

import time

import requests
from compute_helpers import IMAGE, api, boot, ensure_image, name, wait

DEMO = "pocketstack"


def _glance(cloud, method, path, user="pocketstack-admin", **kwargs):
    headers = {"X-Auth-Token": cloud.token(user), **kwargs.pop("headers", {})}
    return requests.request(method, cloud.url(9292, path), headers=headers, timeout=30,
                            **kwargs)


def _image(cloud, user="pocketstack-admin", upload=True, **fields):
    body = {"name": name("img"), "disk_format": "raw", "container_format": "bare", **fields}
    r = _glance(cloud, "POST", "/v2/images", user, json=body)
    assert r.status_code == 201, r.text
    image = r.json()
    if upload:
        r = _glance(cloud, "PUT", f"/v2/images/{image['id']}/file", user, data=b"x" * 64,
                    headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
    return image


def _create(cloud, image_id, user=DEMO, flavor="1"):
    body = {"server": {"name": name("img"), "flavorRef": flavor, "imageRef": image_id,
                       "networks": "none"}}
    return api(cloud, "POST", "/servers", user, "2.79", json=body)


def _wait_image(cloud, image_id, user=DEMO, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = _glance(cloud, "GET", f"/v2/images/{image_id}", user)
        if r.status_code == 200 and r.json()["status"] == "active":
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"image {image_id} never became active")


def test_image_is_validated_on_create(cloud):
    missing = _create(cloud, "9a2b4a5c-0000-4000-8000-000000000000")
    assert missing.status_code == 400
    assert missing.json()["badRequest"]["message"] == \
        "Image 9a2b4a5c-0000-4000-8000-000000000000 could not be found."
    queued = _image(cloud, upload=False, visibility="public")
    r = _create(cloud, queued["id"])
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == \
        f"Image {queued['id']} is not active."
    private = _image(cloud, visibility="private")  # the admin project's own image
    r = _create(cloud, private["id"])
    assert r.status_code == 400 and "could not be found" in r.text
    big_ram = _image(cloud, visibility="public", min_ram=100000)
    r = _create(cloud, big_ram["id"])
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == \
        "Flavor's memory is too small for requested image."
    big_disk = _image(cloud, visibility="public", min_disk=500)
    r = _create(cloud, big_disk["id"])
    assert r.status_code == 400 and "disk is too small" in r.json()["badRequest"]["message"]
    ok = _create(cloud, private["id"], user="pocketstack-admin")
    assert ok.status_code == 202, ok.text
    api(cloud, "DELETE", f"/servers/{ok.json()['server']['id']}")


def test_server_image_create_cli(cloud):
    ensure_image(cloud)
    sname = name("snapvm")
    cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE, "--nic", "none",
              "--wait", sname, cloud=DEMO)
    sid = cloud.cli("server", "show", sname, "-f", "json", cloud=DEMO)["id"]
    snap = cloud.cli("server", "image", "create", "--name", name("snap"), "--wait", sname,
                     "-f", "json", cloud=DEMO)
    image = _wait_image(cloud, snap["id"])
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == sid
    assert image["base_image_ref"] == IMAGE and image["visibility"] == "private"
    assert image["size"] == _glance(cloud, "GET", f"/v2/images/{IMAGE}").json()["size"]
    assert image["owner"] == cloud.conn(DEMO).current_project_id
    body = wait(cloud, sid, "ACTIVE", user=DEMO)
    assert body["OS-EXT-STS:task_state"] is None
    actions = [a["action"] for a in api(cloud, "GET", f"/servers/{sid}/os-instance-actions",
                                        DEMO).json()["instanceActions"]]
    assert "createImage" in actions
    # the snapshot boots a server of its own
    r = _create(cloud, image["id"])
    assert r.status_code == 202, r.text
    wait(cloud, r.json()["server"]["id"], "ACTIVE", user=DEMO)
    api(cloud, "DELETE", f"/servers/{r.json()['server']['id']}", DEMO)
    # Nova's image proxy (up to 2.35) shows it too
    proxied = api(cloud, "GET", f"/images/{image['id']}", DEMO, "2.1").json()["image"]
    assert proxied["status"] == "ACTIVE" and proxied["metadata"]["instance_uuid"] == sid
    assert proxied["server"]["id"] == sid
    assert api(cloud, "GET", f"/images/{image['id']}", DEMO, "2.36").status_code == 404
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.45",
            json={"createImage": {"name": "x", "metadata": {"k": "v"}}})
    assert r.status_code == 202 and r.json()["image_id"] in r.headers["Location"]
    other = _wait_image(cloud, r.json()["image_id"])
    assert other["k"] == "v"
    assert api(cloud, "DELETE", f"/images/{other['id']}", DEMO, "2.1").status_code == 204
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)


def test_create_backup_rotates(cloud):
    sid = boot(cloud, name("bk"), user=DEMO)
    wait(cloud, sid, "ACTIVE", user=DEMO)
    made = []
    for i in range(3):
        r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.45",
                json={"createBackup": {"name": f"bk-{i}", "backup_type": "daily",
                                       "rotation": 2}})
        assert r.status_code == 202, r.text
        made.append(r.json()["image_id"])
        wait(cloud, sid, "ACTIVE", user=DEMO)
        _wait_image(cloud, made[-1])
    listed = _glance(cloud, "GET", f"/v2/images?instance_uuid={sid}&image_type=backup",
                     DEMO).json()["images"]
    assert sorted(i["id"] for i in listed) == sorted(made[1:])
    assert all(i["backup_type"] == "daily" for i in listed)
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"createBackup": {"name": "b", "backup_type": "daily", "rotation": -1}})
    assert r.status_code == 400
    api(cloud, "POST", f"/servers/{sid}/action", DEMO, json={"os-stop": None})
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, json={"createImage": {"name": "x"}})
    assert r.status_code in (202, 409)  # 409 while it is powering off, as Nova
    api(cloud, "DELETE", f"/servers/{sid}", DEMO)


def test_rebuild_from_another_image(cloud):
    sid = boot(cloud, name("rb"), user=DEMO)
    wait(cloud, sid, "ACTIVE", user=DEMO)
    other = _image(cloud, visibility="public")
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, "2.1",
            json={"rebuild": {"imageRef": other["id"], "name": "rebuilt",
                              "metadata": {"a": "b"}, "adminPass": "secret"}})
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    assert server["image"]["id"] == other["id"] and server["name"] == "rebuilt"
    assert server["adminPass"] == "secret" and "OS-EXT-STS:vm_state" not in server
    body = wait(cloud, sid, "ACTIVE", user=DEMO)
    assert body["image"]["id"] == other["id"] and body["metadata"] == {"a": "b"}
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"rebuild": {"imageRef": "9a2b4a5c-0000-4000-8000-000000000000"}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO, json={"rebuild": {}})
    assert r.status_code == 400
    api(cloud, "DELETE", f"/servers/{sid}", DEMO)
    wait(cloud, sid, "DELETED", user=DEMO)
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"rebuild": {"imageRef": other["id"]}})
    assert r.status_code == 404


def test_rebuild_refuses_an_image_that_changes_the_numa_topology(cloud):
    """Nova's ImageNUMATopologyRebuildConflict (bug 1763766): a rebuild cannot give the
    guest another NUMA topology; the server is left as it was."""
    sid = boot(cloud, name("rbnuma"), user=DEMO)
    before = wait(cloud, sid, "ACTIVE", user=DEMO)
    numa_image = _image(cloud, visibility="public", hw_numa_nodes="1")
    r = api(cloud, "POST", f"/servers/{sid}/action", DEMO,
            json={"rebuild": {"imageRef": numa_image["id"]}})
    assert r.status_code == 400, r.text
    assert "NUMA topology cannot be changed as part of a rebuild" in \
        r.json()["badRequest"]["message"]
    after = wait(cloud, sid, "ACTIVE", user=DEMO)
    assert after["image"]["id"] == before["image"]["id"]
    assert after["OS-EXT-STS:task_state"] is None
    api(cloud, "DELETE", f"/servers/{sid}", DEMO)
    wait(cloud, sid, "DELETED", user=DEMO)
