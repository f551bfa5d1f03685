"""Server actions of the instance lifecycle: shelve/shelveOffload/unshelve,
rescue/unrescue, restore/forceDelete, changePassword and trigger_crash_dump
(dispatched by server_actions through ``svc.extra_actions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.compute import states
from pocketstack.compute.transitions import begin
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
MEMBER, ADMIN = "rule:project_member_or_admin", "rule:admin_required"
register_defaults([RuleDefault(name, check) for name, check in (
    (f"{P}os-shelve:shelve", MEMBER), (f"{P}os-shelve:shelve_offload", ADMIN),
    (f"{P}os-shelve:unshelve", MEMBER), (f"{P}os-shelve:unshelve_to_host", ADMIN),
    (f"{P}os-rescue", MEMBER),
    (f"{P}os-unrescue", MEMBER), (f"{P}os-deferred-delete:restore", MEMBER),
    (f"{P}os-deferred-delete:force", MEMBER), (f"{P}os-admin-password", MEMBER),
    (f"{P}servers:trigger_crash_dump", MEMBER))])
CRASH_DUMP_FROM = (states.ACTIVE, states.PAUSED, states.RESCUED, states.RESIZED,
                   states.ERROR)


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def _no_args(args: Any, action: str) -> None:
    if args is not None and args != {}:
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. Value: "
                                f"{args}. {args!r} is not of type 'null'")


def _object(args: Any, action: str, allowed: dict[str, type]) -> dict[str, Any]:
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. Value: "
                                f"{args}. {args!r} is not of type 'object', 'null'")
    for key, value in args.items():
        if key not in allowed:
            raise errors.BadRequest(f"Invalid input for field/attribute {action}. "
                                    f"Additional properties are not allowed ({key!r} was "
                                    "unexpected)")
        if not isinstance(value, allowed[key]) or (isinstance(value, str) and
                                                    len(value) > 255):
            raise errors.BadRequest(f"Invalid input for field/attribute {action}.{key}. "
                                    f"Value: {value}.")
    return args


def lifecycle_actions(svc: "ComputeService") -> dict[str, Callable[..., Any]]:
    """Server action name -> handler(req, inst, args)."""

    def simple(rule: str, call: Callable[..., None]) -> Callable[..., None]:
        def handler(req: Request, inst: Any, args: Any) -> None:
            req.enforce(P + rule, _target(inst))
            call(req.ctx, inst)
        return handler


    def unshelve(req: Request, inst: Any, args: Any) -> None:
        req.enforce(f"{P}os-shelve:unshelve", _target(inst))
        from pocketstack.compute.shelve import UNPIN

        az, host = None, None
        if req.at_least("2.91") and args is not None:
            if not isinstance(args, dict):
                raise errors.BadRequest("Invalid input for field/attribute unshelve.")
            body = _object(args, "unshelve", {"availability_zone": (str, type(None)),
                                              "host": str})
            if "availability_zone" in body:
                az = UNPIN if body["availability_zone"] is None else body["availability_zone"]
            host = body.get("host")
            if host is not None:
                req.enforce(f"{P}os-shelve:unshelve_to_host", _target(inst))
                if not host or len(host) > 255:
                    raise errors.BadRequest("Invalid input for field/attribute host.")
        elif req.at_least("2.77") and args is not None:
            body = _object(args, "unshelve", {"availability_zone": str})
            if "availability_zone" not in body:
                raise errors.BadRequest("Invalid input for field/attribute unshelve. "
                                        "'availability_zone' is a required property")
            az = body["availability_zone"]
        svc.shelving.unshelve(req.ctx, inst, az, host)

    def rescue(req: Request, inst: Any, args: Any) -> Reply:
        req.enforce(f"{P}os-rescue", _target(inst))
        body = _object(args, "rescue", {"adminPass": str, "rescue_image_ref": str})
        password = svc.rescues.rescue(req.ctx, inst, body.get("adminPass"),
                                      body.get("rescue_image_ref"),
                                      allow_bfv=req.at_least("2.87"))
        if svc.cloud.conf.get("DEFAULT", "enable_instance_password"):
            return Reply({"adminPass": password}, 200)
        return Reply({}, 200)

    def unrescue(req: Request, inst: Any, args: Any) -> None:
        req.enforce(f"{P}os-unrescue", _target(inst))
        _no_args(args, "unrescue")
        svc.rescues.unrescue(req.ctx, inst)

    def change_password(req: Request, inst: Any, args: Any) -> None:
        req.enforce(f"{P}os-admin-password", _target(inst))
        password = args.get("adminPass") if isinstance(args, dict) else None
        if not isinstance(password, str) or set(args) - {"adminPass"}:
            raise errors.BadRequest("Invalid input for field/attribute changePassword. "
                                    "'adminPass' is a required property")
        if not svc.driver.implements("set_admin_password"):
            raise errors.NotImplementedYet("Unable to set password on instance")
        row = begin(svc, req.ctx, inst, "changePassword", [states.ACTIVE],
                    states.UPDATING_PASSWORD)
        from pocketstack.compute.tasks import driver_view

        try:  # a synchronous call, as Nova's
            svc.driver.set_admin_password(row.host, driver_view(row), password)
        except NotImplementedError:
            raise errors.NotImplementedYet("Unable to set password on instance") from None
        except Exception as exc:
            raise errors.Conflict(f"Failed to set admin password on {inst.uuid} because "
                                  f"{exc}") from None
        finally:
            svc.tasks._update(inst.uuid, task_state=None)

    def trigger_crash_dump(req: Request, inst: Any, args: Any) -> None:
        if not req.at_least("2.17"):
            raise errors.NotFound("The resource could not be found.")
        req.enforce(f"{P}servers:trigger_crash_dump", _target(inst))
        _no_args(args, "trigger_crash_dump")
        if not svc.driver.implements("trigger_crash_dump"):
            raise errors.BadRequest("Triggering crash dump is not supported")
        svc.servers.check_lock(req.ctx, inst)
        if inst.vm_state in CRASH_DUMP_FROM and inst.task_state is None and \
                inst.power_state != states.RUNNING:
            raise errors.Conflict(f"Instance {inst.uuid} is not ready")
        begin(svc, req.ctx, inst, "trigger_crash_dump", CRASH_DUMP_FROM, None)
        from pocketstack.compute.tasks import driver_view

        svc.tasks.submit(svc.driver.trigger_crash_dump, inst.host, driver_view(inst))

    return {"shelve": simple("os-shelve:shelve", svc.shelving.shelve),
            "shelveOffload": simple("os-shelve:shelve_offload", svc.shelving.offload),
            "unshelve": unshelve, "rescue": rescue, "unrescue": unrescue,
            "restore": simple("os-deferred-delete:restore", svc.soft_deletes.restore),
            "forceDelete": simple("os-deferred-delete:force", svc.soft_deletes.force_delete),
            "changePassword": change_password,
            "trigger_crash_dump": trigger_crash_dump}
