"""Glance 2.17's location API: ``POST /v2/images/{id}/locations`` adds the one location
of a queued image (what Nova and Cinder call when their backend already holds the data),
``GET`` lists the locations. Unlike the JSON-patch path this works whatever
``show_multiple_locations`` says.

The data at the URL (file:// or http(s)://) is read once in a background task that
computes md5 and the hash (``validation_data``'s algorithm, else ``hashing_algorithm``),
as Glance does with ``do_secure_hash``: on success the image becomes active with them,
on a mismatch or an unreadable URL the task fails and the image stays queued.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.parse
import urllib.request
from typing import Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.api.validation import validate
from pocketstack.db import utcnow
from pocketstack.image.models import Image
from pocketstack.image.store import CHUNK

LOG = logging.getLogger(__name__)

BODY = {"type": "object", "additionalProperties": False, "required": ["url"],
        "properties": {"url": {"type": "string", "minLength": 1, "maxLength": 2048},
                       "validation_data": {
                           "type": "object", "additionalProperties": False,
                           "properties": {"os_hash_algo": {"type": "string"},
                                          "os_hash_value": {"type": "string"}}}}}


def _checked_hash(data: dict[str, Any]) -> tuple[str, str] | None:
    """(algo, value) of validation_data, 400 when they cannot describe a real hash."""
    if not data:
        return None
    algo, value = data.get("os_hash_algo"), data.get("os_hash_value")
    if not algo or not value:
        raise errors.BadRequest("validation_data requires both os_hash_algo and "
                                "os_hash_value.")
    try:
        size = hashlib.new(algo).digest_size
    except (ValueError, TypeError):
        raise errors.BadRequest(f"os_hash_algo {algo} is not a supported hashing "
                                "algorithm.") from None
    if len(value) != size * 2 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise errors.BadRequest(f"os_hash_value {value} is not a valid {algo} hex digest "
                                f"({size * 2} hex digits).")
    return algo, value.lower()


class LocationImport:
    def __init__(self, images: Any, tasks: Any) -> None:
        self.images = images
        self.tasks = tasks
        self.db = images.db

    def list(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            image, _ = self.images.load(session, ctx, image_id)
            return self.images.locations.public(self.images.locations.of(image))

    def add(self, ctx: RequestContext, image_id: str, body: Any) -> None:
        body = validate(BODY, body)
        expected = _checked_hash(body.get("validation_data") or {})
        loc = self.images.locations.checked({"url": body["url"], "metadata": {}})
        algo = expected[0] if expected else self.images.store.main.hash_algo
        with self.db.write() as session:
            image, _ = self.images.load(session, ctx, image_id)
            if image.status != "queued":
                raise errors.Conflict(f"Image {image_id} is not in queued status: a location "
                                      "can only be added to a queued image.")
            if (image.location_data or {}).get("external"):
                raise errors.Conflict(f"Image {image_id} already has a location.")
            image.location_data = {"external": [loc], "metadata": {}}
            image.updated_at = utcnow()
            task_id = self.tasks.add(session, ctx, "location_import",
                                     {"image_id": image_id, "loc_url": loc["url"],
                                      "validation_data": body.get("validation_data") or {}},
                                     image_id, status="processing").id
        threading.Thread(target=self._hash, args=(image_id, loc["url"], algo, expected,
                                                  task_id),
                         daemon=True, name=f"image-location-{image_id}").start()

    def _hash(self, image_id: str, url: str, algo: str, expected: tuple[str, str] | None,
              task_id: str) -> None:
        md5, sha, size = hashlib.md5(usedforsecurity=False), hashlib.new(algo), 0
        try:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme == "file":
                source: Any = open(parts.path, "rb")
            else:
                source = urllib.request.urlopen(  # noqa: S310 (http/https only, checked)
                    urllib.request.Request(url, headers={"User-Agent": "pocketstack-image"}),
                    timeout=60)
            with source:
                while chunk := source.read(CHUNK):
                    md5.update(chunk)
                    sha.update(chunk)
                    size += len(chunk)
        except Exception as exc:  # unreadable location: the task says so
            self.tasks.update(task_id, "failure", message=f"Cannot read {url}: {exc}")
            return
        value = sha.hexdigest()
        if expected and value != expected[1]:
            self.tasks.update(task_id, "failure", message=f"The {algo} hash of the data at "
                              f"the location ({value}) does not match validation_data.")
            return
        with self.db.write() as session:
            image = session.get(Image, image_id)
            if image is None or image.status != "queued":
                ok = False
            else:
                image.size = size
                image.virtual_size = size if image.disk_format in ("raw", "iso") else None
                image.checksum, image.os_hash_algo, image.os_hash_value = \
                    md5.hexdigest(), algo, value
                image.status = "active"
                image.updated_at = utcnow()
                ok = True
        self.tasks.update(task_id, "success" if ok else "failure",
                          message="" if ok else "The image changed during the hashing.")
