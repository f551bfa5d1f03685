"""Swift's conventions: timestamps, metadata headers, listing formats, error bodies."""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import time
from typing import Any, Iterable, Mapping
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from starlette.responses import Response

from pocketstack.api import errors

MAX_META_NAME = 128
MAX_META_VALUE = 256
MAX_META_COUNT = 90
MAX_META_OVERALL = 4096
MAX_OBJECT_NAME = 1024
MAX_CONTAINER_NAME = 256
MAX_FILE_SIZE = 5 * 1024 ** 3 + 2
LISTING_LIMIT = 10000
# the Content-Type of Swift's bodiless replies: HEAD listings, and POST/DELETE
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=UTF-8"

# Object headers Swift stores with the object and returns on GET/HEAD.
STORED_OBJECT_HEADERS = ("content-disposition", "content-encoding", "content-language",
                         "cache-control", "expires", "x-object-manifest",
                         "x-static-large-object")

# Swift's explanations of its default error bodies.
EXPLANATIONS = {
    400: "Bad Request", 401: "This server could not verify that you are authorized to "
    "access the document you requested.", 403: "Access was denied to this resource.",
    404: "The resource could not be found.", 405: "The method is not allowed for this "
    "resource.", 409: "There was a conflict when trying to complete your request.",
    411: "Length Required", 412: "A precondition for this request was not met.",
    413: "The body of your request was too large for this server.",
    416: "The Range requested is not available.",
    422: "Unable to process the contained instructions",
    500: "The server has either erred or is incapable of performing the requested operation.",
    501: "The server has either erred or is incapable of performing the requested operation.",
}


class LengthRequired(errors.ApiError):
    code = 411
    title = "Length Required"
    default_message = "Length Required"


class Unprocessable(errors.ApiError):
    code = 422
    title = "Unprocessable Entity"
    default_message = EXPLANATIONS[422]


def render_error(exc: errors.ApiError) -> Response:
    """Swift's error bodies: its HTML page for standard errors, plain text otherwise."""
    code = exc.code
    headers = {k: v for k, v in exc.headers.items()
               if k.lower() not in ("content-length", "content-type")}
    standard = exc.message in (type(exc).default_message, EXPLANATIONS.get(code),
                               "The resource could not be found.")
    if standard or code >= 500:
        body = f"<html><h1>{exc.title}</h1><p>{EXPLANATIONS.get(code, exc.title)}</p></html>"
        return Response(body, status_code=code, headers=headers,
                        media_type="text/html; charset=UTF-8")
    return Response(exc.message, status_code=code, headers=headers,
                    media_type="text/plain; charset=UTF-8")


# -- time ---------------------------------------------------------------------
def now_timestamp() -> str:
    return f"{time.time():016.5f}"


def http_date(ts: float) -> str:
    return email.utils.formatdate(math.ceil(ts), usegmt=True)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


# -- metadata -----------------------------------------------------------------
def meta_updates(headers: Mapping[str, str], kind: str, keep_empty: bool = False
                 ) -> tuple[dict[str, str], list[str]]:
    """(metadata to set, metadata names to remove) from ``X-<Kind>-Meta-*`` headers.

    Names are title-cased as Swift does; an empty value or ``X-Remove-<Kind>-Meta-*``
    removes the item, except with ``keep_empty`` (objects: there Swift stores empty
    values, on PUT, POST and copy alike).
    """
    prefix, remove = f"x-{kind}-meta-", f"x-remove-{kind}-meta-"
    sets: dict[str, str] = {}
    removes: list[str] = []
    for key, value in headers.items():
        k = key.lower()
        if k.startswith(prefix) and len(k) > len(prefix):
            name = key[len(prefix):].title()
            if value == "" and not keep_empty:
                removes.append(name)
            else:
                sets[name] = value
        elif k.startswith(remove) and len(k) > len(remove):
            removes.append(key[len(remove):].title())
    for name, value in sets.items():
        if len(name) > MAX_META_NAME:
            raise errors.BadRequest(f"Metadata name too long; max {MAX_META_NAME}")
        if len(value) > MAX_META_VALUE:
            raise errors.BadRequest(
                f"Metadata value longer than {MAX_META_VALUE}: {name}")
    return sets, removes


