"""Docker images, root disk limits and rebuild with volumes, with the real CLI.

A ``docker save`` archive is built here with tarfile from the static busybox (no Docker
daemon): two layers, the second gzip'd with a whiteout and an opaque directory, and a
config whose Entrypoint/Cmd/Env/WorkingDir the instance runs. The flavor's disk is the
size of the instance's writable layer (ENOSPC beyond it; a resize grows it). Rebuild
keeps the attached volumes. A server booted from a volume runs on it (its writes are in
the volume's file, read back with debugfs), sees it grow when Block Storage extends it,
and its snapshot image (Nova's: a volume snapshot in its block_device_mapping) boots a
server on a volume made from it; a volume made from a docker image boots its command;
a blank boot volume boots nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from typing import Any

import pytest

from pocketstack.compute.drivers.container import dockerimage

COMMAND = ("echo docker-cmd-ran; echo greeting=$GREETING; echo cwd=$(pwd); "
           "echo dir=$(ls /dir); ip -4 -o addr show dev eth0; ip route; "
           "test -e /etc/old.txt || echo old-gone; exec sleep 100000")


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, mode: int = 0o644,
         link: str | None = None, kind: bytes = tarfile.REGTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = mode, 0
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    elif kind == tarfile.DIRTYPE:
        info.type = kind
    else:
        info.size = len(data or b"")
    tar.addfile(info, io.BytesIO(data or b"") if info.isreg() else None)


def _layer(entries: list[tuple[Any, ...]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in entries:
            _add(tar, *entry[:1], **entry[1])
    return buf.getvalue()


def docker_archive(busybox: str, oci: bool = False) -> bytes:
    with open(busybox, "rb") as f:
        bb = f.read()
    d = {"kind": tarfile.DIRTYPE, "mode": 0o755}
    base = _layer([("bin", d), ("bin/busybox", {"data": bb, "mode": 0o755})]
                  + [(f"bin/{a}", {"link": "busybox"}) for a in
                     ("sh", "ls", "sleep", "cat", "df", "fallocate", "rm", "test", "ip")]
                  + [("etc", d), ("etc/old.txt", {"data": b"old\n"}), ("dir", d),
                     ("dir/a", {"data": b"a"}), ("dir/b", {"data": b"b"})])
    top = gzip.compress(_layer([("etc/.wh.old.txt", {}), ("dir", d),
                                ("dir/.wh..wh..opq", {}), ("dir/c", {"data": b"c"}),
                                ("app", d)]))
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {
        "Entrypoint": ["sh", "-c"], "Cmd": [COMMAND], "WorkingDir": "/app",
        "Env": ["PATH=/usr/bin:/bin", "GREETING=hello-from-env"]}}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        if oci:
            import hashlib

            def blob(data: bytes) -> str:
                digest = hashlib.sha256(data).hexdigest()
                _add(tar, f"blobs/sha256/{digest}", data)
                return f"sha256:{digest}"

            manifest = json.dumps({"schemaVersion": 2, "config": {"digest": blob(config)},
                                   "layers": [{"digest": blob(base)},
                                              {"digest": blob(top)}]}).encode()
            _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [
                {"digest": blob(manifest)}]}).encode())
        else:
            for name, data in (("l1/layer.tar", base), ("l2/layer.tar", top),
                               ("cfg.json", config)):
                _add(tar, name, data)
            _add(tar, "manifest.json", json.dumps([{
                "Config": "cfg.json", "RepoTags": ["ct/busybox:latest"],
                "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())
    return buf.getvalue()


def _busybox() -> str:
    from pocketstack.image.seed import find_busybox

    path = find_busybox()
    if path is None:
        pytest.skip("no static busybox")
    return path


@pytest.mark.parametrize("oci", [False, True])
def test_docker_archive_unpacks_with_whiteouts(tmp_path: Any, oci: bool) -> None:
    archive = tmp_path / "image.tar"
    archive.write_bytes(docker_archive(_busybox(), oci=oci))
    dest = tmp_path / "rootfs"
    dest.mkdir()
    run = dockerimage.unpack(str(archive), str(dest), str(tmp_path / "scratch"))
    assert run["init"] == ["/bin/sh", "-c", COMMAND]
    assert run["env"] == {"PATH": "/usr/bin:/bin", "GREETING": "hello-from-env"}
    assert run["workdir"] == "/app" and run["network"] == "static"
    assert sorted(os.listdir(dest / "dir")) == ["c"]  # opaque: a and b are gone
    assert not (dest / "etc" / "old.txt").exists()  # whiteout
    assert os.readlink(dest / "bin" / "sh") == "busybox"
    assert not list(dest.rglob(".wh.*")) and not (tmp_path / "scratch").exists()


def test_docker_archive_errors_are_clear(tmp_path: Any) -> None:
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        _add(tar, "manifest.json", json.dumps([{"Config": "../etc/passwd",
                                                "Layers": []}]).encode())
    with pytest.raises(dockerimage.DockerImageError, match="leaves the image"):
        dockerimage.unpack(str(bad), str(tmp_path), str(tmp_path / "s"))
    with pytest.raises(dockerimage.DockerImageError, match="no Entrypoint or Cmd"):
        dockerimage.runtime({"config": {"Env": ["A=1"]}}, str(tmp_path))


def _in(ccloud: Any, uuid: str, script: str) -> subprocess.CompletedProcess[str]:
    return ccloud.in_instance(uuid, "sh", "-c", script)


def test_docker_image_runs_its_command(ccloud: Any, tmp_path: Any) -> None:
    archive = tmp_path / "docker.tar"
    archive.write_bytes(docker_archive(_busybox()))
    ccloud.cli("image", "create", "--container-format", "docker", "--disk-format", "raw",
               "--file", str(archive), "--public", "ct-docker-image")
    server = ccloud.boot("ct-docker", image="ct-docker-image")
    text = ccloud.wait_console(server["id"], "old-gone")
    subnet = ccloud.cli("subnet", "show", "private-subnet", "-f", "json")
    for line in ("docker-cmd-ran", "greeting=hello-from-env", "cwd=/app", "dir=c",
                 f"inet {server['ip']}/{subnet['cidr'].split('/')[1]}",  # set from outside
                 f"default via {subnet['gateway_ip']} dev eth0"):
        assert line in text, text
    assert ccloud.status(server["id"])["status"] == "ACTIVE"
    ccloud.delete_and_check(server)
    # a volume made from the docker image boots it: its layers applied into the volume's
    # file system at the first boot, its command run at each boot
    vol = ccloud.cli("volume", "create", "--image", "ct-docker-image", "--size", "1",
                     "--bootable", "-f", "json", "ct-docker-vol", cloud="pocketstack")
    assert ccloud.eventually(lambda: ccloud.cli("volume", "show", vol["id"], "-f", "json",
                                                cloud="pocketstack")["status"] == "available",
                             timeout=60)
    made = ccloud.cli("server", "create", "--volume", vol["id"], "--flavor", "m1.nano",
                      "--network", "private", "-f", "json", "ct-docker-bfv",
                      cloud="pocketstack")
    uuid = made["id"]
    text = ccloud.wait_console(uuid, "old-gone")
    assert all(line in text for line in ("docker-cmd-ran", "greeting=hello-from-env",
                                         "cwd=/app", "dir=c")), text
    assert _in(ccloud, uuid, "grep ' / ' /proc/mounts").stdout.split()[2] == "ext4"
    ccloud.cli("server", "reboot", "--hard", "--wait", uuid, cloud="pocketstack")
    assert ccloud.eventually(lambda: ccloud.console(uuid).count("docker-cmd-ran") == 2,
                             timeout=60), ccloud.console(uuid)  # each boot: its command
    assert ccloud.wait_status(uuid, "ACTIVE")
    ports = ccloud.cli("port", "list", "--device-id", uuid, "-f", "json", cloud="pocketstack")
    ccloud.delete_and_check({"id": uuid, "mac": ports[0]["MAC Address"]})
    ccloud.cli("volume", "delete", vol["id"], cloud="pocketstack")
    ccloud.cli("image", "delete", "ct-docker-image")


def _df_kib(ccloud: Any, uuid: str) -> int:
    out = _in(ccloud, uuid, "df -k / | tail -1").stdout.split()
    return int(out[1])


def test_root_disk_is_the_flavors_size_and_grows_on_resize(ccloud: Any) -> None:
    server = ccloud.boot("ct-disk")  # m1.nano: disk 1
    uuid = server["id"]
    ccloud.wait_console(uuid, "up: httpd on port 80")
    assert 900 * 1024 < _df_kib(ccloud, uuid) <= 1024 * 1024
    full = _in(ccloud, uuid, "fallocate -l 1200M /big")
    assert full.returncode != 0 and "No space left" in full.stderr, full
    assert _in(ccloud, uuid, "rm -f /big && fallocate -l 100M /big").returncode == 0
    ccloud.cli("flavor", "create", "--ram", "64", "--disk", "2", "--vcpus", "1", "ct-disk2")
    try:
        ccloud.cli("server", "resize", "--flavor", "ct-disk2", "--wait", uuid,
                   cloud="pocketstack")
        assert ccloud.status(uuid)["status"] == "VERIFY_RESIZE"
        ccloud.cli("server", "resize", "confirm", uuid, cloud="pocketstack")
        ccloud.wait_status(uuid, "ACTIVE")
        # grown (offline) at the next start
        ccloud.cli("server", "reboot", "--hard", "--wait", uuid, cloud="pocketstack")
        ccloud.booted(uuid, 2)
        assert _df_kib(ccloud, uuid) > 1800 * 1024
        assert _in(ccloud, uuid, "test -e /big && fallocate -l 1500M /big2").returncode == 0
        ccloud.delete_and_check(server)  # the disk's mount and loop device are gone too
    finally:
        ccloud.cli("flavor", "delete", "ct-disk2", check=False)


def test_rebuild_keeps_the_attached_volume(ccloud: Any) -> None:
    server = ccloud.boot("ct-rebuild-vol")
    uuid = server["id"]
    ccloud.wait_console(uuid, "up: httpd on port 80")
    vol = ccloud.volume("ct-rv")
    ccloud.cli("server", "add", "volume", uuid, vol["id"], cloud="pocketstack")
    device = ccloud.cli("volume", "show", vol["id"], "-f", "json",
                        cloud="pocketstack")["attachments"][0]["device"]
    wrote = _in(ccloud, uuid, f"echo kept-across-rebuild > {device} && echo x > /root/mark")
    assert wrote.returncode == 0, wrote.stderr
    pid = ccloud.init_pid(uuid)
    ccloud.cli("server", "rebuild", "--image", "pocketstack-busybox", "--wait", uuid,
               cloud="pocketstack")
    ccloud.wait_status(uuid, "ACTIVE")
    ccloud.wait_console(uuid, "up: httpd on port 80")
    assert ccloud.init_pid(uuid) not in (None, pid)
    assert _in(ccloud, uuid, "test -e /root/mark").returncode == 1  # a new root
    assert _in(ccloud, uuid, f"test -b {device}").returncode == 0  # the volume is still in
    assert _in(ccloud, uuid, f"head -c 19 {device}").stdout == "kept-across-rebuild"
    shown = ccloud.cli("volume", "show", vol["id"], "-f", "json", cloud="pocketstack")
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == uuid
    ccloud.delete_and_check(server)
    ccloud.cli("volume", "delete", vol["id"], cloud="pocketstack")


def _volume_file(ccloud: Any, volume_id: str, kind: str = "volume") -> str:
    for root, _, files in os.walk(ccloud.handle.data_dir):
        if f"{kind}-{volume_id}" in files:
            return os.path.join(root, f"{kind}-{volume_id}")
    raise AssertionError(f"no file for {kind} {volume_id}")


def _in_volume(path: str, name: str) -> str:
    """A file of the ext4 file system in a volume's file, read from the host (debugfs)."""
    return subprocess.run(["debugfs", "-R", f"cat {name}", path], capture_output=True,
                          text=True, check=False).stdout


