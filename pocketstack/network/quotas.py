"""Per-project quotas (Neutron's defaults, ``[quotas] quota_*`` options)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.config import Opt, register
from pocketstack.network.common import conflict, invalid_input
from pocketstack.network.models import (FloatingIP, Network, Port, Quota, RBACPolicy, Router,
                                        SecurityGroup, SecurityGroupRule, Subnet, SubnetPool)

DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
            "security_group": 10, "security_group_rule": 100, "rbac_policy": 10,
            "subnetpool": -1}
MODELS = {"network": Network, "subnet": Subnet, "port": Port, "router": Router,
          "floatingip": FloatingIP, "security_group": SecurityGroup,
          "security_group_rule": SecurityGroupRule, "rbac_policy": RBACPolicy,
          "subnetpool": SubnetPool}

register(*(Opt("quotas", f"quota_{name}", int, value,
               f"Default number of {name} resources per project (-1: unlimited).")
           for name, value in DEFAULTS.items()))


class Quotas:
    def __init__(self, conf: Any, db: Any) -> None:
        self.conf = conf
        self.db = db

    def defaults(self) -> dict[str, int]:
        return {name: self.conf.get("quotas", f"quota_{name}") for name in DEFAULTS}

    def limits(self, s: Session, project_id: str) -> dict[str, int]:
        out = self.defaults()
        for q in s.scalars(select(Quota).where(Quota.project_id == project_id)):
            out[q.resource] = q.limit
        return out

    def used(self, s: Session, project_id: str, resource: str) -> int:
        model = MODELS[resource]
        return s.scalar(select(func.count()).select_from(model).where(
            model.project_id == project_id)) or 0

    def check(self, s: Session, project_id: str, resource: str, delta: int = 1) -> None:
        limit = self.limits(s, project_id)[resource]
        if limit >= 0 and self.used(s, project_id, resource) + delta > limit:
            raise conflict(f"Quota exceeded for resources: ['{resource}'].", "OverQuota")

    # -- API ------------------------------------------------------------------
    def get(self, project_id: str) -> dict[str, int]:
        with self.db.read() as s:
            return self.limits(s, project_id)

    def details(self, project_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            limits = self.limits(s, project_id)
            return {name: {"limit": limit, "used": self.used(s, project_id, name),
                           "reserved": 0} for name, limit in limits.items()}

    def projects(self) -> list[dict[str, Any]]:
        with self.db.read() as s:
            ids = sorted(set(s.scalars(select(Quota.project_id))))
            return [{**self.limits(s, p), "project_id": p, "tenant_id": p} for p in ids]

    def update(self, project_id: str, body: Any) -> dict[str, int]:
        if not isinstance(body, dict):
            raise invalid_input("quota must be an object")
        body = dict(body)
        check_limit = body.pop("check_limit", False)  # the quota-check-limit extension
        if not isinstance(check_limit, bool):
            raise invalid_input(f"'{check_limit}' is not a valid boolean value")
        for name, value in body.items():
            if name not in DEFAULTS:
                raise invalid_input(f"Unrecognized attribute(s) '{name}'")
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise invalid_input(f"'{value}' is not an integer") from None
            if value < -1:
                raise invalid_input(f"'{value}' should be greater than or equal to -1")
        with self.db.write() as s:
            for name, value in body.items():
                used = self.used(s, project_id, name) if check_limit else 0
                if check_limit and 0 <= int(value) < used:
                    raise invalid_input(f"Quota limit {value} for {name} must be greater than "
                                        f"or equal to already used and reserved {used}")
                row = s.get(Quota, (project_id, name))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=name, limit=int(value)))
                else:
                    row.limit = int(value)
            s.flush()
            return self.limits(s, project_id)

    def reset(self, project_id: str) -> None:
        with self.db.write() as s:
            for q in s.scalars(select(Quota).where(Quota.project_id == project_id)):
                s.delete(q)
