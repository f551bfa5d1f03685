"""Access decisions: account operators, container ACLs and temporary URLs."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any, Mapping

from pocketstack.api import errors
from pocketstack.object.common import meta_get

if TYPE_CHECKING:
    from pocketstack.api.request import Request
    from pocketstack.object.models import Container

PREFIX = "AUTH_"
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}


def project_of(account: str) -> str:
    if not account.startswith(PREFIX) or len(account) == len(PREFIX):
        raise errors.NotFound()
    return account[len(PREFIX):]


def parse_acl(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def check_acl_syntax(value: str, write: bool) -> None:
    for item in parse_acl(value):
        if item.startswith("."):
            if write or not (item == ".rlistings" or item.startswith(".r:")):
                raise errors.BadRequest(f"Referrers not allowed in write ACL: {item!r}"
                                        if write else f"Unknown designator {item!r} in ACL")
            if item.startswith(".r:") and len(item) == 3:
                raise errors.BadRequest(f"No host/domain value after referrer designation "
                                        f"in ACL: {item!r}")


class Access:
    """The caller's rights on one account (and optionally one container)."""

    def __init__(self, req: "Request", account: str) -> None:
        self.req = req
        self.account = account
        self.project_id = project_of(account)
        ctx = req.ctx
        target = {"project_id": self.project_id}
        self.authenticated = ctx.is_authenticated
        self.operator = self.authenticated and req.authorized("object_store:operator", target)
        self.reader = self.operator or (self.authenticated and
                                        req.authorized("object_store:reader", target))
        self.tempurl = False

    def _deny(self) -> None:
        if not self.authenticated:
            raise errors.Unauthorized(headers=self.req.service._www_authenticate())
        raise errors.Forbidden()

    def _acl_grants(self, acl: str | None) -> bool:
        if not self.authenticated:
            return False
        ctx = self.req.ctx
        projects = {ctx.project_id, ctx.project_name, "*"}
        users = {ctx.user_id, ctx.user_name, "*"}
        for item in parse_acl(acl):
            if item.startswith("."):
                continue
            if ":" in item:
                project, _, user = item.partition(":")
                if project in projects and user in users:
                    return True
            elif item in ctx.roles:
                return True
        return False

    def require_account(self, write: bool) -> None:
        if not (self.operator if write else self.reader):
            self._deny()

    def require_container(self, container: "Container", write: bool,
                          listing: bool = False) -> bool:
        """Object-level access through the account or the container's ACLs."""
        if self.tempurl or (self.operator if write else self.reader):
            return True
        acl = container.sysmeta.get("write" if write else "read")
        if self._acl_grants(acl):
            return False
        if not write:
            items = parse_acl(acl)
            referrer = any(i in (".r:*",) for i in items)
            if referrer and (not listing or ".rlistings" in items):
                return False
        self._deny()
        return False


# -- temporary URLs -------------------------------------------------------------
def _expires(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise errors.Unauthorized("Invalid temp_url_expires: integer or ISO 8601 "
                                  "(YYYY-MM-DDThh:mm:ssZ) expected") from None
    return int(parsed.replace(tzinfo=dt.timezone.utc).timestamp())


def _signature(sig: str) -> tuple[str, bytes] | None:
    if ":" in sig:
        alg, _, b64 = sig.partition(":")
        if alg not in DIGESTS:
            return None
        try:
            return alg, base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (ValueError, TypeError):
            return None
    alg = HEX_LENGTHS.get(len(sig))
    if alg is None:
        return None
    try:
        return alg, bytes.fromhex(sig)
    except ValueError:
        return None


def tempurl_valid(query: Mapping[str, str], method: str, path: str,
                  keys: list[str]) -> bool:
    """Check temp_url_sig/temp_url_expires (and temp_url_prefix) against the keys."""
    sig, expires = query.get("temp_url_sig"), query.get("temp_url_expires")
    if not sig or not expires:
        return False
    when = _expires(expires)
    if when < time.time():
        return False
    parsed = _signature(sig)
    if parsed is None or not keys:
        return False
    alg, digest = parsed
    prefix = query.get("temp_url_prefix")
    if prefix is not None:
        container_path = path.split("/", 4)
        signed = "prefix:" + "/".join(container_path[:4]) + "/" + prefix
        if not path.startswith("/".join(container_path[:4]) + "/" + prefix):
            return False
    else:
        signed = path
    # as Swift: a HEAD may use a signature made for GET, HEAD or PUT
    methods = ("HEAD", "GET", "PUT") if method == "HEAD" else (method,)
    for key in keys:
        for m in methods:
            body = f"{m}\n{when}\n{signed}"
            mac = hmac.new(key.encode(), body.encode(), DIGESTS[alg]).digest()
            if hmac.compare_digest(mac, digest):
                return True
    return False


def signature_valid(sig: str, signed: str, keys: list[str]) -> bool:
    """An HMAC signature (hex, or ``<digest>:<base64>``) of ``signed`` by one of the keys."""
    parsed = _signature(sig)
    if parsed is None:
        return False
    alg, digest = parsed
    return any(hmac.compare_digest(hmac.new(k.encode(), signed.encode(), DIGESTS[alg])
                                   .digest(), digest) for k in keys)


def tempurl_keys(account_meta: dict[str, Any], container_meta: dict[str, Any]) -> list[str]:
    keys = []
    for meta in (account_meta, container_meta):
        for name in ("Temp-Url-Key", "Temp-Url-Key-2"):
            value = meta_get(meta, name)
            if value:
                keys.append(value)
    return keys
