"""Identity through the real ``openstack`` CLI, as the foundation issue's "done when" lists."""

from __future__ import annotations

import uuid


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_token_issue_and_catalog(cloud):
    token = cloud.cli("token", "issue", "-f", "json")
    assert token["id"] and token["project_id"] and token["user_id"]
    catalog = cloud.cli("catalog", "list", "-f", "json")
    identity = [c for c in catalog if c["Type"] == "identity"]
    assert identity and cloud.addr in str(identity[0]["Endpoints"])


def test_project_lifecycle(cloud):
    name = _name("proj")
    created = cloud.cli("project", "create", "--description", "d", name, "-f", "json")
    assert created["name"] == name and created["domain_id"] == "default"
    names = [p["Name"] for p in cloud.cli("project", "list", "-f", "json")]
    assert name in names
    cloud.cli("project", "delete", name)
    names = [p["Name"] for p in cloud.cli("project", "list", "-f", "json")]
    assert name not in names


def test_user_role_and_assignment_names(cloud):
    project, user = _name("proj"), _name("user")
    cloud.cli("project", "create", project)
    cloud.cli("user", "create", "--password", "s3cret!", "--project", project, user)
    cloud.cli("role", "add", "--user", user, "--project", project, "member")
    rows = cloud.cli("role", "assignment", "list", "--names", "--user", user, "-f", "json")
    assert {(r["Role"], r["User"], r["Project"]) for r in rows} == {
        ("member", f"{user}@Default", f"{project}@Default")}
    # the new user can authenticate and gets member (and the implied reader) on the project
    proc = cloud.cli("role", "assignment", "list", "--names", "--effective", "--user", user,
                     "-f", "json")
    assert {r["Role"] for r in proc} == {"member", "reader"}


def test_endpoint_region_domain(cloud):
    endpoints = cloud.cli("endpoint", "list", "-f", "json")
    assert {e["Interface"] for e in endpoints if e["Service Type"] == "identity"} == {
        "public", "internal", "admin"}
    regions = cloud.cli("region", "list", "-f", "json")
    assert "RegionOne" in [r["Region"] for r in regions]
    name = _name("dom")
    dom = cloud.cli("domain", "create", name, "-f", "json")
    assert dom["name"] == name and dom["enabled"] is True


def test_member_is_forbidden_admin_calls(cloud):
    proc = cloud.cli("user", "list", cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    proc = cloud.cli("project", "create", _name("nope"), cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr


def test_system_scoped_admin(cloud):
    token = cloud.cli("token", "issue", "-f", "json", cloud="pocketstack-system-admin")
    assert token.get("system") in ("all", {"all": True}) or "project_id" not in token


def test_ec2_credentials(cloud):
    created = cloud.cli("ec2", "credentials", "create", "-f", "json", cloud="pocketstack")
    assert created["access"] and created["secret"]
    listed = cloud.cli("ec2", "credentials", "list", "-f", "json", cloud="pocketstack")
    assert created["access"] in [c["Access"] for c in listed]
    shown = cloud.cli("ec2", "credentials", "show", created["access"], "-f", "json",
                      cloud="pocketstack")
    assert shown["secret"] == created["secret"]
    cloud.cli("ec2", "credentials", "delete", created["access"], cloud="pocketstack")
    proc = cloud.cli("ec2", "credentials", "show", created["access"], cloud="pocketstack",
                     check=False)
    assert proc.returncode != 0
