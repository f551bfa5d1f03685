"""`pocketstack doctor` reports OK on a fresh cloud and finds planted failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def doctor(data_dir: str) -> tuple[int, list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "doctor", "--data-dir",
                           data_dir, "--json"], capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout)


def test_fresh_cloud_is_all_ok(cloud):
    code, findings = doctor(cloud.data_dir)
    assert code == 0, findings
    assert all(f["status"] == "OK" for f in findings), findings


def test_finds_readable_keys_and_debug(fresh_cloud):
    fresh_cloud.start()
    fresh_cloud.stop()
    key = os.path.join(fresh_cloud.data_dir, "fernet-keys", "0")
    os.chmod(key, 0o644)
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write("[DEFAULT]\ndebug = true\n")
    code, findings = doctor(fresh_cloud.data_dir)
    assert code == 1
    bad = {(f["check"], f["status"]) for f in findings}
    assert ("secret files", "FAIL") in bad and ("debug logging", "WARN") in bad
    assert ("api services", "WARN") in bad  # not running
    fix = next(f["fix"] for f in findings if f["check"] == "secret files")
    assert fix == f"chmod go-rwx {key}"
