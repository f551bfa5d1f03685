"""DevStack's default topology, created once at first start (idempotent).

``public`` (external, the default one, admin) with ``public-subnet`` 172.24.4.0/24; the shared
default subnet pool ``shared-default-subnetpool-v4`` (10.0.0.0/22, /26 by
default); ``private`` with ``private-subnet`` 10.0.0.0/26 from that pool, and
``router1`` with its gateway on ``public`` and an interface on ``private-subnet``,
both of project ``demo``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from pocketstack.api.context import RequestContext
from pocketstack.network.models import Network

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud
    from pocketstack.network.manager import Networking

LOG = logging.getLogger(__name__)


def _ctx(project_id: str) -> RequestContext:
    return RequestContext(user_id="pocketstack", project_id=project_id,
                          roles=["admin", "member", "reader"])


def default_topology(cloud: "Cloud", net: "Networking") -> None:
    with net.db.read() as s:
        if s.scalar(select(Network.id).where(Network.name == "public")):
            return
    admin = cloud.identity.resources.find_project("admin", "default")
    demo = cloud.identity.resources.find_project("demo", "default")
    if admin is None or demo is None:
        LOG.warning("projects admin/demo not found: no default network topology")
        return
    a, d = _ctx(admin["id"]), _ctx(demo["id"])
    public = net.networks.create(a, {"name": "public", "router:external": True,
                                     "shared": False, "provider:network_type": "flat",
                                     "provider:physical_network": "public",
                                     "provider:segmentation_id": None,
                                     "is_default": True})
    public_subnet = net.subnets.create(a, {
        "name": "public-subnet", "network_id": public["id"], "ip_version": 4,
        "cidr": "172.24.4.0/24", "gateway_ip": "172.24.4.1", "enable_dhcp": False,
        "allocation_pools": [{"start": "172.24.4.2", "end": "172.24.4.254"}]})
    net.subnets.create(a, {"name": "ipv6-public-subnet", "network_id": public["id"],
                           "ip_version": 6, "cidr": "2001:db8::/64", "gateway_ip": "2001:db8::2",
                           "enable_dhcp": False,
                           "allocation_pools": [{"start": "2001:db8::3",
                                                 "end": "2001:db8::ffff:ffff:ffff:ffff"}]})
    pool = net.subnetpools.create(a, {"name": "shared-default-subnetpool-v4",
                                      "prefixes": ["10.0.0.0/22"], "default_prefixlen": 26,
                                      "shared": True, "is_default": True})
    private = net.networks.create(d, {"name": "private"})
    private_subnet = net.subnets.create(d, {
        "name": "private-subnet", "network_id": private["id"], "ip_version": 4,
        "subnetpool_id": pool["id"], "cidr": "10.0.0.0/26"})
    router = net.routers.create(d, {"name": "router1", "external_gateway_info": {
        "network_id": public["id"]}})
    net.routers.add_interface(d, router["id"], {"subnet_id": private_subnet["id"]})
    LOG.info("created default networks public (%s) and private (%s), router1",
             public_subnet["cidr"], private_subnet["cidr"])
