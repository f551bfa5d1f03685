"""Nova's deprecated network proxies of the Networking service (served up to microversion
2.35, as Nova does): ``/os-floating-ips``, ``/os-floating-ip-pools``, ``/os-networks``
and ``/os-tenant-networks``. Creating or deleting networks through Nova was
nova-network's and answers 410 Gone, as Nova does since nova-network's removal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.compute.api.common import network_api
from pocketstack.compute.networks import _query
from pocketstack.config import Opt, register
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
register_defaults([
    *(RuleDefault(f"{P}os-floating-ips:{n}", "rule:project_member_or_admin")
      for n in ("list", "show", "create", "delete")),
    RuleDefault(f"{P}os-floating-ip-pools:list", "rule:project_reader_or_admin"),
    RuleDefault(f"{P}os-networks:list", "rule:project_reader_or_admin"),
    RuleDefault(f"{P}os-networks:view", "rule:project_reader_or_admin"),
    RuleDefault(f"{P}os-tenant-networks:list", "rule:project_reader_or_admin"),
    RuleDefault(f"{P}os-tenant-networks:show", "rule:project_reader_or_admin")])
register(Opt("neutron", "default_floating_pool", str, "public",
             "External network that os-floating-ips allocates from when no pool is named."))
MAX = "2.35"


class NetworkProxy:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _net(self) -> Any:
        return network_api(self.svc.cloud)

    def _networks(self, ctx: Any) -> list[dict[str, Any]]:
        items, _ = self._net().networks.list(ctx, _query())
        return items

    # -- floating IPs -------------------------------------------------------------
    def _fip_view(self, fip: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
        details = fip.get("port_details") or {}
        instance = details.get("device_id") if str(details.get("device_owner") or "") \
            .startswith("compute:") else None
        return {"id": fip["id"], "ip": fip["floating_ip_address"],
                "fixed_ip": fip.get("fixed_ip_address"), "instance_id": instance or None,
                "pool": names.get(fip["floating_network_id"])}

    def _names(self, ctx: Any) -> dict[str, str]:
        return {n["id"]: n["name"] for n in self._networks(ctx)}

    def _fip(self, req: Request, fip_id: str) -> dict[str, Any]:
        try:
            return self._net().floatingips.get(req.ctx, fip_id)
        except errors.NotFound:
            raise errors.NotFound(f"Floating IP {fip_id} could not be found.") from None

    @route("GET", "/v2.1/os-floating-ips", max_version=MAX, policy=f"{P}os-floating-ips:list")
    def list_fips(self, req: Request) -> dict[str, Any]:
        items, _ = self._net().floatingips.list(req.ctx, _query())
        names = self._names(req.ctx)
        mine = [f for f in items if f.get("project_id") == req.ctx.project_id]
        return {"floating_ips": [self._fip_view(f, names) for f in mine]}

    @route("GET", "/v2.1/os-floating-ips/{fip_id}", max_version=MAX,
           policy=f"{P}os-floating-ips:show")
    def show_fip(self, req: Request, fip_id: str) -> dict[str, Any]:
        return {"floating_ip": self._fip_view(self._fip(req, fip_id), self._names(req.ctx))}

    @route("POST", "/v2.1/os-floating-ips", max_version=MAX,
           policy=f"{P}os-floating-ips:create")
    def create_fip(self, req: Request) -> dict[str, Any]:
        body = req.json() if req.body else None
        pool = (body or {}).get("pool") if isinstance(body, dict) else None
        if body is not None and not isinstance(body, dict):
            raise errors.BadRequest("Invalid input for field/attribute body.")
        pool = pool or self.svc.cloud.conf.get("neutron", "default_floating_pool")
        if not isinstance(pool, str):
            raise errors.BadRequest("Invalid input for field/attribute pool.")
        nets = [n for n in self._networks(req.ctx) if n.get("router:external") and
                pool in (n["name"], n["id"])]
        if not nets:
            raise errors.NotFound(f"Floating IP pool not found: {pool}.")
        try:
            fip = self._net().floatingips.create(req.ctx, {"floating_network_id": nets[0]["id"]})
        except errors.Conflict as exc:
            if exc.error_type == "OverQuota":
                raise errors.OverQuota("Quota exceeded, too many floating IPs.") from None
            raise errors.NotFound(f"No more floating IPs in pool {pool}.") from None
        return {"floating_ip": self._fip_view(fip, {nets[0]["id"]: nets[0]["name"]})}

    @route("DELETE", "/v2.1/os-floating-ips/{fip_id}", status=202, max_version=MAX,
           policy=f"{P}os-floating-ips:delete")
    def delete_fip(self, req: Request, fip_id: str) -> Reply:
        self._fip(req, fip_id)
        self._net().floatingips.delete(req.ctx, fip_id)
        return Reply(None, 202)

    @route("GET", "/v2.1/os-floating-ip-pools", max_version=MAX,
           policy=f"{P}os-floating-ip-pools:list")
    def pools(self, req: Request) -> dict[str, Any]:
        return {"floating_ip_pools": [{"name": n["name"]} for n in self._networks(req.ctx)
                                      if n.get("router:external")]}

    # -- networks -----------------------------------------------------------------
    def _cidr(self, ctx: Any, network: dict[str, Any]) -> str | None:
        for subnet_id in network.get("subnets") or []:
            try:
                subnet = self._net().subnets.get(ctx, subnet_id)
            except errors.NotFound:
                continue
            if subnet.get("ip_version") == 4:
                return subnet.get("cidr")
        return None

    def _network(self, req: Request, network_id: str) -> dict[str, Any]:
        try:
            return self._net().networks.get(req.ctx, network_id)
        except errors.NotFound:
            raise errors.NotFound("Network not found.") from None

    def _nova_network(self, ctx: Any, n: dict[str, Any]) -> dict[str, Any]:
        """Nova's os-networks view: nova-network's fields are null with Neutron."""
        out: dict[str, Any] = {k: None for k in (
            "bridge", "bridge_interface", "broadcast", "cidr_v6", "created_at", "deleted",
            "deleted_at", "dhcp_server", "dhcp_start", "dns1", "dns2", "enable_dhcp",
            "gateway", "gateway_v6", "host", "injected", "multi_host", "netmask",
            "netmask_v6", "priority", "project_id", "rxtx_base", "share_address",
            "updated_at", "vlan", "vpn_private_address", "vpn_public_address",
            "vpn_public_port")}
        out.update(id=n["id"], label=n["name"], cidr=self._cidr(ctx, n), mtu=n.get("mtu"))
        return out

    @route("GET", "/v2.1/os-networks", max_version=MAX, policy=f"{P}os-networks:list")
    def list_networks(self, req: Request) -> dict[str, Any]:
        return {"networks": [self._nova_network(req.ctx, n)
                             for n in self._networks(req.ctx)]}

    @route("GET", "/v2.1/os-networks/{network_id}", max_version=MAX,
           policy=f"{P}os-networks:view")
    def show_network(self, req: Request, network_id: str) -> dict[str, Any]:
        return {"network": self._nova_network(req.ctx, self._network(req, network_id))}

    @route("GET", "/v2.1/os-tenant-networks", max_version=MAX,
           policy=f"{P}os-tenant-networks:list")
    def list_tenant_networks(self, req: Request) -> dict[str, Any]:
        return {"networks": [{"id": n["id"], "label": n["name"],
                              "cidr": self._cidr(req.ctx, n)}
                             for n in self._networks(req.ctx)]}

    @route("GET", "/v2.1/os-tenant-networks/{network_id}", max_version=MAX,
           policy=f"{P}os-tenant-networks:show")
    def show_tenant_network(self, req: Request, network_id: str) -> dict[str, Any]:
        n = self._network(req, network_id)
        return {"network": {"id": n["id"], "label": n["name"], "cidr": self._cidr(req.ctx, n)}}

    @route("POST", "/v2.1/os-networks", max_version=MAX, policy=f"{P}os-networks:list")
    def create_network(self, req: Request) -> None:
        raise _GONE

    @route("DELETE", "/v2.1/os-networks/{network_id}", max_version=MAX,
           policy=f"{P}os-networks:list")
    def delete_network(self, req: Request, network_id: str) -> None:
        raise _GONE

    @route("POST", "/v2.1/os-tenant-networks", max_version=MAX,
           policy=f"{P}os-tenant-networks:list")
    def create_tenant_network(self, req: Request) -> None:
        raise _GONE

    @route("DELETE", "/v2.1/os-tenant-networks/{network_id}", max_version=MAX,
           policy=f"{P}os-tenant-networks:list")
    def delete_tenant_network(self, req: Request, network_id: str) -> None:
        raise _GONE


_GONE = errors.Gone("Network creation and deletion went with nova-network: use the "
                    "Networking API.")
