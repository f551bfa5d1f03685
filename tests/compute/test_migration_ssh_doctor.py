"""`pocketstack doctor` checks the SSH trust between compute hosts when migrations go
over SSH ([compute] migration_transport = ssh), and has nothing to say otherwise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys


def doctor(data_dir: str) -> dict[str, list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "doctor", "--data-dir",
                           data_dir, "--json"], capture_output=True, text=True, timeout=120)
    out: dict[str, list[dict]] = {}
    for f in json.loads(proc.stdout):
        out.setdefault(f["check"], []).append(f)
    return out


def hashed(host: str) -> str:
    salt = os.urandom(20)
    mac = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(mac).decode()}"


def test_ssh_trust_between_compute_hosts(fresh_cloud, tmp_path):
    fresh_cloud.start()
    fresh_cloud.stop()
    name = "migration ssh trust"
    assert [f["status"] for f in doctor(fresh_cloud.data_dir)[name]] == ["OK"]
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write(f"[compute]\nmigration_transport = ssh\nmigration_ssh_dir = {ssh}\n")
    found = doctor(fresh_cloud.data_dir)[name]
    assert {f["status"] for f in found} == {"FAIL"}
    assert any("no SSH private key" in f["detail"] for f in found)
    assert any("fake-host-1" in f["detail"] and "ssh-keyscan -H" in f["fix"] for f in found)
    # a key, trusted, and one host known (hashed): the other host is still missing
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(ssh / "id_ed25519")], check=True)
    (ssh / "authorized_keys").write_text((ssh / "id_ed25519.pub").read_text())
    key = " ".join((ssh / "id_ed25519.pub").read_text().split()[:2])
    (ssh / "known_hosts").write_text(f"{hashed('fake-host-1')} {key}\n")
    found = doctor(fresh_cloud.data_dir)[name]
    assert [(f["status"], "fake-host-2" in f["detail"]) for f in found] == [("WARN", True)]
    with open(ssh / "known_hosts", "a") as f:
        f.write(f"fake-host-2 {key}\n")
    assert [f["status"] for f in doctor(fresh_cloud.data_dir)[name]] == ["OK"]
