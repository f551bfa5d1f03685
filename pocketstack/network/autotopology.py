"""Neutron's auto-allocated topology (extension ``auto-allocated-topology``).

A project's topology is made on its first ask: the network ``auto_allocated_network``, a
subnet from each default subnet pool (``auto_allocated_subnet_v4``/``_v6``) and the router
``auto_allocated_router`` with its gateway on the default external network
(``router:external`` and ``is_default``) and an interface on each subnet. Nova asks for it
when a server is created with ``networks: auto`` and the project has no network. The
project's topology is found again by those names (Neutron keeps a table of them).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network.common import Query

if TYPE_CHECKING:
    from pocketstack.network.manager import Networking

NETWORK = "auto_allocated_network"
ROUTER = "auto_allocated_router"


def _ctx(project_id: str) -> RequestContext:
    """The project's own context (what is made belongs to the project)."""
    return RequestContext(user_id="neutron", project_id=project_id,
                          roles=["admin", "member", "reader"])


def _failure(reason: str) -> errors.Conflict:
    return errors.Conflict(f"Deployment error: {reason}.", error_type="AutoAllocationFailure")


class AutoTopology:
    def __init__(self, net: "Networking") -> None:
        self.net = net
        self._lock = threading.Lock()  # one topology per project, also under concurrent asks

    def _own(self, project_id: str, kind: Any, name: str) -> dict[str, Any] | None:
        items, _ = kind.list(_ctx(project_id), Query.empty())
        return next((i for i in items if i.get("name") == name and
                     i.get("project_id") == project_id), None)

    def _requirements(self) -> tuple[str, list[dict[str, Any]]]:
        admin = RequestContext.admin()
        nets, _ = self.net.networks.list(admin, Query.empty())
        external = [n for n in nets if n.get("router:external") and n.get("is_default")]
        if not external:
            raise _failure("No default router:external network")
        pools, _ = self.net.subnetpools.list(admin, Query.empty())
        defaults = {}
        for pool in sorted(pools, key=lambda p: p.get("created_at") or ""):
            if pool.get("is_default"):
                defaults.setdefault(pool.get("ip_version"), pool)
        if not defaults:
            raise _failure("No default subnetpools defined")
        return external[0]["id"], [defaults[v] for v in sorted(defaults)]

    def get(self, project_id: str, dry_run: bool = False) -> dict[str, Any]:
        """``{"id": network id, "tenant_id": project}``, made if missing; ``dry_run``
        only checks that it can be made (``id`` is then ``dry-run=pass``)."""
        with self._lock:
            found = None if dry_run else self._own(project_id, self.net.networks, NETWORK)
            if found is not None:
                return {"id": found["id"], "tenant_id": project_id}
            external, pools = self._requirements()
            if dry_run:
                return {"id": "dry-run=pass", "tenant_id": project_id}
            return {"id": self._build(project_id, external, pools), "tenant_id": project_id}

    def _build(self, project_id: str, external: str, pools: list[dict[str, Any]]) -> str:
        ctx = _ctx(project_id)
        network = self.net.networks.create(ctx, {"name": NETWORK, "admin_state_up": True})
        router = None
        try:
            subnets = [self.net.subnets.create(ctx, {
                "name": f"auto_allocated_subnet_v{p['ip_version']}",
                "network_id": network["id"], "ip_version": p["ip_version"],
                "subnetpool_id": p["id"]}) for p in pools]
            router = self.net.routers.create(ctx, {"name": ROUTER, "external_gateway_info": {
                "network_id": external}})
            for subnet in subnets:
                self.net.routers.add_interface(ctx, router["id"], {"subnet_id": subnet["id"]})
        except errors.ApiError as exc:
            self._remove(ctx, network, router)
            raise _failure(f"Unable to provide tenant private network ({exc.message})"
                           ) from None
        return str(network["id"])

    def _remove(self, ctx: RequestContext, network: dict[str, Any] | None,
                router: dict[str, Any] | None) -> None:
        if router is not None:
            subnets = self.net.networks.get(ctx, network["id"])["subnets"] if network else []
            for subnet in subnets:
                try:
                    self.net.routers.remove_interface(ctx, router["id"], {"subnet_id": subnet})
                except errors.ApiError:
                    pass
            self.net.routers.delete(ctx, router["id"])
        if network is not None:
            self.net.networks.delete(ctx, network["id"])

    def delete(self, project_id: str) -> None:
        with self._lock:
            network = self._own(project_id, self.net.networks, NETWORK)
            if network is None:
                raise errors.NotFound(f"Auto Allocated Topology for project {project_id} "
                                      "could not be found.", error_type="NotFound")
            self._remove(_ctx(project_id), network,
                         self._own(project_id, self.net.routers, ROUTER))