def test_boot_from_volume_runs_on_the_volume(ccloud: Any) -> None:
    """server create --volume: the instance's / is the volume (from the image by Block
    Storage); what it writes is in the volume after the server is gone, another server
    booted from it sees it, and a 2.93 rebuild with --reimage-boot-volume replaces it."""
    if shutil.which("debugfs") is None:
        pytest.skip("debugfs (e2fsprogs) reads the volume's file system from the host")
    demo = ccloud.handle.conn("pocketstack")
    image = demo.image.find_image("pocketstack-busybox", ignore_missing=False)
    vol = demo.block_storage.create_volume(name="ct-bfv", size=1, image_id=image.id)
    demo.block_storage.wait_for_status(vol, "available", interval=0.3, wait=60)
    path = _volume_file(ccloud, vol.id)

    def boot(name: str) -> str:
        server = ccloud.cli("server", "create", "--volume", vol.id, "--flavor", "m1.nano",
                            "--network", "private", "-f", "json", name, cloud="pocketstack")
        server = demo.compute.wait_for_server(demo.compute.get_server(server["id"]),
                                              interval=0.3, wait=120)
        assert not (server.image or {}).get("id")  # shown as booted from volume
        ccloud.wait_console(server.id, "up: httpd on port 80")
        return str(server.id)

    uuid = boot("ct-bfv-1")
    root = _in(ccloud, uuid, "grep ' / ' /proc/mounts; test -b /dev/vda && echo vda; "
                             "echo written-in-guest > /root/mark; sync")
    assert root.stdout.split()[2] == "ext4" and "vda" in root.stdout, root
    snap = demo.block_storage.create_snapshot(volume_id=vol.id, name="ct-bfv", force=True)
    demo.block_storage.wait_for_status(snap, "available", interval=0.3, wait=60)
    assert _in_volume(_volume_file(ccloud, snap.id, "snapshot"), "/root/mark") == \
        "written-in-guest\n"  # a snapshot of the volume has it
    demo.block_storage.delete_snapshot(snap)
    demo.compute.delete_server(uuid)
    demo.compute.wait_for_delete(demo.compute.get_server(uuid), interval=0.3, wait=60)
    assert _in_volume(path, "/root/mark") == "written-in-guest\n"  # in the volume's file

    uuid = boot("ct-bfv-2")  # the same volume: what the first server wrote is there
    assert _in(ccloud, uuid, "cat /root/mark").stdout == "written-in-guest\n"
    # the root volume grows (Block Storage's extend of an in-use volume, 3.42): the
    # instance's /dev/vda takes the new size, its file system grows online, or at the
    # next start when this host may not resize online (no CAP_SYS_RESOURCE)
    before = _df_kib(ccloud, uuid)
    ccloud.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", vol.id,
               cloud="pocketstack")
    assert ccloud.eventually(lambda: _in(ccloud, uuid, "blockdev --getsize64 /dev/vda")
                             .stdout.strip() == str(2 << 30), timeout=30)
    events = [e["event"] for a in demo.compute.server_actions(uuid)
              for e in (demo.compute.get_server_action(a.request_id, uuid).events or [])]
    assert f"volume-extended-{vol.id}" in events, events
    if not _can_resize_online():
        ccloud.cli("server", "reboot", "--hard", "--wait", uuid, cloud="pocketstack")
        ccloud.booted(uuid, 2)
    assert ccloud.eventually(lambda: _df_kib(ccloud, uuid) > before + (800 << 10),
                             timeout=30), (before, _df_kib(ccloud, uuid))
    assert _in(ccloud, uuid, "cat /root/mark").stdout == "written-in-guest\n"
    # server image create: Nova's image of a volume-backed server (a volume snapshot in
    # its block_device_mapping); a server booted from it runs on a volume made from it
    image_id = ccloud.cli("server", "image", "create", "--name", "ct-bfv-image", "-f", "json",
                          uuid, cloud="pocketstack")["id"]
    made = demo.image.get_image(image_id)
    assert made.status == "active" and made.size == 0
    bdms = json.loads(made.properties["block_device_mapping"])
    assert [(b["source_type"], b["boot_index"]) for b in bdms] == [("snapshot", 0)]
    server = ccloud.cli("server", "create", "--image", image_id, "--flavor", "m1.nano",
                        "--network", "private", "-f", "json", "ct-bfv-3", cloud="pocketstack")
    third = demo.compute.wait_for_server(demo.compute.get_server(server["id"]),
                                         interval=0.3, wait=120)
    ccloud.wait_console(third.id, "up: httpd on port 80")
    [attached] = third.attached_volumes
    made_vol = demo.block_storage.get_volume(attached["id"])
    assert made_vol.snapshot_id == bdms[0]["snapshot_id"] and made_vol.size == 2
    assert made_vol.volume_image_metadata["image_id"] == image.id
    assert _in(ccloud, third.id, "cat /root/mark").stdout == "written-in-guest\n"
    port = next(demo.network.ports(device_id=third.id))
    ccloud.delete_and_check({"id": third.id, "mac": port.mac_address})
    demo.block_storage.delete_volume(made_vol.id)  # (delete_on_termination false: kept)
    demo.block_storage.wait_for_delete(made_vol, interval=0.3, wait=60)
    demo.block_storage.delete_snapshot(bdms[0]["snapshot_id"])
    demo.image.delete_image(image_id)
    ccloud.cli("--os-compute-api-version", "2.93", "server", "rebuild", "--image",
               "pocketstack-busybox", "--reimage-boot-volume", uuid, cloud="pocketstack")
    assert ccloud.eventually(lambda: demo.compute.get_server(uuid).status == "ACTIVE")
    ccloud.booted(uuid, 2 if _can_resize_online() else 3)
    assert _in(ccloud, uuid, "test -e /root/mark").returncode == 1  # the volume re-imaged
    assert _in(ccloud, uuid, "grep ' / ' /proc/mounts").stdout.split()[2] == "ext4"
    port = next(demo.network.ports(device_id=uuid))
    ccloud.delete_and_check({"id": uuid, "mac": port.mac_address})
    assert demo.block_storage.get_volume(vol.id).status == "available"
    demo.block_storage.delete_volume(vol.id)


