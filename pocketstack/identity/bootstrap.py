"""First-start bootstrap, as ``keystone-manage bootstrap`` and DevStack do it.

Creates the default domain, the roles admin > member > reader (plus service),
the projects admin, demo, alt_demo and service, the users admin, demo and
alt_demo, their role assignments and the admin's system role. Idempotent: run
at every start, it only creates what is missing and resets nothing but the
admin password when asked to.
"""

from __future__ import annotations

import logging
from typing import Any

from pocketstack.api import errors
from pocketstack.identity.manager import Identity

LOG = logging.getLogger(__name__)


def _ensure_role(ident: Identity, name: str) -> dict[str, Any]:
    role = ident.roles.find_role(name)
    return role or ident.roles.create_role({"name": name})


def _ensure_project(ident: Identity, name: str, description: str) -> dict[str, Any]:
    project = ident.resources.find_project(name, "default")
    return project or ident.resources.create_project(
        {"name": name, "domain_id": "default", "description": description})


def _ensure_user(ident: Identity, name: str, password: str, project_id: str,
                 reset_password: bool) -> dict[str, Any]:
    user = ident.users.find_user(name=name, domain_id="default")
    if user is None:
        return ident.users.create_user({"name": name, "domain_id": "default",
                                        "password": password,
                                        "default_project_id": project_id})
    if reset_password:
        ident.users.update_user(user["id"], {"password": password})
    return user


def _grant(ident: Identity, target: str, user_id: str, target_id: str, role_id: str) -> None:
    try:
        ident.roles.check_grant("user", user_id, target, target_id, role_id)
    except errors.NotFound:
        ident.roles.grant("user", user_id, target, target_id, role_id)


def bootstrap(ident: Identity, admin_password: str, *, reset_password: bool = False) -> None:
    try:
        ident.resources.get_domain("default")
    except errors.NotFound:
        ident.resources.create_domain({"name": "Default", "description": "The default domain"},
                                      domain_id="default")
    reader = _ensure_role(ident, "reader")
    member = _ensure_role(ident, "member")
    admin = _ensure_role(ident, "admin")
    manager = _ensure_role(ident, "manager")  # Keystone's bootstrap has it since 2024.2
    _ensure_role(ident, "service")
    implied = set(ident.roles.list_implied())
    for prior, imp in ((admin, member), (member, reader), (admin, manager),
                       (manager, member)):
        if (prior["id"], imp["id"]) not in implied:
            ident.roles.add_implied(prior["id"], imp["id"])

    admin_project = _ensure_project(ident, "admin", "Bootstrap project for the cloud's admin")
    demo = _ensure_project(ident, "demo", "Demo project (DevStack's convention)")
    alt_demo = _ensure_project(ident, "alt_demo", "Second demo project")
    _ensure_project(ident, "service", "Project of the service users")
    admin_user = _ensure_user(ident, "admin", admin_password, admin_project["id"],
                              reset_password)
    demo_user = _ensure_user(ident, "demo", admin_password, demo["id"], reset_password)
    alt_user = _ensure_user(ident, "alt_demo", admin_password, alt_demo["id"], reset_password)
    _grant(ident, "project", admin_user["id"], admin_project["id"], admin["id"])
    _grant(ident, "system", admin_user["id"], "system", admin["id"])
    _grant(ident, "project", admin_user["id"], demo["id"], admin["id"])
    _grant(ident, "project", admin_user["id"], alt_demo["id"], admin["id"])
    _grant(ident, "project", demo_user["id"], demo["id"], member["id"])
    _grant(ident, "project", alt_user["id"], alt_demo["id"], member["id"])
    LOG.info("identity bootstrap done")
