"""/v2.0/agents and the scheduler views (which agents host a network or a router)."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.network.agents import DHCP, L3
from pocketstack.network.common import Query, bad_request
from pocketstack.network.manager import Networking

ADMIN = "network:admin"


class AgentsAPI:
    def __init__(self, net: Networking) -> None:
        self.net = net
        self.agents = net.agents

    @route("GET", "/v2.0/agents", policy=ADMIN)
    def list(self, req: Request) -> dict[str, Any]:
        return {"agents": self.agents.list(Query(req.query))}

    @route("GET", "/v2.0/agents/{agent_id}", policy=ADMIN)
    def show(self, req: Request, agent_id: str) -> dict[str, Any]:
        return {"agent": Query(req.query).select(self.agents.get(agent_id))}

    @route("PUT", "/v2.0/agents/{agent_id}", policy=ADMIN)
    def update(self, req: Request, agent_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("agent"), dict):
            raise bad_request("Resource body required: {'agent': {...}}", "HTTPBadRequest")
        return {"agent": self.agents.update(agent_id, body["agent"])}

    @route("DELETE", "/v2.0/agents/{agent_id}", status=204, policy=ADMIN)
    def delete(self, req: Request, agent_id: str) -> None:
        self.agents.delete(agent_id)

    @route("GET", "/v2.0/networks/{network_id}/dhcp-agents", policy=ADMIN)
    def dhcp_agents(self, req: Request, network_id: str) -> dict[str, Any]:
        self.net.networks.get(req.ctx, network_id)  # 404 NetworkNotFound
        agents = self.agents.list(Query(req.query), hosting=network_id)
        return {"agents": [a for a in agents if a.get("agent_type", DHCP) == DHCP]}

    @route("GET", "/v2.0/routers/{router_id}/l3-agents", policy=ADMIN)
    def l3_agents(self, req: Request, router_id: str) -> dict[str, Any]:
        self.net.routers.get(req.ctx, router_id)  # 404 RouterNotFound
        agents = self.agents.list(Query(req.query), hosting=router_id)
        return {"agents": [{**a, "ha_state": None} for a in agents
                           if a.get("agent_type", L3) == L3]}

    @route("GET", "/v2.0/agents/{agent_id}/dhcp-networks", policy=ADMIN)
    def dhcp_networks(self, req: Request, agent_id: str) -> dict[str, Any]:
        kind, ids = self.agents.hosted(agent_id)
        return {"networks": [self.net.networks.get(req.ctx, i) for i in ids
                             if kind == DHCP and self._exists(self.net.networks, req, i)]}

    @route("GET", "/v2.0/agents/{agent_id}/l3-routers", policy=ADMIN)
    def l3_routers(self, req: Request, agent_id: str) -> dict[str, Any]:
        kind, ids = self.agents.hosted(agent_id)
        return {"routers": [self.net.routers.get(req.ctx, i) for i in ids
                            if kind == L3 and self._exists(self.net.routers, req, i)]}

    @staticmethod
    def _exists(kind: Any, req: Request, id_: str) -> bool:
        from pocketstack.api import errors

        try:
            kind.get(req.ctx, id_)
            return True
        except errors.NotFound:
            return False
