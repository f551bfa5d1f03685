"""Vendor data: vendor_data.json from a static JSON file, vendor_data2.json from REST targets.

As Nova's StaticJSON and DynamicJSON providers: the static file is read once (a missing or
invalid file gives {} and a warning); each dynamic target ``name@url`` receives a POST
with the instance's facts and its JSON answer becomes ``vendor_data2.json[name]``. The
connect and read timeouts are honoured separately; a failing target is left out (or,
with ``vendordata_dynamic_failure_fatal``, fails the request).
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.parse
from typing import Any

from pocketstack.metadata.source import InstanceData

LOG = logging.getLogger(__name__)


class VendorDataError(Exception):
    pass


class VendorData:
    def __init__(self, conf: Any) -> None:
        providers = conf.get("api", "vendordata_providers") or []
        self.static: dict[str, Any] = {}
        if "StaticJSON" in providers:
            self.static = self._read(conf.get("api", "vendordata_jsonfile_path"))
        self.targets: list[tuple[str, str]] = []
        if "DynamicJSON" in providers:
            for spec in conf.get("api", "vendordata_dynamic_targets") or []:
                name, sep, url = spec.partition("@")
                if not sep or not name or not url.startswith(("http://", "https://")):
                    LOG.warning("vendordata_dynamic_targets entry %r is not name@http(s)://"
                                "url: ignored", spec)
                    continue
                self.targets.append((name, url))
        self.connect_timeout = conf.get("api", "vendordata_dynamic_connect_timeout")
        self.read_timeout = conf.get("api", "vendordata_dynamic_read_timeout")
        self.fatal = conf.get("api", "vendordata_dynamic_failure_fatal")

    @staticmethod
    def _read(path: str) -> dict[str, Any]:
        if not path:
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            LOG.warning("vendordata_jsonfile_path %s cannot be used: %s", path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def dynamic(self, data: InstanceData, user_data: bytes | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.targets:
            return out
        body = json.dumps({
            "project-id": data.project_id, "instance-id": data.uuid,
            "image-id": data.image_ref, "hostname": data.hostname,
            "user-data": user_data.decode("utf-8", "replace") if user_data else None,
            "metadata": data.metadata, "boot-roles": ""}).encode()
        for name, url in self.targets:
            try:
                out[name] = self._post(url, body)
            except Exception as exc:  # every failure of a target is the target's
                LOG.warning("dynamic vendordata target %s (%s) failed: %s", name, url, exc)
                if self.fatal:
                    raise VendorDataError(f"{name}: {exc}") from None
        return out

    def _post(self, url: str, body: bytes) -> Any:
        u = urllib.parse.urlsplit(url)
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname or "", u.port, timeout=self.connect_timeout)
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(self.read_timeout)
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/json", "Accept": "application/json"})
            resp = conn.getresponse()
            payload = resp.read(1 << 20)
            if resp.status not in (200, 201):
                raise VendorDataError(f"HTTP {resp.status}")
            return json.loads(payload)
        finally:
            conn.close()
