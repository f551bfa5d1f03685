"""Volume type encryption specs (``/types/{id}/encryption``).

The specs are stored and shown as Cinder does; the file back end has no key
manager, so creating a volume of an encrypted type is refused (400), as Cinder
refuses it when no key manager is configured.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.api.volumes import body_of
from pocketstack.volume.common import vroute
from pocketstack.volume.models import Volume
from pocketstack.volume.types import Types

LOCATIONS = ("front-end", "back-end")


def _check(spec: dict[str, Any], creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("provider", "cipher", "control_location"):
        if key in spec:
            if spec[key] is not None and not isinstance(spec[key], str):
                raise errors.BadRequest(f"Invalid input for field/attribute {key}.")
            out[key] = spec[key]
    if "key_size" in spec:
        ks = spec["key_size"]
        if ks is not None and (isinstance(ks, bool) or not isinstance(ks, int) or ks < 0):
            raise errors.BadRequest("Invalid input received: key_size must be a non-negative "
                                    "integer.")
        out["key_size"] = ks
    if creating and not out.get("provider"):
        raise errors.BadRequest("Invalid input for field/attribute provider. Value: None.")
    if "control_location" in out and out["control_location"] not in LOCATIONS:
        raise errors.BadRequest("Invalid input received: Valid control location are: "
                                "['front-end', 'back-end']")
    return out


class EncryptionApi:
    def __init__(self, types: Types) -> None:
        self.db = types.db

    def _type(self, s: Any, type_id: str) -> Any:
        return Types.find(s, type_id)

    @staticmethod
    def _in_use(s: Any, type_id: str) -> None:
        if s.scalar(select(Volume.id).where(Volume.volume_type_id == type_id).limit(1)):
            raise errors.BadRequest(f"Volume type {type_id} is currently in use; its "
                                    "encryption can not be changed.")

    @vroute("GET", "/types/{type_id}/encryption", policy="volume:type:get")
    def get(self, req: Request, type_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return dict(self._type(s, type_id).encryption or {})

    @vroute("GET", "/types/{type_id}/encryption/{key}", policy="volume:type:get")
    def get_key(self, req: Request, type_id: str, key: str) -> dict[str, Any]:
        with self.db.read() as s:
            enc = self._type(s, type_id).encryption or {}
        if key not in enc:
            raise errors.NotFound(f"Volume type encryption for type {type_id} does not "
                                  "exist.")
        return {key: enc[key]}

    @vroute("POST", "/types/{type_id}/encryption", policy="volume:type:manage")
    def create(self, req: Request, type_id: str) -> dict[str, Any]:
        spec = _check(body_of(req, "encryption"), True)
        with self.db.write() as s:
            t = self._type(s, type_id)
            if t.encryption:
                raise errors.BadRequest(f"Volume type encryption for type {t.id} already "
                                        "exists.")
            self._in_use(s, t.id)
            now = common.iso(utcnow())
            t.encryption = {"volume_type_id": t.id, "encryption_id": new_uuid(),
                            "provider": spec["provider"], "cipher": spec.get("cipher"),
                            "key_size": spec.get("key_size"),
                            "control_location": spec.get("control_location", "front-end"),
                            "created_at": now, "updated_at": None, "deleted": False,
                            "deleted_at": None}
            return {"encryption": {k: v for k, v in t.encryption.items()
                                   if k not in ("deleted", "deleted_at", "updated_at",
                                                "created_at")}}

    @vroute("PUT", "/types/{type_id}/encryption/{encryption_id}", policy="volume:type:manage")
    def update(self, req: Request, type_id: str, encryption_id: str) -> dict[str, Any]:
        spec = _check(body_of(req, "encryption"), False)
        with self.db.write() as s:
            t = self._type(s, type_id)
            if not t.encryption or t.encryption.get("encryption_id") != encryption_id:
                raise errors.NotFound(f"Volume type encryption for type {type_id} does not "
                                      "exist.")
            self._in_use(s, t.id)
            t.encryption = {**t.encryption, **spec, "updated_at": common.iso(utcnow())}
        return {"encryption": spec}

    @vroute("DELETE", "/types/{type_id}/encryption/{encryption_id}", status=202,
            policy="volume:type:manage")
    def delete(self, req: Request, type_id: str, encryption_id: str) -> None:
        with self.db.write() as s:
            t = self._type(s, type_id)
            if not t.encryption or t.encryption.get("encryption_id") != encryption_id:
                raise errors.NotFound(f"Volume type encryption for type {type_id} does not "
                                      "exist.")
            self._in_use(s, t.id)
            t.encryption = None
