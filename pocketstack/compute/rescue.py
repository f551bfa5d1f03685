"""Rescue / unrescue (Nova's os-rescue).

rescue boots the server from a rescue image (``rescue_image_ref``, else its own image)
with its own disk attached; it is then RESCUE (vm_state ``rescued``). unrescue boots it
from its own disk again: ACTIVE. The rescue password is given to the driver in the
instance view (``admin_pass``) and returned in the API response as Nova does. A driver
that cannot rescue gives Nova's 400 (InstanceNotRescuable) before anything changes; a
driver failure during the rescue puts the server in ERROR with a fault, as Nova.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.images import lookup_image
from pocketstack.compute.models import Instance
from pocketstack.compute.transitions import begin, run, sysmeta

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

RESCUE_FROM = (states.ACTIVE, states.STOPPED, states.ERROR)


def not_rescuable(uuid: str, reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Instance {uuid} cannot be rescued: {reason}")


class Rescues:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def rescue(self, ctx: RequestContext, inst: Instance, password: str | None,
               image_ref: str | None, allow_bfv: bool = False) -> str:
        """Start the rescue; returns the admin password the rescued guest gets.

        A volume-backed server can be rescued from 2.87 on (``allow_bfv``) when the rescue
        image (else the image its volume came from) asks for a stable rescue device
        (``hw_rescue_bus`` and ``hw_rescue_device``) and the driver can do it (Nova's
        ``COMPUTE_RESCUE_BFV`` capability)."""
        svc = self.svc
        if not svc.driver.implements("rescue"):
            raise not_rescuable(inst.uuid, "Driver does not support rescue.")
        image = None
        if image_ref:
            image = lookup_image(svc.cloud, ctx, image_ref)
        if svc.volumes.volume_backed(inst):
            meta = image if image is not None else self._volume_image(ctx, inst)
            props = {**(meta or {}), **((meta or {}).get("properties") or {})}
            if not (allow_bfv and "hw_rescue_bus" in props and "hw_rescue_device" in props):
                raise not_rescuable(inst.uuid, "Cannot rescue a volume-backed instance")
            if not svc.driver.capability("supports_bfv_rescue"):
                raise not_rescuable(inst.uuid, "Host unable to rescue a volume-backed "
                                    "instance")
        password = password or secrets.token_urlsafe(9)
        begin(svc, ctx, inst, "rescue", RESCUE_FROM, states.RESCUING)
        svc.tasks.submit(self._rescue, inst.uuid, image, password, ctx.request_id)
        return password

    def _volume_image(self, ctx: RequestContext, inst: Instance) -> dict[str, Any] | None:
        """The image the server's root volume was made from (its image metadata)."""
        root = next((b for b in self.svc.volumes.attachments(inst.uuid)
                     if b.boot_index == 0 and b.image_id), None)
        if root is None:
            return None
        try:
            return lookup_image(self.svc.cloud, ctx, root.image_id)
        except errors.BadRequest:
            return None

    def unrescue(self, ctx: RequestContext, inst: Instance) -> None:
        begin(self.svc, ctx, inst, "unrescue", [states.RESCUED], states.UNRESCUING)
        self.svc.tasks.submit(self._unrescue, inst.uuid, ctx.request_id)

    def _rescue(self, uuid: str, image: dict[str, Any] | None, password: str,
                request_id: str) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            view = {**driver_view(inst), "admin_pass": password}
            svc.driver.rescue(inst.host, view, image)
            return {"vm_state": states.RESCUED, "power_state": states.RUNNING,
                    "system_metadata": sysmeta(inst, old_vm_state=inst.vm_state,
                                               rescue_image=(image or {}).get("id"))}

        run(svc, uuid, request_id, "compute_rescue_instance", work,
            lambda inst, exc: {"vm_state": states.ERROR})

    def _unrescue(self, uuid: str, request_id: str) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            svc.driver.unrescue(inst.host, driver_view(inst))
            return {"vm_state": states.ACTIVE, "power_state": states.RUNNING,
                    "system_metadata": sysmeta(inst, old_vm_state=None, rescue_image=None)}

        run(svc, uuid, request_id, "compute_unrescue_instance", work,
            lambda inst, exc: {"vm_state": states.RESCUED})
