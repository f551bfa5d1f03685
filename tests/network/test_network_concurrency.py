"""IPAM under concurrency: ports created from many threads never share an address."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests


def test_parallel_ports_get_distinct_addresses(cloud):
    base = cloud.url(9696)
    headers = {"X-Auth-Token": cloud.token("pocketstack-admin")}
    net = requests.post(base + "/v2.0/networks", json={"network": {
        "name": f"conc-{uuid.uuid4().hex[:6]}"}}, headers=headers, timeout=30).json()["network"]
    sub = requests.post(base + "/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.70.0.0/24", "ip_version": 4,
        "allocation_pools": [{"start": "10.70.0.10", "end": "10.70.0.209"}]}},
        headers=headers, timeout=30).json()["subnet"]  # 200 addresses in the pool

    def create(_: int) -> requests.Response:
        return requests.post(base + "/v2.0/ports", json={"port": {"network_id": net["id"]}},
                             headers=headers, timeout=120)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(create, range(210)))
    created = [r.json()["port"] for r in results if r.status_code == 201]
    failed = [r for r in results if r.status_code != 201]
    assert len(created) == 200
    assert {r.status_code for r in failed} == {409}
    assert {r.json()["NeutronError"]["type"] for r in failed} == {"IpAddressGenerationFailure"}
    ips = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(set(ips)) == len(ips) == 200
    assert all(p["fixed_ips"][0]["subnet_id"] == sub["id"] for p in created)
    macs = [p["mac_address"] for p in created]
    assert len(set(macs)) == len(macs)
    listed = requests.get(base + "/v2.0/ports", params={"network_id": net["id"]},
                          headers=headers, timeout=30).json()["ports"]
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in listed) == sorted(ips)