def _can_resize_online() -> bool:
    """Whether this host may grow a mounted ext4 (CAP_SYS_RESOURCE, as resize2fs needs)."""
    with open("/proc/self/status") as f:
        caps = next(line for line in f if line.startswith("CapEff:"))
    return bool(int(caps.split()[1], 16) >> 24 & 1)


def test_boot_from_a_blank_volume_boots_nothing(ccloud: Any) -> None:
    """A blank boot volume: the server is ACTIVE (as a virtual machine whose firmware finds
    no bootable disk), its console says why, the volume is its /dev/vda; delete frees all."""
    bdm = "source_type=blank,destination_type=volume,volume_size=1,boot_index=0," \
          "delete_on_termination=true"
    server = ccloud.cli("server", "create", "--block-device", bdm, "--flavor", "m1.nano",
                        "--network", "private", "-f", "json", "ct-blank", cloud="pocketstack")
    demo = ccloud.handle.conn("pocketstack")
    uuid = server["id"]
    assert demo.compute.wait_for_server(demo.compute.get_server(uuid), interval=0.3,
                                        wait=120).status == "ACTIVE"
    ccloud.wait_console(uuid, "No bootable device")
    pid = ccloud.init_pid(uuid)
    assert pid and stat.S_ISBLK(os.stat(f"/proc/{pid}/root/dev/vda").st_mode)
    assert os.listdir(f"/proc/{pid}/root") == ["dev"]  # an empty root, never the host's
    port = next(demo.network.ports(device_id=uuid))
    ccloud.delete_and_check({"id": uuid, "mac": port.mac_address})
