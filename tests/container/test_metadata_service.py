"""A container instance reads its hostname, SSH key and user data from the real metadata
service at 169.254.169.254 (through the dataplane's proxy), and only its own."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from pocketstack.dataplane.manager import network_netns

KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc29tZXRoaW5nLWZvci10aGUtbWV0YWRhdGEtdGVzdA "
       "md@pocketstack")


def test_instance_reads_its_own_data_from_169_254_169_254(ccloud: Any, tmp_path: Any) -> None:
    if ccloud.stub is not None:
        pytest.skip("no metadata service in this cloud (the stub answers instead)")
    keyfile = tmp_path / "key.pub"
    keyfile.write_text(KEY + "\n")
    ccloud.cli("keypair", "create", "--public-key", str(keyfile), "md-key", cloud="pocketstack")
    user_data = tmp_path / "ud.sh"
    user_data.write_text("#!/bin/sh\necho user-data-ran-on-$(hostname)\n")
    created = ccloud.cli("server", "create", "--image", "pocketstack-busybox", "--flavor",
                         "m1.nano", "--network", "private", "--key-name", "md-key",
                         "--user-data", str(user_data), "--wait", "-f", "json", "md-one",
                         cloud="pocketstack")
    other = ccloud.boot("md-two")
    try:
        uuid = created["id"]
        text = ccloud.wait_console(uuid, "user_data exited with")
        assert "metadata: read http://169.254.169.254/openstack/latest/meta_data.json" in text
        assert "hostname: md-one" in text
        assert "ssh: 1 key(s) installed" in text
        assert "user-data-ran-on-md-one" in text
        # the network's bridge keeps the DHCP port's MAC whatever is plugged into it (a
        # bridge's own address follows its lowest port's: md-two's plugging had changed it
        # and md-one's ARP entry for the metadata next hop went stale, a request hung)
        dhcp = ccloud.cli("port", "list", "--network", "private", "--device-owner",
                          "network:dhcp", "-f", "json", "-c", "MAC Address", cloud="pocketstack")
        net_id = ccloud.cli("network", "show", "private", "-f", "json", "-c", "id",
                            cloud="pocketstack")["id"]
        link = subprocess.run(["ip", "-n", network_netns(net_id), "-j", "link", "show", "br0"],
                              capture_output=True, text=True, check=True)
        assert json.loads(link.stdout)[0]["address"] == dhcp[0]["MAC Address"]
        keys = ccloud.in_instance(uuid, "cat", "/root/.ssh/authorized_keys")
        assert KEY in keys.stdout
        # what the instance sees is its own document, not the other server's
        md = ccloud.in_instance(uuid, "wget", "-q", "-O", "-",
                                "http://169.254.169.254/openstack/latest/meta_data.json")
        doc = json.loads(md.stdout)
        assert doc["uuid"] == uuid and doc["name"] == "md-one"
        theirs = ccloud.in_instance(other["id"], "wget", "-q", "-O", "-",
                                    "http://169.254.169.254/openstack/latest/meta_data.json")
        assert json.loads(theirs.stdout)["uuid"] == other["id"]
        assert "public_keys" not in json.loads(theirs.stdout) or \
            KEY not in json.dumps(json.loads(theirs.stdout)["public_keys"])
        ud = ccloud.in_instance(other["id"], "wget", "-q", "-O", "-",
                                "http://169.254.169.254/openstack/latest/user_data")
        assert "user-data-ran-on" not in ud.stdout
    finally:
        port = ccloud.cli("port", "list", "--device-id", created["id"], "-f", "json",
                          "-c", "MAC Address", cloud="pocketstack")
        ccloud.delete_and_check({"id": created["id"], "mac": port[0]["MAC Address"]})
        ccloud.delete_and_check(other)
        ccloud.cli("keypair", "delete", "md-key", cloud="pocketstack")
