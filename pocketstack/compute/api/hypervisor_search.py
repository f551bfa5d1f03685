"""/os-hypervisors/{pattern}/search and /os-hypervisors/{pattern}/servers (up to 2.52;
2.53 replaced them with ``hypervisor_hostname_pattern`` and ``with_servers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute.api.admin import Hypervisors

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-hypervisors:"


class HypervisorSearch:
    def __init__(self, svc: "ComputeService") -> None:
        self.hypervisors = Hypervisors(svc)
        self.hosts = svc.hosts

    def _matching(self, req: Request, pattern: str) -> list[dict[str, Any]]:
        nodes = [n for n in self.hosts.nodes() if pattern in n.hypervisor_hostname]
        if not nodes:
            raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        services = self.hosts.compute_services()
        return [(n, self.hypervisors.view(req, n, False, {}, services)) for n in nodes]

    @route("GET", "/v2.1/os-hypervisors/{pattern}/search", max_version="2.52",
           policy=f"{P}search")
    def search(self, req: Request, pattern: str) -> dict[str, Any]:
        return {"hypervisors": [view for _, view in self._matching(req, pattern)]}

    @route("GET", "/v2.1/os-hypervisors/{pattern}/servers", max_version="2.52",
           policy=f"{P}servers")
    def servers(self, req: Request, pattern: str) -> dict[str, Any]:
        out = []
        for node, view in self._matching(req, pattern):
            servers = self.hypervisors._servers(node.host)
            if servers:
                view["servers"] = servers
            out.append(view)
        return {"hypervisors": out}
