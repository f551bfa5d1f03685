"""Networking API v2.0 (Neutron) on port 9696: the logical model, no dataplane."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.service import Service, json_response
from pocketstack.network import policies  # noqa: F401  (registers the default rules)
from pocketstack.network.api.agents import AgentsAPI
from pocketstack.network.api.extras import (AutoAllocatedTopology, Discovery, IPAvailability,
                                            Quotas, RouterInterfaces)
from pocketstack.network.api.resources import install_all
from pocketstack.network.bootstrap import default_topology
from pocketstack.network.manager import Networking

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

_GENERIC = {"BadRequest": "HTTPBadRequest", "ValidationError": "HTTPBadRequest",
            "Forbidden": "HTTPForbidden", "NotFound": "HTTPNotFound",
            "MethodNotAllowed": "HTTPMethodNotAllowed", "Unauthorized": "HTTPUnauthorized",
            "Conflict": "HTTPConflict", "ApiError": "HTTPInternalServerError"}


class NetworkService(Service):
    name = "network"
    catalog_type = "network"
    catalog_name = "neutron"
    description = "Neutron Networking Service"
    port = 9696
    version_path = ""

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        self.net = Networking(cloud.conf, cloud.db)
        install_all(self.net, self.router)
        for resource in (Discovery(), RouterInterfaces(self.net), Quotas(self.net),
                         IPAvailability(self.net), AgentsAPI(self.net),
                         AutoAllocatedTopology(self.net)):
            self.router.include(resource)

    def render_error(self, exc: errors.ApiError) -> Response:
        kind = _GENERIC.get(exc.error_type, exc.error_type)
        if isinstance(exc, errors.PolicyNotAuthorized):
            kind = "PolicyNotAuthorized"
        return json_response({"NeutronError": {"type": kind, "message": exc.message,
                                               "detail": ""}},
                             status=exc.code, headers=exc.headers)

    def start(self) -> None:
        from pocketstack.network.notifier import NovaNotifier

        self.net.notifier = NovaNotifier(self.cloud)
        if self.cloud.conf.get("network", "create_default_topology"):
            default_topology(self.cloud, self.net)
