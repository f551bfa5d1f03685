"""Compute through the real ``openstack`` CLI and openstacksdk."""

from __future__ import annotations

import os
import subprocess

from compute_helpers import IMAGE, boot, name, wait


def test_flavor_lifecycle(cloud):
    flavors = {f["Name"]: f for f in cloud.cli("flavor", "list", "-f", "json")}
    assert {"m1.nano", "m1.micro", "m1.tiny", "m1.small", "m1.medium", "m1.large",
            "m1.xlarge"} <= set(flavors)
    assert (flavors["m1.tiny"]["ID"], flavors["m1.tiny"]["RAM"]) == ("1", 512)
    assert (flavors["m1.nano"]["ID"], flavors["m1.nano"]["RAM"]) == ("42", 64)
    fname = name("flv")
    created = cloud.cli("flavor", "create", "--ram", "256", "--vcpus", "2", "--disk", "3",
                        "--property", "hw:cpu_policy=shared", "--description", "small one",
                        fname, "-f", "json")
    assert created["ram"] == 256 and created["vcpus"] == 2 and created["disk"] == 3
    shown = cloud.cli("flavor", "show", fname, "-f", "json")
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    assert shown["description"] == "small one"
    proc = cloud.cli("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", fname,
                     check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("flavor", "delete", fname)
    proc = cloud.cli("flavor", "show", fname, check=False)
    assert proc.returncode != 0


def test_private_flavor_access(cloud):
    fname = name("priv")
    cloud.cli("flavor", "create", "--private", "--ram", "64", "--vcpus", "1", "--disk", "1",
              fname)
    demo = [f["Name"] for f in cloud.cli("flavor", "list", "-f", "json", cloud="pocketstack")]
    assert fname not in demo
    cloud.cli("flavor", "set", "--project", "demo", fname)
    demo = [f["Name"] for f in cloud.cli("flavor", "list", "-f", "json", cloud="pocketstack")]
    assert fname in demo
    cloud.cli("flavor", "delete", fname)


def test_member_cannot_create_flavor(cloud):
    proc = cloud.cli("flavor", "create", "--ram", "64", "--vcpus", "1", name("x"),
                     cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr


def test_keypair_generate_and_import(cloud, tmp_path):
    kname = name("key")
    private = cloud.cli("keypair", "create", kname, cloud="pocketstack")
    assert "PRIVATE KEY" in private
    rows = cloud.cli("keypair", "list", "-f", "json", cloud="pocketstack")
    assert kname in [r["Name"] for r in rows]
    shown = cloud.cli("keypair", "show", kname, "-f", "json", cloud="pocketstack")
    assert shown["type"] == "ssh" and shown["fingerprint"].count(":") == 15
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "k")], check=True)
    iname = name("imp")
    imported = cloud.cli("keypair", "create", "--public-key", str(tmp_path / "k.pub"), iname,
                         "-f", "json", cloud="pocketstack")
    assert imported["name"] == iname and imported["fingerprint"]
    # key pairs belong to the user: the alt user does not see them
    alt = cloud.cli("keypair", "list", "-f", "json", cloud="pocketstack-alt")
    assert iname not in [r["Name"] for r in alt]
    proc = cloud.cli("keypair", "create", "--public-key", str(tmp_path / "k.pub"), iname,
                     cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("keypair", "delete", kname, iname, cloud="pocketstack")
    rows = cloud.cli("keypair", "list", "-f", "json", cloud="pocketstack")
    assert not {kname, iname} & {r["Name"] for r in rows}


def test_bad_public_key_is_400(cloud, tmp_path):
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-rsa not-base64!!! x\n")
    proc = cloud.cli("keypair", "create", "--public-key", str(bad), name("bad"), check=False)
    assert proc.returncode != 0 and "400" in proc.stderr


def test_services_hypervisors_zones(cloud):
    services = cloud.cli("compute", "service", "list", "-f", "json")
    computes = [s for s in services if s["Binary"] == "nova-compute"]
    assert len(computes) == 2 and all(s["State"] == "up" for s in computes)
    assert {s["Binary"] for s in services} >= {"nova-scheduler", "nova-conductor"}
    hypervisors = cloud.cli("hypervisor", "list", "--long", "-f", "json")
    assert {h["Hypervisor Hostname"] for h in hypervisors} == {"fake-host-1", "fake-host-2"}
    assert all(h["Hypervisor Type"] == "fake" and h["State"] == "up" for h in hypervisors)
    zones = cloud.cli("availability", "zone", "list", "--compute", "-f", "json")
    assert "nova" in [z["Zone Name"] for z in zones]


def test_quota_and_limits(cloud):
    quota = {r["Resource"]: r["Limit"] for r in cloud.cli("quota", "show", "-f", "json")}
    assert quota["instances"] == 10 and quota["cores"] == 20 and quota["ram"] == 51200
    limits = {r["Name"]: r["Value"] for r in cloud.cli("limits", "show", "--absolute", "-f",
                                                       "json")}
    assert limits["max_total_instances"] == 10 and limits["max_total_keypairs"] == 100


def test_server_group_anti_affinity(cloud):
    gname = name("grp")
    group = cloud.cli("server", "group", "create", "--policy", "anti-affinity", gname, "-f",
                      "json")
    assert group["policy"] == "anti-affinity"
    ids = [boot(cloud, name("aa"), **{"os:scheduler_hints": {"group": group["id"]}})
           for _ in range(2)]
    hosts = {wait(cloud, i, "ACTIVE")["OS-EXT-SRV-ATTR:host"] for i in ids}
    assert hosts == {"fake-host-1", "fake-host-2"}
    third = boot(cloud, name("aa"), **{"os:scheduler_hints": {"group": group["id"]}})
    failed = wait(cloud, third, "ERROR")
    assert "No valid host was found" in failed["fault"]["message"]
    shown = cloud.cli("server", "group", "show", gname, "-f", "json")
    assert set(ids) <= set(shown["members"])
    for i in [*ids, third]:
        cloud.cli("server", "delete", "--wait", i)
    cloud.cli("server", "group", "delete", gname)


def test_server_lifecycle_cli(cloud):
    sname = name("vm")
    sid = boot(cloud, sname, user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    c = "pocketstack"
    rows = cloud.cli("server", "list", "-f", "json", cloud=c)
    assert (sid, "ACTIVE") in [(r["ID"], r["Status"]) for r in rows]
    longer = cloud.cli("server", "list", "--long", "-f", "json", cloud=c)
    row = next(r for r in longer if r["ID"] == sid)
    assert row["Power State"] in ("Running", 1) and row["Flavor"] == "m1.tiny"
    assert row["Image ID"] == IMAGE
    for action, status, power in (("stop", "SHUTOFF", 4), ("start", "ACTIVE", 1),
                                  ("pause", "PAUSED", 3), ("unpause", "ACTIVE", 1),
                                  ("suspend", "SUSPENDED", 7), ("resume", "ACTIVE", 1),
                                  ("reboot", "ACTIVE", 1)):
        cloud.cli("server", action, sid, cloud=c)
        body = wait(cloud, sid, status, user=c)
        assert body["OS-EXT-STS:power_state"] == power, action
    proc = cloud.cli("server", "start", sid, cloud=c, check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("server", "set", "--property", "color=blue", sid, cloud=c)
    shown = cloud.cli("server", "show", sid, "-f", "json", cloud=c)
    assert shown["properties"] == {"color": "blue"} and shown["status"] == "ACTIVE"
    cloud.cli("server", "lock", sid, cloud=c)
    proc = cloud.cli("server", "stop", sid, cloud=c, check=False)
    assert proc.returncode != 0 and "409" in proc.stderr and "locked" in proc.stderr
    cloud.cli("server", "unlock", sid, cloud=c)
    cloud.cli("server", "delete", "--wait", sid, cloud=c)
    rows = cloud.cli("server", "list", "-f", "json", cloud=c)
    assert sid not in [r["ID"] for r in rows]


def test_server_create_cli(cloud):
    """``openstack server create --image ... --wait`` end to end (real Image service)."""
    sname = name("cli")
    server = cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE,
                       "--nic", "none", "--wait", sname, "-f", "json", cloud="pocketstack")
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:power_state"] in (
        1, "Running")
    rows = cloud.cli("server", "list", "--image", IMAGE, "-f", "json", cloud="pocketstack")
    assert sname in [r["Name"] for r in rows]
    cloud.cli("server", "delete", "--wait", sname, cloud="pocketstack")
    rows = cloud.cli("server", "list", "-f", "json", cloud="pocketstack")
    assert sname not in [r["Name"] for r in rows]


def test_sdk_create_wait_delete(cloud):
    conn = cloud.conn("pocketstack")
    server = conn.compute.create_server(name=name("sdk"), flavor_id="42", image_id=IMAGE,
                                        networks="none", metadata={"k": "v"})
    server = conn.compute.wait_for_server(server, wait=30, interval=0.2)
    assert server.status == "ACTIVE" and server.metadata == {"k": "v"}
    assert server.flavor.original_name == "m1.nano"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.2)
    assert os.environ is not None
