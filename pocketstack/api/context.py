"""The request context: who is calling, in which scope, for which request."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field
from typing import Any

# Read by the log formatter so that every log line carries the request id.
current: contextvars.ContextVar["RequestContext | None"] = contextvars.ContextVar(
    "pocketstack_context", default=None)


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass
class RequestContext:
    request_id: str = field(default_factory=new_request_id)
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None
    roles: list[str] = field(default_factory=list)
    auth_token: str | None = None
    token: dict[str, Any] | None = None
    application_credential_id: str | None = None
    global_request_id: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_system_scoped(self) -> bool:
        return self.system_scope is not None

    def credentials(self) -> dict[str, Any]:
        """The credential dictionary the policy engine checks rules against."""
        return {
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": self.roles,
            "is_admin": self.is_admin,
            "is_admin_project": True,
            "service_roles": [r for r in self.roles if r == "service"],
        }

    @classmethod
    def admin(cls) -> "RequestContext":
        """A context for work the cloud does on its own behalf (bootstrap, periodic tasks)."""
        return cls(user_id="pocketstack", roles=["admin", "member", "reader"],
                   system_scope="all")
