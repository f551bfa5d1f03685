"""Credentials (EC2 and others): blobs stored encrypted with the credential key."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import Database, new_id
from pocketstack.identity.common import conflict, not_found
from pocketstack.identity.fernet import KeyRepository
from pocketstack.identity.models import Credential


class Credentials:
    def __init__(self, db: Database, keys: KeyRepository) -> None:
        self.db = db
        self.keys = keys

    def _dict(self, c: Credential) -> dict[str, Any]:
        blob = self.keys.fernet().decrypt(c.encrypted_blob).decode()
        return {**(c.extra or {}), "id": c.id, "user_id": c.user_id,
                "project_id": c.project_id, "type": c.type, "blob": blob}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        blob = body["blob"]
        cred_id = body.get("id")
        if body["type"] == "ec2":
            try:
                access = json.loads(blob)["access"]
            except (ValueError, KeyError, TypeError):
                raise errors.BadRequest("Invalid blob in credential: an ec2 credential needs a "
                                        "JSON blob with 'access'.") from None
            if not body.get("project_id"):
                raise errors.BadRequest("Credential of type ec2 needs a project_id.")
            # Keystone's convention: the id of an EC2 credential is sha256 of the access key
            cred_id = hashlib.sha256(access.encode()).hexdigest()
        extra = {k: v for k, v in body.items()
                 if k not in ("id", "user_id", "project_id", "type", "blob", "links")}
        with self.db.write() as s:
            cred_id = cred_id or new_id()
            if s.get(Credential, cred_id) is not None:
                raise conflict("credential", "id", cred_id)
            c = Credential(id=cred_id, user_id=body["user_id"], project_id=body.get("project_id"),
                           type=body["type"],
                           encrypted_blob=self.keys.fernet().encrypt(blob.encode()), extra=extra)
            s.add(c)
            s.flush()
            return self._dict(c)

    def get(self, cred_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            c = s.get(Credential, cred_id)
            if c is None:
                raise not_found("credential", cred_id)
            return self._dict(c)

    def list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(Credential)
        for field in ("user_id", "type", "project_id"):
            if field in filters:
                q = q.where(getattr(Credential, field) == filters[field])
        with self.db.read() as s:
            return [self._dict(c) for c in s.scalars(q)]

    def update(self, cred_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as s:
            c = s.get(Credential, cred_id)
            if c is None:
                raise not_found("credential", cred_id)
            for field in ("user_id", "project_id", "type"):
                if field in body:
                    setattr(c, field, body[field])
            if "blob" in body:
                c.encrypted_blob = self.keys.fernet().encrypt(body["blob"].encode())
            s.flush()
            return self._dict(c)

    def delete(self, cred_id: str) -> None:
        with self.db.write() as s:
            c = s.get(Credential, cred_id)
            if c is None:
                raise not_found("credential", cred_id)
            s.delete(c)

    # -- EC2 credentials (/v3/users/{id}/credentials/OS-EC2) ----------------------
    @staticmethod
    def _ec2_dict(cred: dict[str, Any]) -> dict[str, Any]:
        blob = json.loads(cred["blob"])
        return {"user_id": cred["user_id"], "tenant_id": cred["project_id"],
                "access": blob["access"], "secret": blob["secret"],
                "trust_id": blob.get("trust_id"), "app_cred_id": blob.get("app_cred_id")}

    def create_ec2(self, user_id: str, project_id: str) -> dict[str, Any]:
        blob = {"access": secrets.token_hex(16), "secret": secrets.token_hex(16),
                "trust_id": None}
        cred = self.create({"type": "ec2", "user_id": user_id, "project_id": project_id,
                            "blob": json.dumps(blob)})
        return self._ec2_dict(cred)

    def list_ec2(self, user_id: str) -> list[dict[str, Any]]:
        return [self._ec2_dict(c) for c in self.list({"user_id": user_id, "type": "ec2"})]

    def get_ec2(self, user_id: str, access: str) -> dict[str, Any]:
        cred_id = hashlib.sha256(access.encode()).hexdigest()
        try:
            cred = self.get(cred_id)
        except errors.NotFound:
            cred = None
        if cred is None or cred["type"] != "ec2" or cred["user_id"] != user_id:
            raise errors.NotFound(f"Could not find credential: {access}.")
        return self._ec2_dict(cred)

    def delete_ec2(self, user_id: str, access: str) -> None:
        self.get_ec2(user_id, access)
        self.delete(hashlib.sha256(access.encode()).hexdigest())
