"""The cloud: configuration, database, policy, identity and the services, wired together.

One object that every service receives; services reach each other through it
(``cloud.service("image")``), in-process, with no HTTP between them.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import TYPE_CHECKING, Any

from pocketstack.bus import LocalBus
from pocketstack.config import Config
from pocketstack.db import Database
from pocketstack.db import migrate
from pocketstack.metrics import Metrics
from pocketstack.policy import Enforcer

if TYPE_CHECKING:
    from pocketstack.api.service import Service
    from pocketstack.identity.manager import Identity

LOG = logging.getLogger(__name__)

# Standard ports, as DevStack and the install guides use them.
PORTS = {"identity": 5000, "compute": 8774, "image": 9292, "volume": 8776, "network": 9696,
         "placement": 8778, "metadata": 8775, "object-store": 8080, "novncproxy": 6080,
         "serialproxy": 6083}


class Cloud:
    def __init__(self, conf: Config, data_dir: str, bind: str = "127.0.0.1") -> None:
        self.conf = conf
        self.data_dir = os.path.abspath(data_dir)
        self.bind = bind
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        url = conf.get("database", "connection") or \
            f"sqlite:///{os.path.join(self.data_dir, 'pocketstack.db')}"
        self.db = Database(url, echo=conf.get("database", "connection_debug") >= 50,
                           sqlite_synchronous=conf.get("database", "sqlite_synchronous"))
        policy_file = conf.get("oslo_policy", "policy_file")
        if not os.path.isabs(policy_file):
            policy_file = os.path.join(self.data_dir, policy_file)
        self.policy = Enforcer(policy_file)
        # in-process today; a RabbitMQ-backed bus implements the same interface
        self.bus = LocalBus()
        self.metrics = Metrics()
        self.host = conf.get("DEFAULT", "public_endpoint_host") or bind
        self.region = conf.get("DEFAULT", "region_name")
        self._identity: "Identity | None" = None
        self.services: list["Service"] = []

    # -- identity is the one service every other one needs ---------------------
    @property
    def identity(self) -> "Identity":
        if self._identity is None:
            from pocketstack.identity.manager import Identity

            self._identity = Identity(self.conf, self.db, self.data_dir)
        return self._identity

    @property
    def auth(self) -> "Identity":
        """The token validator of every service's request pipeline."""
        return self.identity

    @property
    def identity_url(self) -> str:
        return f"http://{self.host}:{PORTS['identity']}/v3"

    def base_url(self, service: "Service") -> str:
        return f"http://{self.host}:{service.port}"

    def service(self, name: str) -> "Service | None":
        return next((s for s in self.services if s.name == name), None)

    # -- start-up -------------------------------------------------------------
    def admin_password(self) -> str:
        configured = self.conf.get("DEFAULT", "admin_password")
        if configured:
            return configured
        path = os.path.join(self.data_dir, "admin-password")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
        password = secrets.token_urlsafe(18)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
        return password

    def prepare(self) -> None:
        """Migrate the schema, bootstrap identity, build the services, fill the catalog."""
        from pocketstack.identity.bootstrap import bootstrap
        from pocketstack.services import service_classes

        migrate.upgrade(self.db)
        bootstrap(self.identity, self.admin_password(),
                  reset_password=bool(self.conf.get("DEFAULT", "admin_password")))
        self.services = [cls(self) for cls in service_classes()]
        for svc in self.services:
            if not svc.catalog_type:  # e.g. metadata: reached by instances, not the catalog
                continue
            url = svc.catalog_url(self.base_url(svc))
            self.identity.catalog.ensure(type=svc.catalog_type, name=svc.catalog_name,
                                         description=getattr(svc, "description", ""),
                                         region=self.region,
                                         urls={i: url for i in ("public", "internal",
                                                                "admin")})
        for svc in self.services:
            svc.start()

    def stop(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.stop()
            except Exception:  # one service failing to stop must not stop the others
                LOG.exception("error stopping %s", svc.name)
        self.bus.drain()
        self.bus.close()
        self.db.dispose()

    def clouds(self) -> dict[str, Any]:
        """clouds.yaml content for the four DevStack-style users."""
        password = self.admin_password()

        def entry(user: str, project: str | None, system: bool = False) -> dict[str, Any]:
            auth: dict[str, Any] = {"auth_url": self.identity_url, "username": user,
                                    "password": password, "user_domain_id": "default"}
            if system:
                auth["system_scope"] = "all"
            else:
                auth["project_name"] = project
                auth["project_domain_id"] = "default"
            return {"auth": auth, "region_name": self.region, "interface": "public",
                    "identity_api_version": 3}

        return {"clouds": {
            "pocketstack": entry("demo", "demo"),
            "pocketstack-admin": entry("admin", "admin"),
            "pocketstack-alt": entry("alt_demo", "alt_demo"),
            "pocketstack-system-admin": entry("admin", None, system=True),
        }}
