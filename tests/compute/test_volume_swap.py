"""Swap volume: PUT /servers/{id}/os-volume_attachments/{old} with another volumeId, as
Nova since bug 2112187: admin or service role only, 409 unless the old volume is being
migrated by Block Storage (set here with os-reset_status, as our Block Storage has no
migration), then the new volume takes the old one's device."""

from __future__ import annotations

from compute_helpers import api, boot, name, new_volume, wait


def _swap(cloud, sid: str, old: str, new: str, user: str = "pocketstack-admin",
          version: str = "2.89"):
    return api(cloud, "PUT", f"/servers/{sid}/os-volume_attachments/{old}", user, version,
               json={"volumeAttachment": {"volumeId": new}})


def test_swap_volume_of_a_migrating_volume(cloud):
    sid = boot(cloud, name("swap"), user="pocketstack")  # the demo member's server
    wait(cloud, sid, "ACTIVE")
    old, new = new_volume(cloud), new_volume(cloud)
    cloud.cli("server", "add", "volume", "--device", "/dev/vdc", sid, old["id"])
    before = api(cloud, "GET", f"/servers/{sid}/os-volume_attachments/{old['id']}",
                 version="2.89").json()["volumeAttachment"]

    r = _swap(cloud, sid, old["id"], new["id"], user="pocketstack")  # its owner, a member
    assert r.status_code == 403 and "forbidden" in r.json(), r.text
    r = _swap(cloud, sid, old["id"], new["id"])  # not migrating: only Cinder may swap
    assert r.status_code == 409, r.text
    assert "is not migrating" in r.json()["conflictingRequest"]["message"]
    assert _swap(cloud, sid, old["id"], new["id"], version="2.1").status_code == 409
    conn = cloud.conn()  # (Tempest's TestVolumeSwap: nothing changed)
    assert conn.block_storage.get_volume(old["id"]).status == "in-use"
    assert conn.block_storage.get_volume(new["id"]).status == "available"
    r = _swap(cloud, sid, "0" * 32, new["id"])
    assert r.status_code == 404 and "itemNotFound" in r.json(), r.text

    conn.block_storage.reset_volume_status(old["id"], migration_status="migrating")
    r = _swap(cloud, sid, old["id"], "1" * 32)  # the new volume is in the body: 400
    assert r.status_code == 400 and "could not be found" in r.json()["badRequest"]["message"]
    broken = new_volume(cloud)
    conn.block_storage.reset_volume_status(broken["id"], status="error")
    r = _swap(cloud, sid, old["id"], broken["id"])
    assert r.status_code == 400, r.text
    assert conn.block_storage.get_volume(old["id"]).status == "in-use"  # rolled back

    conn.compute.update_volume_attachment(sid, old["id"], volume_id=new["id"])  # the SDK
    (after,) = api(cloud, "GET", f"/servers/{sid}/os-volume_attachments",
                   version="2.89").json()["volumeAttachments"]
    assert after["volumeId"] == new["id"] and after["device"] == "/dev/vdc"
    assert after["bdm_uuid"] == before["bdm_uuid"]
    assert after["attachment_id"] not in (None, before["attachment_id"])
    shown_old = conn.block_storage.get_volume(old["id"])
    assert shown_old.status == "available" and not shown_old.attachments
    assert shown_old.migration_status == "success"
    shown_new = conn.block_storage.get_volume(new["id"])
    assert shown_new.status == "in-use"
    assert [(a["server_id"], a["attachment_id"], a["device"]) for a in
            shown_new.attachments] == [(sid, after["attachment_id"], "/dev/vdc")]
    server = conn.compute.get_server(sid)
    assert [v["id"] for v in server.attached_volumes] == [new["id"]]
    actions = cloud.cli("server", "event", "list", sid, "-f", "json")
    assert "swap_volume" in {a["Action"] for a in actions}
    # the old id is no longer attached: 404; the new one can be detached as usual
    assert _swap(cloud, sid, old["id"], broken["id"]).status_code in (400, 404)
    cloud.cli("server", "remove", "volume", sid, new["id"])
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
    conn.block_storage.reset_volume_status(broken["id"], status="available")
    for v in (old, new, broken):
        conn.block_storage.delete_volume(v["id"])


def test_swap_refused_in_a_bad_state_before_2_85_too(cloud):
    sid = boot(cloud, name("swap"))
    wait(cloud, sid, "ACTIVE")
    old, new = new_volume(cloud), new_volume(cloud)
    cloud.cli("server", "add", "volume", sid, old["id"])
    conn = cloud.conn()
    conn.block_storage.reset_volume_status(old["id"], migration_status="migrating")
    api(cloud, "POST", f"/servers/{sid}/action", json={"suspend": None})
    wait(cloud, sid, "SUSPENDED")
    r = _swap(cloud, sid, old["id"], new["id"], version="2.1")  # before 2.85: PUT swaps
    assert r.status_code == 409 and "swap_volume" in r.json()["conflictingRequest"]["message"]
    assert conn.block_storage.get_volume(old["id"]).status == "in-use"
    cloud.cli("server", "remove", "volume", sid, old["id"])
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
    conn.block_storage.reset_volume_status(old["id"], migration_status="none")
    for v in (old, new):
        conn.block_storage.delete_volume(v["id"])


def test_swap_of_a_multiattach_volume_with_two_writers_is_400(cloud):
    """TestMultiAttachVolumeSwap's case (not migrating: 409), then Nova's refusal of a
    multiattach volume with more than one read/write attachment."""
    vtype = cloud.cli("volume", "type", "create", "--property", "multiattach=<is> True",
                      name("multi"), "-f", "json")
    conn = cloud.conn()
    shared = conn.block_storage.create_volume(size=1, volume_type=vtype["name"],
                                              name=name("multi"))
    conn.block_storage.wait_for_status(shared, "available", wait=30)
    new = new_volume(cloud)
    sids = [boot(cloud, name("multi")) for _ in range(2)]
    for sid in sids:
        wait(cloud, sid, "ACTIVE")
        r = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments", version="2.60",
                json={"volumeAttachment": {"volumeId": shared.id}})
        assert r.status_code == 200, r.text
    assert _swap(cloud, sids[0], shared.id, new["id"], version="2.60").status_code == 409
    conn.block_storage.reset_volume_status(shared, migration_status="migrating")
    r = _swap(cloud, sids[0], shared.id, new["id"], version="2.60")
    assert r.status_code == 400 and "more than one read/write attachment" in \
        r.json()["badRequest"]["message"], r.text
    assert conn.block_storage.get_volume(shared.id).status == "in-use"
    assert conn.block_storage.get_volume(new["id"]).status == "available"
    for sid in sids:
        api(cloud, "DELETE", f"/servers/{sid}")
    for sid in sids:
        wait(cloud, sid, "DELETED")
    conn.block_storage.reset_volume_status(shared, migration_status="none")
    for v in (shared.id, new["id"]):
        conn.block_storage.delete_volume(v)
