"""The services pocketstack serves: each a module path and class name.

A service that is listed here is started, gets its port and its catalog entry;
one that is not is simply absent. Imported lazily so that ``pocketstack status``
and the manage commands stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketstack.api.service import Service

SERVICES: list[str] = [
    "pocketstack.identity.service:IdentityService",
    "pocketstack.compute.service:ComputeService",
    "pocketstack.placement.service:PlacementService",
    "pocketstack.image.service:ImageService",
    "pocketstack.network.service:NetworkService",
    "pocketstack.volume.service:VolumeService",
    "pocketstack.object.service:ObjectStoreService",
    "pocketstack.metadata.service:MetadataService",
    "pocketstack.consoles.proxy:NoVNCProxyService",
    "pocketstack.consoles.proxy:SerialProxyService",
]


def service_classes() -> list[type["Service"]]:
    classes = []
    for spec in SERVICES:
        module, _, name = spec.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes
