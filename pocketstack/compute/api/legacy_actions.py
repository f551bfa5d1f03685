"""Legacy nova-network era server actions: injectNetworkInfo (admin; the driver has no
guest agent to push to, so it is recorded and accepted), resetNetwork (410 Gone, as Nova
since its XenAPI driver left), addFixedIp/removeFixedIp (multinic, up to 2.43: a port on
the network through the Networking service / the port holding the address removed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.compute.interfaces import ServerInterfaces
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
register_defaults([RuleDefault(f"{P}os-admin-actions:inject_network_info",
                               "rule:admin_required"),
                   RuleDefault(f"{P}os-multinic:add", "rule:project_member_or_admin"),
                   RuleDefault(f"{P}os-multinic:remove", "rule:project_member_or_admin")])
MULTINIC_MAX = "2.43"


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def _arg(args: Any, action: str, key: str) -> str:
    value = args.get(key) if isinstance(args, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. '{key}' is a "
                                "required property")
    return value


def legacy_actions(svc: "ComputeService") -> dict[str, Callable[..., Any]]:
    """Server action name -> handler(req, inst, args)."""
    ifaces = ServerInterfaces(svc.cloud)

    def inject_network_info(req: Request, inst: Any, args: Any) -> Reply:
        req.enforce(f"{P}os-admin-actions:inject_network_info", _target(inst))
        if not inst.host:
            raise errors.Conflict(f"Cannot 'inject_network_info' instance {inst.uuid} while "
                                  f"it is in vm_state {inst.vm_state}")
        svc.servers.record_action(req.ctx, inst.uuid, "inject_network_info")
        return Reply(None, 202)

    def reset_network(req: Request, inst: Any, args: Any) -> None:
        raise errors.Gone("The resetNetwork action was removed (it needed the XenAPI "
                          "driver).")

    def add_fixed_ip(req: Request, inst: Any, args: Any) -> Reply:
        if req.at_least("2.44"):
            raise errors.NotFound("The addFixedIp action was removed in microversion 2.44")
        req.enforce(f"{P}os-multinic:add", _target(inst))
        net_id = _arg(args, "addFixedIp", "networkId")
        svc.servers.check_lock(req.ctx, inst)
        ifaces.attach(req.ctx, inst, net_id, None, None)
        svc.servers.record_action(req.ctx, inst.uuid, "add_fixed_ip")
        return Reply(None, 202)

    def remove_fixed_ip(req: Request, inst: Any, args: Any) -> Reply:
        if req.at_least("2.44"):
            raise errors.NotFound("The removeFixedIp action was removed in microversion "
                                  "2.44")
        req.enforce(f"{P}os-multinic:remove", _target(inst))
        address = _arg(args, "removeFixedIp", "address")
        svc.servers.check_lock(req.ctx, inst)
        port = next((p for p in ifaces.list(inst) if any(
            f.get("ip_address") == address for f in p.get("fixed_ips") or [])), None)
        if port is None:
            raise errors.BadRequest(f"Unable to find address {address} on the instance.")
        ifaces.detach(inst, port["id"])
        svc.servers.record_action(req.ctx, inst.uuid, "remove_fixed_ip")
        return Reply(None, 202)

    return {"injectNetworkInfo": inject_network_info, "resetNetwork": reset_network,
            "addFixedIp": add_fixed_ip, "removeFixedIp": remove_fixed_ip}
