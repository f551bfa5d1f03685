"""The `pocketstack up` contract: files, status, restart persistence, policy overrides."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import requests
import yaml


def test_client_files(cloud):
    for name in ("clouds.yaml", "openrc", "openrc-admin", "admin-password"):
        mode = stat.S_IMODE(os.stat(os.path.join(cloud.data_dir, name)).st_mode)
        assert mode == 0o600, name
    with open(cloud.clouds_yaml) as f:
        clouds = yaml.safe_load(f)["clouds"]
    assert set(clouds) == {"pocketstack", "pocketstack-admin", "pocketstack-alt",
                           "pocketstack-system-admin"}
    assert clouds["pocketstack-alt"]["auth"]["project_name"] == "alt_demo"
    assert clouds["pocketstack-system-admin"]["auth"]["system_scope"] == "all"
    with open(os.path.join(cloud.data_dir, "openrc")) as f:
        assert "OS_PROJECT_NAME=demo" in f.read()


def test_healthcheck_and_status(cloud):
    r = requests.get(cloud.url(5000, "/healthcheck"), timeout=10)
    assert r.status_code == 200
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "status", "--data-dir",
                           cloud.data_dir], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "identity" in proc.stdout and "up" in proc.stdout


def test_status_fails_when_no_cloud(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "status", "--data-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0


def test_restart_keeps_everything_and_policy_reload(fresh_cloud):
    fresh_cloud.start()
    conn = fresh_cloud.conn()
    project = conn.identity.create_project(name="survivor", domain_id="default")
    with open(fresh_cloud.clouds_yaml) as f:
        before = yaml.safe_load(f)
    assert fresh_cloud.stop() == 0
    fresh_cloud.start()
    with open(fresh_cloud.clouds_yaml) as f:
        assert yaml.safe_load(f) == before  # same generated password
    conn = fresh_cloud.conn()
    assert conn.identity.get_project(project.id).name == "survivor"
    # the demo member may not list users; an operator override takes effect without restart
    demo = fresh_cloud.conn("pocketstack")
    url = fresh_cloud.url(5000, "/v3/users")
    headers = {"X-Auth-Token": demo.auth_token}
    assert requests.get(url, headers=headers, timeout=10).status_code == 403
    with open(os.path.join(fresh_cloud.data_dir, "policy.yaml"), "w") as f:
        f.write('"identity:list_users": "role:member"\n')
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if requests.get(url, headers=headers, timeout=10).status_code == 200:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("policy override was not picked up")


def test_token_rotation_keeps_tokens_valid(fresh_cloud):
    fresh_cloud.start()
    token = fresh_cloud.token("pocketstack-admin")
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "manage", "--data-dir",
                           fresh_cloud.data_dir, "token", "rotate"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = requests.get(fresh_cloud.url(5000, "/v3/auth/catalog"), headers={"X-Auth-Token": token},
                     timeout=10)
    assert r.status_code == 200
    assert fresh_cloud.conn("pocketstack").auth_token


def test_metrics_endpoint(cloud):
    requests.get(cloud.url(5000, "/v3"), timeout=10)
    r = requests.get(cloud.url(5000, "/metrics"), timeout=10)
    assert r.status_code == 200
    assert 'pocketstack_api_requests_total{method="GET",route="/v3",service="identity",' \
           'status="200"}' in r.text
    assert "pocketstack_api_request_seconds_bucket" in r.text
