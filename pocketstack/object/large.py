"""Large objects: static (SLO, ``?multipart-manifest``) and dynamic (``X-Object-Manifest``).

An object's content is described as a list of pieces, (data file, offset, length),
which GET streams (and slices for Range requests) without copying.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pocketstack.api import errors
from pocketstack.object.common import Unprocessable, iso, listing_params

if TYPE_CHECKING:
    from pocketstack.object.files import Files
    from pocketstack.object.models import Object
    from pocketstack.object.store import Store

Piece = tuple[str, int, int]
MAX_SEGMENTS = 1000
MAX_MANIFEST = 8 * 1024 * 1024


def _segment_path(path: str) -> tuple[str, str]:
    container, _, name = unquote(path).lstrip("/").partition("/")
    if not container or not name:
        raise errors.BadRequest(f"Invalid segment path {path!r}")
    return container, name


def _range(spec: str, size: int) -> tuple[int, int]:
    try:
        a, _, b = spec.partition("-")
        if a == "":
            n = int(b)
            return max(size - n, 0), min(n, size)
        start = int(a)
        end = int(b) if b else size - 1
    except ValueError:
        raise errors.BadRequest(f"Invalid range {spec!r}") from None
    if start >= size or end < start:
        raise errors.BadRequest(f"Unsatisfiable range {spec!r}")
    return start, min(end, size - 1) - start + 1


def build_manifest(store: "Store", account: str, body: bytes) -> tuple[list[dict[str, Any]],
                                                                       int, str]:
    """Validate a ``multipart-manifest=put`` body; returns (stored manifest, size, etag)."""
    if len(body) > MAX_MANIFEST:
        raise errors.RequestEntityTooLarge("Manifest File > 8388608 bytes")
    try:
        entries = json.loads(body or b"null")
    except ValueError:
        raise errors.BadRequest("Manifest must be valid JSON.\n") from None
    if not isinstance(entries, list) or not entries:
        raise errors.BadRequest("Manifest must be a list.\n")
    if len(entries) > MAX_SEGMENTS:
        raise errors.BadRequest(f"Too many segments; max {MAX_SEGMENTS}.\n")
    problems: list[str] = []
    stored: list[dict[str, Any]] = []
    total, etags = 0, hashlib.md5(usedforsecurity=False)
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            raise errors.BadRequest(f"Index {i}: \"path\" must be a string.\n")
        container, name = _segment_path(e["path"])
        c = store.container(account, container)
        obj = store.get_object(c, name) if c else None
        if obj is None:
            problems.append(f"{e['path']}, 404 Not Found")
            continue
        etag, size = e.get("etag"), e.get("size_bytes")
        obj_etag = obj.etag.strip('"')
        if etag not in (None, "") and etag.strip('"') != obj_etag:
            problems.append(f"{e['path']}, Etag Mismatch")
        if size not in (None, "") and str(size) != str(obj.size):
            problems.append(f"{e['path']}, Size Mismatch")
        item = {"name": "/" + container + "/" + name, "hash": obj_etag, "bytes": obj.size,
                "content_type": obj.content_type, "last_modified": iso(float(obj.timestamp))}
        length = obj.size
        if e.get("range"):
            try:
                start, length = _range(str(e["range"]), obj.size)
            except errors.BadRequest as exc:
                problems.append(f"{e['path']}, {exc.message}")
                continue
            item["range"] = f"{start}-{start + length - 1}"
        if obj.slo:
            item["sub_slo"] = True
        total += length
        etags.update((obj_etag + (f":{item['range']};" if "range" in item else "")).encode())
        stored.append(item)
    if problems:
        raise Unprocessable("Errors:\n" + "\n".join(problems))
    return stored, total, etags.hexdigest()


def slo_pieces(store: "Store", files: "Files", account: str, obj: "Object",
               depth: int = 0) -> list[Piece]:
    if depth > 10:
        raise errors.Conflict("Max recursion depth exceeded on SLO manifest")
    manifest = json.loads(files.read_all(obj.path))
    pieces: list[Piece] = []
    for item in manifest:
        container, name = _segment_path(item["name"])
        c = store.container(account, container)
        seg = store.get_object(c, name) if c else None
        if seg is None:
            raise errors.Conflict(f"Segment {item['name']} is missing")
        sub = slo_pieces(store, files, account, seg, depth + 1) if seg.slo else \
            [(seg.path, 0, seg.size)]
        if "range" in item:
            start, length = _range(item["range"], seg.size)
            sub = slice_pieces(sub, start, length)
        pieces.extend(sub)
    return pieces


def dlo_pieces(store: "Store", account: str, manifest: str) -> tuple[list[Piece], str]:
    container, _, prefix = unquote(manifest).lstrip("/").partition("/")
    c = store.container(account, container)
    if c is None:
        return [], hashlib.md5(b"", usedforsecurity=False).hexdigest()
    params = listing_params({"prefix": prefix})
    rows = store.list_objects(c, params, light=True)
    etags = hashlib.md5(usedforsecurity=False)
    pieces: list[Piece] = []
    for row in rows:
        etags.update(row.etag.strip('"').encode())
        pieces.append((row.path, 0, row.size))
    return pieces, etags.hexdigest()


def slice_pieces(pieces: list[Piece], start: int, length: int) -> list[Piece]:
    out: list[Piece] = []
    pos = 0
    end = start + length
    for path, off, size in pieces:
        lo, hi = max(start, pos), min(end, pos + size)
        if lo < hi:
            out.append((path, off + lo - pos, hi - lo))
        pos += size
        if pos >= end:
            break
    return out


def manifest_listing(files: "Files", obj: "Object", raw: bool) -> list[dict[str, Any]]:
    manifest = json.loads(files.read_all(obj.path))
    if not raw:
        return manifest
    out = []
    for item in manifest:
        entry = {"path": item["name"], "etag": item["hash"], "size_bytes": item["bytes"]}
        if "range" in item:
            entry["range"] = item["range"]
        out.append(entry)
    return out
