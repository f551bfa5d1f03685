"""The in-process API compute uses (reserve / attach / detach / connection info) and the
file driver on its own."""

from __future__ import annotations

import os
import uuid

import pytest

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.cloud import Cloud
from pocketstack.config import Config
from pocketstack.volume.drivers.file import FileDriver


@pytest.fixture(scope="module")
def local_cloud(tmp_path_factory):
    conf = Config.load(None, {("DEFAULT", "admin_password"): "secret",
                              ("identity", "password_hash_rounds"): 1})
    cloud = Cloud(conf, str(tmp_path_factory.mktemp("inproc") / "data"), "127.0.0.1")
    cloud.prepare()
    yield cloud
    cloud.stop()



def test_compute_attach_flow(local_cloud):
    svc = local_cloud.service("volume")
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    vol = svc.volumes.create(ctx, {"size": 1, "name": "boot"})
    server = str(uuid.uuid4())
    att = svc.reserve(ctx, vol["id"], server)
    assert svc.get_volume(ctx, vol["id"])["status"] == "reserved"
    info = svc.attach(ctx, att, {"host": "compute1"}, mountpoint="/dev/vdb")
    assert info["driver_volume_type"] == "file"
    assert os.path.exists(info["data"]["device_path"])
    shown = svc.get_volume(ctx, vol["id"])
    assert shown["status"] == "in-use"
    assert shown["attachments"][0]["server_id"] == server
    assert shown["attachments"][0]["device"] == "/dev/vdb"
    with pytest.raises(errors.BadRequest):
        svc.reserve(ctx, vol["id"], str(uuid.uuid4()))  # not multiattach
    assert svc.connection_info(ctx, vol["id"])["data"]["device_path"] == \
        info["data"]["device_path"]
    svc.detach(ctx, att)
    assert svc.get_volume(ctx, vol["id"])["status"] == "available"
    other = RequestContext(user_id="u2", project_id="p2", roles=["member"])
    with pytest.raises(errors.NotFound):
        svc.get_volume(other, vol["id"])
    svc.volumes.delete(ctx, vol["id"])


def test_file_driver_sparse_copy_and_backup(tmp_path):
    d = FileDriver(str(tmp_path))
    d.create_volume("a", 1)
    with open(d.volume_path("a"), "r+b") as f:
        f.seek(100 * 1024 * 1024)
        f.write(b"x" * 10)
    d.create_snapshot("s", "a")
    d.create_from_snapshot("b", "s", 2)
    assert os.path.getsize(d.volume_path("b")) == 2 * 1024 ** 3
    with open(d.volume_path("b"), "rb") as f:
        f.seek(100 * 1024 * 1024)
        assert f.read(10) == b"x" * 10
    assert d.backup_volume("bk", volume_id="a") == 1
    d.create_volume("c", 1)
    d.restore_backup("bk", "c")
    with open(d.volume_path("c"), "rb") as f:
        f.seek(100 * 1024 * 1024)
        assert f.read(10) == b"x" * 10
    for fn, arg in ((d.delete_volume, "a"), (d.delete_volume, "b"), (d.delete_volume, "c"),
                    (d.delete_snapshot, "s"), (d.delete_backup, "bk")):
        fn(arg)
        fn(arg)  # idempotent
    assert os.listdir(d.volumes_dir) == [] and os.listdir(d.backups_dir) == []


class _StubImages:
    def __init__(self, images):
        self.by_id = images

    def get(self, ctx, image_id):
        if image_id not in self.by_id:
            raise errors.NotFound(f"No image found with ID {image_id}")
        return self.by_id[image_id]


class _StubImageService:
    """The image service's documented in-process API: images.get and data_path."""

    name = "image"

    def __init__(self, images, paths):
        self.images = _StubImages(images)
        self.paths = paths

    def data_path(self, image_id):
        return self.paths.get(image_id)


def test_volume_from_image(local_cloud, tmp_path):
    svc = local_cloud.service("volume")
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    data = tmp_path / "img.raw"
    data.write_bytes(b"\0" * 4096 + b"BOOTSECTOR" + b"\0" * 100)
    image_id = str(uuid.uuid4())
    image = {"id": image_id, "name": "cirros", "status": "active", "disk_format": "raw",
             "container_format": "bare", "size": data.stat().st_size, "min_disk": 0,
             "min_ram": 0, "checksum": "abc", "os_distro": "cirros"}
    with pytest.raises(errors.BadRequest):  # the real image service does not know it
        svc.volumes.create(ctx, {"size": 1, "imageRef": image_id})
    stub = _StubImageService({image_id: image}, {image_id: str(data)})
    local_cloud.services.insert(0, stub)  # found before the real one
    try:
        vol = svc.volumes.create(ctx, {"size": 1, "imageRef": image_id})
        assert vol["status"] in ("creating", "downloading")  # copied by the worker
        svc.worker.drain(60)
        vol = svc.get_volume(ctx, vol["id"])
        assert vol["status"] == "available" and vol["bootable"] == "true"
        assert vol["volume_image_metadata"]["image_id"] == image_id
        assert vol["volume_image_metadata"]["os_distro"] == "cirros"
        with open(svc.driver.volume_path(vol["id"]), "rb") as f:
            f.seek(4096)
            assert f.read(10) == b"BOOTSECTOR"
        with pytest.raises(errors.BadRequest):
            svc.volumes.create(ctx, {"size": 1, "imageRef": str(uuid.uuid4())})
        # re-image (3.68): a blank volume gets the image's data and metadata
        blank = svc.volumes.create(ctx, {"size": 1})
        svc.actions.reimage(ctx, blank["id"], image_id, False)
        shown = svc.get_volume(ctx, blank["id"])
        assert shown["status"] == "available" and shown["bootable"] == "true"
        assert shown["volume_image_metadata"]["image_name"] == "cirros"
        with open(svc.driver.volume_path(blank["id"]), "rb") as f:
            f.seek(4096)
            assert f.read(10) == b"BOOTSECTOR"
        image["min_disk"] = 5
        with pytest.raises(errors.BadRequest):
            svc.volumes.create(ctx, {"size": 1, "imageRef": image_id})
        with pytest.raises(errors.BadRequest):
            svc.actions.reimage(ctx, blank["id"], image_id, False)
        svc.volumes.delete(ctx, vol["id"])
        svc.volumes.delete(ctx, blank["id"])
    finally:
        local_cloud.services.remove(stub)
