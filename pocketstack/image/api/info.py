"""/v2/info: import methods, stores and usage (Glance's discovery API)."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.image.changes import ImageChanges
from pocketstack.image.store import CHUNK
from pocketstack.image.stores import Stores


class Info:
    def __init__(self, changes: ImageChanges, store: Stores, conf: Any) -> None:
        self.changes = changes
        self.store = store
        self.conf = conf

    @route("GET", "/v2/info/import")
    def import_methods(self, req: Request) -> dict[str, Any]:
        return {"import-methods": {"description": "Import methods available.",
                                   "type": "array",
                                   "value": self.conf.get("image", "enabled_import_methods")}}

    @route("GET", "/v2/info/stores", policy="image:get_stores")
    def stores(self, req: Request) -> dict[str, Any]:
        return {"stores": [{"id": store_id, "description": store.description,
                            **({"default": True} if default else {})}
                           for store_id, store, default in self.store.describe()]}

    @route("GET", "/v2/info/stores/detail", policy="image:get_stores_detail")
    def stores_detail(self, req: Request) -> dict[str, Any]:
        return {"stores": [{"id": store_id, "description": store.description,
                            **({"default": True} if default else {}), "type": "file",
                            "properties": {"data_dir": store.root, "chunk_size": CHUNK,
                                           "thin_provisioning": False}}
                           for store_id, store, default in self.store.describe()]}

    @route("GET", "/v2/info/usage", policy="image:get_usage")
    def usage(self, req: Request) -> dict[str, Any]:
        return self.changes.usage(req.ctx)
