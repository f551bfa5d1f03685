"""A server's networks: the seam between compute and the Network service.

Without a Network service only ``"none"`` and ``"auto"`` (and no networks at all
before 2.37) are accepted; ``auto`` then gives a server without addresses (logged),
and addresses are never invented.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)


def resolve_networks(cloud: "Cloud", ctx: "RequestContext", networks: Any) -> Any:
    """Validate the requested networks; return what the instance records."""
    if networks is None or networks == "none":
        return networks or "none"
    service = cloud.service("network")
    helper = getattr(service, "networks_for_compute", None) if service is not None else None
    if networks == "auto":
        if helper is None:
            LOG.warning("networks=auto requested but there is no Network service: the server "
                        "gets no addresses")
        return "auto"
    if helper is None:
        first = networks[0] if networks else {}
        what = first.get("uuid") or first.get("port") or first.get("fixed_ip") or "?"
        raise errors.BadRequest(f"Network {what} could not be found: there is no Network "
                                "service in this cloud; use networks 'none' or 'auto'.")
    return helper(ctx, networks)


def addresses(cloud: "Cloud", instance: Any) -> dict[str, Any]:
    service = cloud.service("network")
    helper = getattr(service, "addresses_for_instance", None) if service is not None else None
    return helper(instance.uuid) if helper is not None else {}
