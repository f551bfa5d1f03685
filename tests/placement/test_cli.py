"""Placement through the real ``openstack`` CLI (osc-placement), as operators use it."""

from __future__ import annotations

import uuid

import pytest


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def rp(cloud):
    created = cloud.cli("resource", "provider", "create", _name("host"), "-f", "json")
    yield created["uuid"]
    cloud.cli("resource", "provider", "delete", created["uuid"], check=False)


def test_provider_lifecycle(cloud):
    name = _name("host")
    created = cloud.cli("resource", "provider", "create", name, "-f", "json")
    assert created["name"] == name and created["generation"] == 0
    assert created["root_provider_uuid"] == created["uuid"]
    child = cloud.cli("resource", "provider", "create", _name("numa"), "--parent-provider",
                      created["uuid"], "-f", "json")
    assert child["parent_provider_uuid"] == created["uuid"]
    assert child["root_provider_uuid"] == created["uuid"]
    listed = cloud.cli("resource", "provider", "list", "--name", name, "-f", "json")
    assert [r["uuid"] for r in listed] == [created["uuid"]]
    tree = cloud.cli("resource", "provider", "list", "--in-tree", created["uuid"], "-f", "json")
    assert {r["uuid"] for r in tree} == {created["uuid"], child["uuid"]}
    shown = cloud.cli("resource", "provider", "show", created["uuid"], "-f", "json")
    assert shown["name"] == name
    renamed = cloud.cli("resource", "provider", "set", created["uuid"], "--name", name + "-b",
                        "-f", "json")
    assert renamed["name"] == name + "-b"
    proc = cloud.cli("resource", "provider", "delete", created["uuid"], check=False)
    assert proc.returncode != 0 and "child" in proc.stderr
    cloud.cli("resource", "provider", "delete", child["uuid"])
    cloud.cli("resource", "provider", "delete", created["uuid"])
    proc = cloud.cli("resource", "provider", "show", created["uuid"], check=False)
    assert proc.returncode != 0 and "No resource provider" in proc.stderr


def test_inventory_and_usage(cloud, rp):
    rows = cloud.cli("resource", "provider", "inventory", "set", rp, "--resource", "VCPU=16",
                     "--resource", "VCPU:allocation_ratio=2.0", "--resource",
                     "MEMORY_MB=8192", "--resource", "MEMORY_MB:reserved=512",
                     "--resource", "DISK_GB=100", "-f", "json")
    by_class = {r["resource_class"]: r for r in rows}
    assert by_class["VCPU"]["allocation_ratio"] == 2.0 and by_class["VCPU"]["total"] == 16
    assert by_class["MEMORY_MB"]["reserved"] == 512
    shown = cloud.cli("resource", "provider", "inventory", "show", rp, "DISK_GB", "-f", "json")
    assert shown["total"] == 100
    listed = cloud.cli("resource", "provider", "inventory", "list", rp, "-f", "json")
    assert {r["resource_class"] for r in listed} == {"VCPU", "MEMORY_MB", "DISK_GB"}
    cloud.cli("resource", "provider", "inventory", "delete", rp, "--resource-class", "DISK_GB")
    listed = cloud.cli("resource", "provider", "inventory", "list", rp, "-f", "json")
    assert {r["resource_class"] for r in listed} == {"VCPU", "MEMORY_MB"}
    usage = cloud.cli("resource", "provider", "usage", "show", rp, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 0, "MEMORY_MB": 0}
    proc = cloud.cli("resource", "provider", "inventory", "set", rp, "--resource",
                     "CUSTOM_DOES_NOT_EXIST=1", check=False)
    assert proc.returncode != 0 and "Unknown resource class" in proc.stderr


def test_resource_classes_and_traits(cloud, rp):
    rc = f"CUSTOM_{uuid.uuid4().hex[:8].upper()}"
    cloud.cli("resource", "class", "create", rc)
    names = [r["name"] for r in cloud.cli("resource", "class", "list", "-f", "json")]
    assert rc in names and "VCPU" in names and "SRIOV_NET_VF" in names
    cloud.cli("resource", "class", "delete", rc)
    assert rc not in [r["name"] for r in cloud.cli("resource", "class", "list", "-f", "json")]
    proc = cloud.cli("resource", "class", "delete", "VCPU", check=False)
    assert proc.returncode != 0 and "Cannot delete standard resource class" in proc.stderr
    proc = cloud.cli("resource", "class", "create", "CUSTOM_lower", check=False)
    assert proc.returncode != 0 and "JSON does not validate" in proc.stderr

    trait = f"CUSTOM_{uuid.uuid4().hex[:8].upper()}"
    cloud.cli("trait", "create", trait)
    traits = [t["name"] for t in cloud.cli("trait", "list", "-f", "json")]
    assert trait in traits and "HW_CPU_X86_AVX2" in traits and "STORAGE_DISK_SSD" in traits
    rows = cloud.cli("resource", "provider", "trait", "set", rp, "--trait", trait, "--trait",
                     "COMPUTE_NODE", "-f", "json")
    assert {r["name"] for r in rows} == {trait, "COMPUTE_NODE"}
    rows = cloud.cli("resource", "provider", "trait", "list", rp, "-f", "json")
    assert {r["name"] for r in rows} == {trait, "COMPUTE_NODE"}
    proc = cloud.cli("trait", "delete", trait, check=False)
    assert proc.returncode != 0 and "409" in proc.stderr or "in use" in proc.stderr
    cloud.cli("resource", "provider", "trait", "delete", rp)
    cloud.cli("trait", "delete", trait)
    assert trait not in [t["name"] for t in cloud.cli("trait", "list", "-f", "json")]


