"""``metadata_workers = 2``: the port served by two worker processes with caches of their
own, filled from the main process; the same answers, the same refusals."""

from __future__ import annotations

import os
import time

from md_helpers import boot, by_network, get, sign, signed


def test_workers(fresh_cloud, tmp_path):
    conf = tmp_path / "pocketstack.conf"
    conf.write_text("[DEFAULT]\nmetadata_workers = 2\n")
    fresh_cloud.config = str(conf)
    fresh_cloud.start()
    serve_each_instance_its_own(fresh_cloud, tmp_path)
    exit_with_the_cloud(fresh_cloud)


def serve_each_instance_its_own(wcloud, tmp_path):
    assert wcloud.proc is not None
    assert len(wcloud.child_processes("pocketstack.metadata.worker")) == 2
    one = boot(wcloud, tmp_path, role="one")
    two = boot(wcloud, tmp_path, role="two")
    for _ in range(6):  # misses, then cache hits in whichever worker took the connection
        for vm in (one, two):
            r = get(wcloud, "/openstack/latest/meta_data.json", by_network(vm))
            assert r.status_code == 200 and r.json()["uuid"] == vm["id"]
            assert r.json()["meta"] == {"role": "one" if vm is one else "two"}
            assert get(wcloud, "/latest/meta-data/hostname", by_network(vm)).text \
                .startswith(vm["name"])
    body = get(wcloud, "/openstack/latest/meta_data.json", by_network(one)).text
    assert two["id"] not in body
    # unknown callers, spoofed and signed headers: passed to the main process
    r = get(wcloud, "/latest/meta-data/", {"X-Forwarded-For": "10.0.0.250",
                                           "X-Neutron-Network-ID": one["network_id"]})
    assert r.status_code == 404 and one["id"] not in r.text
    h = signed(wcloud, one, one["project_id"] or
               wcloud.conn("pocketstack").current_project_id)
    assert get(wcloud, "/latest/meta-data/instance-id", h).status_code == 200
    r = get(wcloud, "/openstack/latest/meta_data.json",
            {**h, "X-Instance-ID": two["id"], "X-Instance-ID-Signature": sign(wcloud, one["id"])})
    assert r.status_code == 403 and two["id"] not in r.text
    # the worker-only cache fill is not served to callers
    r = get(wcloud, "/_pocketstack/bundle", by_network(one))
    assert r.status_code == 404
    assert get(wcloud, "/latest/meta-data/no-such-leaf", by_network(one)).status_code == 404
    # the password: POST once, through a worker
    h = by_network(two)
    assert get(wcloud, "/openstack/latest/password", h, "POST", data=b"s3").status_code == 200
    assert get(wcloud, "/openstack/latest/password", h).text == "s3"
    assert get(wcloud, "/openstack/latest/password", h, "POST", data=b"x").status_code == 409
    assert get(wcloud, "/latest/meta-data/hostname", h, "HEAD").status_code == 200
    assert get(wcloud, "/healthcheck", {}).status_code == 200


def exit_with_the_cloud(wcloud):
    assert wcloud.proc is not None
    pids = wcloud.child_processes("pocketstack.metadata.worker")
    assert len(pids) == 2
    os.kill(pids[0], 9)  # a dead worker is replaced
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = wcloud.child_processes("pocketstack.metadata.worker")
        if len(now) == 2 and pids[0] not in now:
            break
        time.sleep(0.2)
    now = wcloud.child_processes("pocketstack.metadata.worker")
    assert len(now) == 2 and pids[0] not in now
    wcloud.stop()
    for pid in now:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
