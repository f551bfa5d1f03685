"""Doctor check of the compute image cache (``_base``): the Ops Guide's disappearing images.

A cache entry whose image is gone from Glance (deleted, or its data lost) while servers
still use it is the only copy of those servers' image: rebuilds, resizes and new servers
on other hosts need it. It is WARN while the cache keeps it (the cache never removes an
entry any instance on any host uses), with the command that puts it back into Glance.
FAIL when a server on a host that boots from the cache uses an image that has neither
data in Glance nor a cache entry any more: the image has disappeared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select

from pocketstack.ops.doctor import FAIL, OK, WARN, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

NAME = "image cache"


def _glance_has(cloud: "Cloud", cache, image_ids: Iterable[str]) -> set[str]:
    from pocketstack.image.models import Image

    ids = list(image_ids)
    with cloud.db.read() as s:
        live = set(s.scalars(select(Image.id).where(
            Image.id.in_(ids), Image.status.in_(("active", "deactivated")))))
    return {i for i in live if cache.store_path(i) is not None}


def _cache_hosts(cloud: "Cloud") -> set[str]:
    """Hosts whose driver boots from the image cache (the container driver's)."""
    from pocketstack.compute.models import ComputeNode

    with cloud.db.read() as s:
        return set(s.scalars(select(ComputeNode.host)
                             .where(ComputeNode.hypervisor_type == "container")))


@check(NAME)
def image_cache(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.imagecache import ImageCache

    cache = ImageCache(cloud)
    entries = {e.image_id: e for e in cache.entries()}
    users = cache.users()
    in_glance = _glance_has(cloud, cache, set(entries) | set(users))
    bad = False
    for image_id, entry in sorted(entries.items()):
        servers = users.get(image_id, [])
        if image_id in in_glance or not servers:
            continue
        bad = True
        uuids = ", ".join(u for u, _ in servers[:5]) + (" ..." if len(servers) > 5 else "")
        yield Finding(NAME, WARN,
                      f"cache entry {entry.path} is the only copy of image {image_id} (gone "
                      f"from Glance) and {len(servers)} servers use it ({uuids}); it is kept "
                      "while they exist" + (", and cleanup is enabled: do not remove it by "
                                            "hand" if cache.cleanup_enabled() else "")
                      + "; put it back into Glance",
                      f"openstack image create --disk-format raw --container-format bare "
                      f"--file {entry.path} restored-{image_id}")
    cache_hosts = _cache_hosts(cloud)
    for image_id, servers in sorted(users.items()):
        lost = [u for u, host in servers if host in cache_hosts]
        if lost and image_id not in entries and image_id not in in_glance:
            bad = True
            yield Finding(NAME, FAIL,
                          f"image {image_id} has disappeared: no data in Glance and no cache "
                          f"entry, yet {len(lost)} servers on cache-booting hosts use it "
                          f"({', '.join(lost[:5])}); they cannot be rebuilt or moved",
                          f"openstack server rebuild --image IMAGE {lost[0]}")
    if not bad:
        referenced = sum(1 for i in entries if users.get(i))
        yield Finding(NAME, OK, f"{len(entries)} cached images ({referenced} in use), all "
                      "still in Glance or unused; cleanup "
                      + ("enabled (skips images any server uses)" if cache.cleanup_enabled()
                         else "off"))
