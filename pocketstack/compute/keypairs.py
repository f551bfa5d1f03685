"""Key pairs: SSH public keys (imported or generated here) and x509 certificates."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import func, select

from pocketstack.api import errors
from pocketstack.compute.models import KeyPair
from pocketstack.db import Database


def _ssh_fingerprint(public_key: str) -> str:
    parts = public_key.strip().split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint")
    try:
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key

        load_ssh_public_key(" ".join(parts[:2]).encode())
        blob = base64.b64decode(parts[1].encode(), validate=True)
    except Exception:
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") \
            from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _x509_fingerprint(pem: str) -> str:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        cert = x509.load_pem_x509_certificate(pem.encode())
        digest = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 (Nova's fingerprint)
    except Exception:
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") \
            from None
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate() -> tuple[str, str]:
    """A new RSA key: (OpenSSH public key, PEM private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return public + " Generated-by-Nova", private


def generate_x509(user_id: str) -> tuple[str, str]:
    """A new self-signed certificate for the user: (PEM certificate, PEM private key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pocketstack"),
                      x509.NameAttribute(NameOID.COMMON_NAME, user_id or "user")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), private


class KeyPairs:
    def __init__(self, db: Database, limit: int) -> None:
        self.db = db
        self.limit = limit

    def count(self, user_id: str) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count(KeyPair.id)).where(KeyPair.user_id == user_id)) or 0

    def create(self, user_id: str, name: str, key_type: str, public_key: str | None
               ) -> tuple[KeyPair, str | None]:
        private = None
        if public_key is None:
            public_key, private = generate_x509(user_id) if key_type == "x509" else generate()
        fingerprint = _x509_fingerprint(public_key) if key_type == "x509" else \
            _ssh_fingerprint(public_key)
        with self.db.write() as s:
            used = s.scalar(select(func.count(KeyPair.id)).where(KeyPair.user_id == user_id))
            if self.limit >= 0 and (used or 0) + 1 > self.limit:
                raise errors.OverQuota("Quota exceeded, too many key pairs.")
            if s.scalar(select(KeyPair.id).where(KeyPair.user_id == user_id,
                                                 KeyPair.name == name)):
                raise errors.Conflict(f"Key pair '{name}' already exists.")
            kp = KeyPair(user_id=user_id, name=name, type=key_type, public_key=public_key,
                         fingerprint=fingerprint)
            s.add(kp)
        return kp, private

    def list(self, user_id: str, limit: int | None = None, marker: str | None = None
             ) -> list[KeyPair]:
        with self.db.read() as s:
            q = select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
            if marker is not None:
                if not s.scalar(select(KeyPair.id).where(KeyPair.user_id == user_id,
                                                         KeyPair.name == marker)):
                    raise errors.BadRequest(f"Marker {marker} could not be found.")
                q = q.where(KeyPair.name > marker)
            if limit is not None:
                q = q.limit(limit)
            return list(s.scalars(q))

    def get(self, user_id: str, name: str) -> KeyPair:
        with self.db.read() as s:
            kp = s.scalar(select(KeyPair).where(KeyPair.user_id == user_id,
                                                KeyPair.name == name))
        if kp is None:
            raise errors.NotFound(f"Keypair {name} not found for user {user_id}")
        return kp

    def delete(self, user_id: str, name: str) -> None:
        with self.db.write() as s:
            kp = s.scalar(select(KeyPair).where(KeyPair.user_id == user_id,
                                                KeyPair.name == name))
            if kp is None:
                raise errors.NotFound(f"Keypair {name} not found for user {user_id}")
            s.delete(kp)

    @staticmethod
    def view(kp: KeyPair, with_type: bool) -> dict[str, Any]:
        out = {"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint}
        if with_type:
            out["type"] = kp.type
        return out
