"""Tokens over HTTP: validation, revocation, scopes, application credentials."""

from __future__ import annotations

import uuid

import requests


def _auth(cloud, body):
    return requests.post(cloud.url(5000, "/v3/auth/tokens"), json={"auth": body}, timeout=30)


def _password(user, password, project=None, domain="default"):
    body = {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": domain}, "password": password}}}}
    if project:
        body["scope"] = {"project": {"name": project, "domain": {"id": domain}}}
    return body


def _admin_password(cloud):
    with open(f"{cloud.data_dir}/admin-password") as f:
        return f.read().strip()


def test_version_discovery(cloud):
    r = requests.get(cloud.url(5000, "/"), timeout=10)
    assert r.status_code == 300
    assert r.json()["versions"]["values"][0]["id"].startswith("v3")
    r = requests.get(cloud.url(5000, "/v3"), timeout=10)
    assert r.status_code == 200 and r.json()["version"]["status"] == "stable"
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_issue_validate_revoke(cloud):
    pw = _admin_password(cloud)
    r = _auth(cloud, _password("admin", pw, "admin"))
    assert r.status_code == 201
    admin_token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert {"admin", "member", "reader"} <= {x["name"] for x in body["roles"]}
    assert body["project"]["name"] == "admin" and body["catalog"]
    r = _auth(cloud, _password("demo", pw, "demo"))
    demo_token = r.headers["X-Subject-Token"]
    headers = {"X-Auth-Token": admin_token, "X-Subject-Token": demo_token}
    r = requests.get(cloud.url(5000, "/v3/auth/tokens"), headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["token"]["user"]["name"] == "demo"
    r = requests.get(cloud.url(5000, "/v3/auth/tokens?nocatalog"), headers=headers, timeout=10)
    assert "catalog" not in r.json()["token"]
    assert requests.head(cloud.url(5000, "/v3/auth/tokens"), headers=headers,
                         timeout=10).status_code == 200
    # the demo token works before revocation
    assert requests.get(cloud.url(5000, "/v3/auth/projects"),
                        headers={"X-Auth-Token": demo_token}, timeout=10).status_code == 200
    assert requests.delete(cloud.url(5000, "/v3/auth/tokens"), headers=headers,
                           timeout=10).status_code == 204
    r = requests.get(cloud.url(5000, "/v3/auth/projects"), headers={"X-Auth-Token": demo_token},
                     timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401 and r.json()["error"]["title"] == "Unauthorized"
    r = requests.get(cloud.url(5000, "/v3/auth/tokens"), headers=headers, timeout=10)
    assert r.status_code == 404


def test_bad_credentials_and_bad_input(cloud):
    r = _auth(cloud, _password("admin", "wrong", "admin"))
    assert r.status_code == 401 and r.json()["error"]["title"] == "Unauthorized"
    r = requests.post(cloud.url(5000, "/v3/auth/tokens"), data="{not json", timeout=10)
    assert r.status_code == 400 and "error" in r.json()
    r = requests.post(cloud.url(5000, "/v3/auth/tokens"), json={"auth": {}}, timeout=10)
    assert r.status_code == 400
    r = requests.get(cloud.url(5000, "/v3/users"), headers={"X-Auth-Token": "garbage"},
                     timeout=10)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_password_change_revokes_tokens(cloud):
    conn = cloud.conn()
    name = f"u-{uuid.uuid4().hex[:8]}"
    user = conn.identity.create_user(name=name, password="first-pass", domain_id="default")
    r = _auth(cloud, _password(name, "first-pass"))
    assert r.status_code == 201 and "roles" not in r.json()["token"]  # unscoped
    token = r.headers["X-Subject-Token"]
    r = requests.post(cloud.url(5000, f"/v3/users/{user.id}/password"), json={
        "user": {"original_password": "first-pass", "password": "second-pass"}}, timeout=10)
    assert r.status_code == 204
    r = requests.get(cloud.url(5000, "/v3/auth/projects"), headers={"X-Auth-Token": token},
                     timeout=10)
    assert r.status_code == 401
    assert _auth(cloud, _password(name, "first-pass")).status_code == 401
    assert _auth(cloud, _password(name, "second-pass")).status_code == 201


def test_disabling_user_and_removing_role(cloud):
    conn = cloud.conn()
    name = f"u-{uuid.uuid4().hex[:8]}"
    project = conn.identity.create_project(name=f"p-{uuid.uuid4().hex[:8]}",
                                           domain_id="default")
    user = conn.identity.create_user(name=name, password="pw-12345", domain_id="default")
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, member)
    r = _auth(cloud, _password(name, "pw-12345", project.name))
    assert r.status_code == 201
    token = r.headers["X-Subject-Token"]
    check = cloud.url(5000, "/v3/auth/catalog")
    assert requests.get(check, headers={"X-Auth-Token": token}, timeout=10).status_code == 200
    conn.identity.unassign_project_role_from_user(project, user, member)
    assert requests.get(check, headers={"X-Auth-Token": token}, timeout=10).status_code == 401
    conn.identity.assign_project_role_to_user(project, user, member)
    token = _auth(cloud, _password(name, "pw-12345", project.name)).headers["X-Subject-Token"]
    conn.identity.update_user(user, enabled=False)
    assert requests.get(check, headers={"X-Auth-Token": token}, timeout=10).status_code == 401
    assert _auth(cloud, _password(name, "pw-12345", project.name)).status_code == 401


def test_application_credential_cli_and_auth(cloud):
    created = cloud.cli("application", "credential", "create", f"ac-{uuid.uuid4().hex[:6]}",
                        "-f", "json", cloud="pocketstack")
    assert created["Secret"] and created["ID"]
    body = {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": created["ID"], "secret": created["Secret"]}}}
    r = _auth(cloud, body)
    assert r.status_code == 201
    token = r.json()["token"]
    assert token["project"]["name"] == "demo"
    assert token["application_credential"]["id"] == created["ID"]
    assert _auth(cloud, {"identity": {"methods": ["application_credential"],
                                      "application_credential": {
                                          "id": created["ID"], "secret": "nope"}}}
                 ).status_code == 401
    listed = cloud.cli("application", "credential", "list", "-f", "json", cloud="pocketstack")
    assert created["ID"] in [a["ID"] for a in listed]
    # a restricted credential cannot create another one
    r = requests.post(cloud.url(5000, f"/v3/users/{token['user']['id']}/application_credentials"),
                      headers={"X-Auth-Token": r.headers["X-Subject-Token"]},
                      json={"application_credential": {"name": "again"}}, timeout=10)
    assert r.status_code == 403
    cloud.cli("application", "credential", "delete", created["ID"], cloud="pocketstack")
    assert _auth(cloud, body).status_code == 401


def test_groups_and_effective_assignments(cloud):
    conn = cloud.conn()
    suffix = uuid.uuid4().hex[:8]
    group = conn.identity.create_group(name=f"g-{suffix}", domain_id="default")
    user = conn.identity.create_user(name=f"u-{suffix}", password="pw-abcdef",
                                     domain_id="default")
    project = conn.identity.create_project(name=f"p-{suffix}", domain_id="default")
    conn.identity.add_user_to_group(user, group)
    reader = conn.identity.find_role("reader")
    conn.identity.assign_project_role_to_group(project, group, reader)
    r = _auth(cloud, _password(f"u-{suffix}", "pw-abcdef", f"p-{suffix}"))
    assert r.status_code == 201
    assert [x["name"] for x in r.json()["token"]["roles"]] == ["reader"]
    rows = cloud.cli("role", "assignment", "list", "--effective", "--user", user.id, "-f",
                     "json")
    assert [(x["Role"], x["Project"]) for x in rows] == [(reader.id, project.id)]


def test_system_and_domain_scope(cloud):
    pw = _admin_password(cloud)
    body = _password("admin", pw)
    body["scope"] = {"system": {"all": True}}
    r = _auth(cloud, body)
    assert r.status_code == 201 and r.json()["token"]["system"] == {"all": True}
    body["scope"] = {"domain": {"id": "default"}}
    r = _auth(cloud, body)
    assert r.status_code == 401  # admin has no role on the domain itself
    demo = _password("demo", pw)
    demo["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    assert _auth(cloud, demo).status_code == 401
