"""``/info``, and accounts: ``/v1/AUTH_<project_id>`` (listing, HEAD, metadata, bulk delete)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.object.api.base import Resource
from pocketstack.object.api.extract import extract_archive
from pocketstack.object.common import (HTML, LISTING_LIMIT, TEXT, MAX_FILE_SIZE, MAX_META_COUNT,
                                       MAX_META_NAME, MAX_META_OVERALL, MAX_META_VALUE,
                                       MAX_CONTAINER_NAME, MAX_OBJECT_NAME, iso,
                                       listing_format, listing_params, merge_meta,
                                       meta_updates, render_listing)
from pocketstack.object.large import MAX_MANIFEST, MAX_SEGMENTS

MAX_BULK_DELETES = 10000


def capabilities() -> dict[str, Any]:
    return {
        "swift": {"version": "2.35.0", "max_file_size": MAX_FILE_SIZE,
                  "max_meta_name_length": MAX_META_NAME,
                  "max_meta_value_length": MAX_META_VALUE, "max_meta_count": MAX_META_COUNT,
                  "max_meta_overall_size": MAX_META_OVERALL, "max_header_size": 8192,
                  "max_object_name_length": MAX_OBJECT_NAME,
                  "max_container_name_length": MAX_CONTAINER_NAME,
                  "max_account_name_length": 256, "container_listing_limit": LISTING_LIMIT,
                  "account_listing_limit": LISTING_LIMIT, "extra_header_count": 0,
                  "account_autocreate": True, "allow_account_management": False,
                  "strict_cors_mode": True, "valid_api_versions": ["v1", "v1.0"],
                  "policies": [{"name": "Policy-0", "default": True}]},
        "slo": {"max_manifest_segments": MAX_SEGMENTS, "max_manifest_size": MAX_MANIFEST,
                "min_segment_size": 1, "yield_frequency": 10,
                "allow_async_delete": False},
        "dlo": {"max_get_time": 86400},
        "tempurl": {"methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
                    "incoming_remove_headers": ["x-timestamp"],
                    "incoming_allow_headers": [],
                    "outgoing_remove_headers": ["x-object-meta-*"],
                    "outgoing_allow_headers": ["x-object-meta-public-*"],
                    "allowed_digests": ["sha1", "sha256", "sha512"]},
        "bulk_delete": {"max_deletes_per_request": MAX_BULK_DELETES,
                        "max_failed_deletes": 1000},
        "bulk_upload": {"max_containers_per_extraction": 10000,
                        "max_failed_extractions": 1000},
        "container_quotas": {},
        "staticweb": {},
        "formpost": {},
        "crossdomain": {"cross_domain_policy": '<allow-access-from domain="*" '
                        'secure="false" />'},
        "account_quotas": {},
        "versioned_writes": {"allowed_flags": ["x-versions-location",
                                               "x-history-location"]},
    }


class Info:
    @route("GET", "/info", auth=False)
    def info(self, req: Request) -> Response:
        return Response(json.dumps(capabilities()), media_type="application/json; "
                        "charset=utf-8")


CROSSDOMAIN = """<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >
<cross-domain-policy>
<allow-access-from domain="*" secure="false" />
</cross-domain-policy>"""


class CrossDomain:
    @route("GET", "/crossdomain.xml", auth=False)
    def policy(self, req: Request) -> Response:
        return Response(CROSSDOMAIN, media_type="application/xml; charset=utf-8")


class Accounts(Resource):
    objects: Any = None  # the object resource (Upload), for extract-archive

    @route("GET", "/v1/{account}", auth=False)
    def get(self, req: Request, account: str) -> Response:
        access = self.access(req, account)
        access.require_account(write=False)
        info = self.store.account(account)
        headers = self.account_headers(info)
        if req.method == "HEAD":
            return Response(status_code=204, headers=headers, media_type=TEXT)
        params = listing_params(req.query)
        fmt = listing_format(req.query, req.headers)
        rows = self.store.list_containers(account, params)
        items = [r if isinstance(r, dict) else
                 {"name": r.name, "count": r.object_count, "bytes": r.bytes_used,
                  "last_modified": iso(r.updated_at.timestamp())} for r in rows]
        return render_listing(fmt, "account", account, items, headers)

    @route("POST", "/v1/{account}", auth=False)
    def post(self, req: Request, account: str) -> Response:
        if "bulk-delete" in req.query:
            return self.bulk_delete(req, account)
        access = self.access(req, account)
        access.require_account(write=True)
        sets, removes = meta_updates(req.headers, "account")
        quotas = [k for k in [*sets, *removes] if k.lower() == "quota-bytes"]
        # the newer quota headers (Swift 2.34): X-Account-Quota-Bytes / -Count
        sysmeta: dict[str, str | None] = {}
        for kind in ("bytes", "count"):
            if f"x-remove-account-quota-{kind}" in req.headers:
                sysmeta[f"quota-{kind}"] = None
            elif f"x-account-quota-{kind}" in req.headers:
                value = req.headers[f"x-account-quota-{kind}"].strip()
                if value and not value.isdigit():
                    raise errors.BadRequest(f"Invalid {kind} quota.")
                sysmeta[f"quota-{kind}"] = value or None
        if (quotas or sysmeta) and not req.authorized("object_store:reseller_admin"):
            raise errors.Forbidden()
        if sets.get("Quota-Bytes") is not None and not sets["Quota-Bytes"].isdigit():
            raise errors.BadRequest("Invalid bytes quota.")
        self.store.update_account(account, lambda m: merge_meta(m, sets, removes), sysmeta)
        return Response(status_code=204, media_type=HTML)

    @route("PUT", "/v1/{account}", auth=False)
    def put(self, req: Request, account: str) -> Response:
        if "extract-archive" in req.query and self.objects is not None:
            return extract_archive(self.objects, req, account)
        raise errors.MethodNotAllowed()

    @route("DELETE", "/v1/{account}", auth=False)
    def delete(self, req: Request, account: str) -> Response:
        if "bulk-delete" in req.query:
            return self.bulk_delete(req, account)
        raise errors.MethodNotAllowed()

    def bulk_delete(self, req: Request, account: str) -> Response:
        access = self.access(req, account)
        access.require_account(write=True)
        lines = [unquote(line.strip()) for line in req.body.decode("utf-8", "replace")
                 .splitlines() if line.strip()]
        if len(lines) > MAX_BULK_DELETES:
            raise errors.RequestEntityTooLarge(
                f"Maximum Bulk Deletes: {MAX_BULK_DELETES} per request")
        deleted, not_found, failures = 0, 0, []
        # objects before their containers, as clients list them
        for line in lines:
            container, _, name = line.lstrip("/").partition("/")
            try:
                if name:
                    self.files.remove(self.store.delete_object(account, container, name))
                else:
                    self.store.delete_container(account, container)
                deleted += 1
            except errors.NotFound:
                not_found += 1
            except errors.ApiError as exc:
                failures.append([line, f"{exc.code} {exc.title}"])
        status = "400 Bad Request" if failures else "200 OK"
        result = {"Number Deleted": deleted, "Number Not Found": not_found,
                  "Response Status": status, "Response Body": "", "Errors": failures}
        if "json" in req.headers.get("accept", ""):
            return Response(json.dumps(result), media_type="application/json")
        text = "".join(f"{k}: {v}\n" for k, v in result.items() if k != "Errors")
        text += "Errors:\n" + "".join(f"{p}, {s}\n" for p, s in failures)
        return Response(text, media_type="text/plain")