def check_meta_totals(meta: Mapping[str, str]) -> None:
    if len(meta) > MAX_META_COUNT:
        raise errors.BadRequest(f"Too many metadata items; max {MAX_META_COUNT}")
    if sum(len(k) + len(v) for k, v in meta.items()) > MAX_META_OVERALL:
        raise errors.BadRequest(f"Total metadata too large; max {MAX_META_OVERALL}")


def merge_meta(meta: Mapping[str, str], sets: Mapping[str, str],
               removes: Iterable[str]) -> dict[str, str]:
    out = {k: v for k, v in meta.items() if k.lower() not in {r.lower() for r in removes}}
    lowered = {k.lower(): k for k in out}
    for k, v in sets.items():
        out.pop(lowered.get(k.lower(), k), None)
        out[k] = v
    check_meta_totals(out)
    return out


def meta_headers(meta: Mapping[str, str], kind: str) -> dict[str, str]:
    return {f"X-{kind.title()}-Meta-{k}": v for k, v in meta.items()}


def meta_get(meta: Mapping[str, str], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in meta.items() if k.lower() == name), None)


# -- names and listings -----------------------------------------------------------
def check_container_name(name: str) -> None:
    if len(name.encode()) > MAX_CONTAINER_NAME:
        raise errors.BadRequest(
            f"Container name length of {len(name)} longer than {MAX_CONTAINER_NAME}")
    if "\x00" in name:
        raise errors.BadRequest("Invalid UTF8 or contains NULL")


def check_object_name(name: str) -> None:
    if len(name.encode()) > MAX_OBJECT_NAME:
        raise errors.BadRequest(f"Object name length of {len(name)} longer than "
                                f"{MAX_OBJECT_NAME}")
    if "\x00" in name:
        raise errors.BadRequest("Invalid UTF8 or contains NULL")


def listing_params(query: Mapping[str, str]) -> dict[str, Any]:
    try:
        limit = int(query.get("limit", LISTING_LIMIT))
    except ValueError:
        raise errors.BadRequest("Value of limit must be a positive integer") from None
    if limit < 0:
        raise errors.BadRequest("Value of limit must be a positive integer")
    if limit > LISTING_LIMIT:
        raise errors.PreconditionFailed(f"Maximum limit is {LISTING_LIMIT}")
    delimiter = query.get("delimiter") or None
    if delimiter is not None and len(delimiter) > 1:
        raise errors.PreconditionFailed("Bad delimiter")
    return {"prefix": query.get("prefix", ""), "delimiter": delimiter,
            "marker": query.get("marker", ""), "end_marker": query.get("end_marker", ""),
            "limit": limit,
            "reverse": query.get("reverse", "").lower() in ("1", "true", "yes", "on")}


def listing_format(query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    fmt = (query.get("format") or "").lower()
    if fmt in ("json", "xml", "plain"):
        return fmt
    if fmt:
        return "plain"
    accept = headers.get("accept", "").lower()
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "plain"


def render_listing(fmt: str, kind: str, name: str, items: list[dict[str, Any]],
                   headers: dict[str, str]) -> Response:
    """A listing in the asked format; ``kind`` is "account" or "container"."""
    import json

    if fmt == "json":
        return Response(json.dumps(items), status_code=200, headers=headers,
                        media_type="application/json; charset=utf-8")
    if fmt == "xml":
        child = "container" if kind == "account" else "object"
        parts = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{kind} name={quoteattr(name)}>"]
        for item in items:
            if "subdir" in item:
                parts.append(f"<subdir name={quoteattr(item['subdir'])}>"
                             f"<name>{escape(item['subdir'])}</name></subdir>")
                continue
            fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in item.items())
            parts.append(f"<{child}>{fields}</{child}>")
        parts.append(f"</{kind}>")
        return Response("\n".join(parts), status_code=200, headers=headers,
                        media_type="application/xml; charset=utf-8")
    if not items:
        return Response(status_code=204, headers=headers,
                        media_type="text/plain; charset=utf-8")
    text = "".join((i.get("subdir") or i["name"]) + "\n" for i in items)
    return Response(text, status_code=200, headers=headers,
                    media_type="text/plain; charset=utf-8")


def split_path(path: str) -> tuple[str, str]:
    """``/container/object`` or ``container/object`` → (container, object)."""
    path = unquote(path).lstrip("/")
    container, _, obj = path.partition("/")
    if not container or not obj:
        raise errors.PreconditionFailed(
            "Destination/X-Copy-From header must be of the form <container name>/<object name>")
    return container, obj


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "t", "y")