def test_aggregates(cloud, rp):
    agg1, agg2 = str(uuid.uuid4()), str(uuid.uuid4())
    rows = cloud.cli("resource", "provider", "aggregate", "set", rp, "--aggregate", agg1,
                     "--aggregate", agg2, "--generation", "0", "-f", "json")
    assert {r["uuid"] for r in rows} == {agg1, agg2}
    rows = cloud.cli("resource", "provider", "aggregate", "list", rp, "-f", "json")
    assert {r["uuid"] for r in rows} == {agg1, agg2}
    proc = cloud.cli("resource", "provider", "aggregate", "set", rp, "--aggregate", agg1,
                     "--generation", "0", check=False)
    assert proc.returncode != 0 and "Please update the generation" in proc.stderr
    listed = cloud.cli("resource", "provider", "list", "--aggregate-uuid", agg1, "-f", "json")
    assert [r["uuid"] for r in listed] == [rp]


def test_allocations_and_candidates(cloud, rp):
    trait = f"CUSTOM_{uuid.uuid4().hex[:8].upper()}"
    cloud.cli("trait", "create", trait)
    cloud.cli("resource", "provider", "inventory", "set", rp, "--resource", "VCPU=4",
              "--resource", "MEMORY_MB=2048")
    cloud.cli("resource", "provider", "trait", "set", rp, "--trait", trait)
    cands = cloud.cli("allocation", "candidate", "list", "--resource", "VCPU=1", "--resource",
                      "MEMORY_MB=512", "--required", trait, "-f", "json")
    assert [c["resource provider"] for c in cands] == [rp]
    assert cands[0]["allocation"] == "VCPU=1,MEMORY_MB=512"
    consumer, project, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    rows = cloud.cli("resource", "provider", "allocation", "set", consumer, "--allocation",
                     f"rp={rp},VCPU=3,MEMORY_MB=1024", "--project-id", project, "--user-id",
                     user, "-f", "json")
    assert rows[0]["resources"] == {"VCPU": 3, "MEMORY_MB": 1024}
    assert rows[0]["project_id"] == project
    rows = cloud.cli("resource", "provider", "allocation", "show", consumer, "-f", "json")
    assert rows[0]["resource_provider"] == rp and rows[0]["user_id"] == user
    usage = cloud.cli("resource", "provider", "usage", "show", rp, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 3, "MEMORY_MB": 1024}
    usage = cloud.cli("resource", "usage", "show", project, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 3, "MEMORY_MB": 1024}
    cands = cloud.cli("allocation", "candidate", "list", "--resource", "VCPU=2",
                      "--required", trait, "-f", "json")
    assert cands == []  # only 1 VCPU left
    proc = cloud.cli("resource", "provider", "allocation", "set", str(uuid.uuid4()),
                     "--allocation", f"rp={rp},VCPU=2", "--project-id", project, "--user-id",
                     user, check=False)
    assert proc.returncode != 0 and "capacity" in proc.stderr
    shown = cloud.cli("resource", "provider", "show", rp, "--allocations", "-f", "json")
    assert shown["allocations"] == {consumer: {"resources": {"VCPU": 3, "MEMORY_MB": 1024}}}
    cloud.cli("resource", "provider", "allocation", "delete", consumer)
    assert cloud.cli("resource", "provider", "allocation", "show", consumer, "-f", "json") == []
    cloud.cli("resource", "provider", "trait", "delete", rp)
    cloud.cli("trait", "delete", trait)


def test_latest_microversion_cli(cloud, rp):
    cloud.cli("resource", "provider", "inventory", "set", rp, "--resource", "VCPU=2")
    consumer = str(uuid.uuid4())
    rows = cloud.cli("--os-placement-api-version", "1.39", "resource", "provider",
                     "allocation", "set", consumer, "--allocation", f"rp={rp},VCPU=1",
                     "--project-id", "p", "--user-id", "u", "--consumer-type", "INSTANCE",
                     "-f", "json")
    assert rows[0]["consumer_type"] == "INSTANCE"
    cands = cloud.cli("--os-placement-api-version", "1.39", "allocation", "candidate", "list",
                      "--resource", "VCPU=1", "--required", "COMPUTE_NODE,HW_NIC_SRIOV",
                      "-f", "json")
    assert all(c["resource provider"] != rp for c in cands)
    cloud.cli("resource", "provider", "allocation", "delete", consumer)


def test_member_cannot_use_placement(cloud):
    proc = cloud.cli("resource", "provider", "list", cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr or "Forbidden" in proc.stderr
