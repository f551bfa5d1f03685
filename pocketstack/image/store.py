"""The one ``file`` store: image data as files under DATA_DIR/images.

Uploads go to a temporary file in the same directory and are renamed into place
only when complete, so a reader never sees a partial image. While the bytes are
written the writer computes md5 (Glance's ``checksum``), sha512 (``os_hash_value``)
and the size; the virtual size comes from the qcow2 header (raw: the size).
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from pocketstack.api import errors

CHUNK = 1024 * 1024
HASH_ALGO = "sha512"
QCOW2_MAGIC = b"QFI\xfb"


@dataclass
class Stored:
    """What a finished write produced."""

    size: int
    checksum: str
    os_hash_value: str
    virtual_size: int | None


def virtual_size(path: str, disk_format: str | None, size: int) -> int | None:
    """qcow2: the header's size (offset 24, big-endian u64); raw/iso: the file size."""
    try:
        with open(path, "rb") as f:
            header = f.read(32)
    except OSError:
        return None
    if len(header) >= 32 and header[:4] == QCOW2_MAGIC:
        return struct.unpack(">Q", header[24:32])[0]
    if disk_format in ("raw", "iso", None) or disk_format == "":
        return size
    return None


class Writer:
    """Writes one image's bytes to a temporary file, hashing as it goes."""

    def __init__(self, directory: str, final_path: str, size_cap: int) -> None:
        self.final_path = final_path
        self.size_cap = size_cap
        self.tmp_path = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        self._f: BinaryIO | None = open(self.tmp_path, "wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.new(HASH_ALGO)
        self.size = 0

    def write(self, data: bytes) -> None:
        assert self._f is not None
        self.size += len(data)
        if self.size > self.size_cap:
            raise errors.RequestEntityTooLarge(
                f"Image exceeds the storage quota: the image size cap is {self.size_cap} "
                "bytes.")
        self._f.write(data)
        self.md5.update(data)
        self.sha.update(data)

    def commit(self, disk_format: str | None) -> Stored:
        """Flush, rename into place and describe what was stored."""
        assert self._f is not None
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        os.replace(self.tmp_path, self.final_path)
        return Stored(self.size, self.md5.hexdigest(), self.sha.hexdigest(),
                      virtual_size(self.final_path, disk_format, self.size))

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass


class FileStore:
    store_id = "file"
    description = "Filesystem store"

    def __init__(self, root: str, size_cap: int) -> None:
        self.root = root
        self.staging = os.path.join(root, "staging")
        self.size_cap = size_cap
        os.makedirs(self.staging, mode=0o700, exist_ok=True)
        # Temporary files of writes a crash interrupted are garbage.
        for directory in (self.root, self.staging):
            for name in os.listdir(directory):
                if name.startswith(".tmp-"):
                    try:
                        os.unlink(os.path.join(directory, name))
                    except OSError:
                        pass

    def path(self, image_id: str) -> str:
        return os.path.join(self.root, image_id)

    def staged_path(self, image_id: str) -> str:
        return os.path.join(self.staging, image_id)

    def writer(self, image_id: str) -> Writer:
        return Writer(self.root, self.path(image_id), self.size_cap)

    def stage_writer(self, image_id: str) -> Writer:
        return Writer(self.staging, self.staged_path(image_id), self.size_cap)

    def exists(self, image_id: str) -> bool:
        return os.path.exists(self.path(image_id))

    def promote_staged(self, image_id: str, disk_format: str | None) -> Stored:
        """Hash the staged file and move it into the store (glance-direct import)."""
        src = self.staged_path(image_id)
        md5, sha, size = hashlib.md5(usedforsecurity=False), hashlib.new(HASH_ALGO), 0
        with open(src, "rb") as f:
            while chunk := f.read(CHUNK):
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
        os.replace(src, self.path(image_id))
        return Stored(size, md5.hexdigest(), sha.hexdigest(),
                      virtual_size(self.path(image_id), disk_format, size))

    def delete(self, image_id: str) -> None:
        for path in (self.path(image_id), self.staged_path(image_id)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def staged_bytes(self) -> int:
        total = 0
        for name in os.listdir(self.staging):
            try:
                total += os.path.getsize(os.path.join(self.staging, name))
            except OSError:
                pass
        return total

    @staticmethod
    def read(path: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The file's bytes from ``start`` (``length`` of them, or to the end), in chunks.

        The file is opened now, so that the data stays readable even if the image is
        deleted while it is being sent.
        """
        f = open(path, "rb")
        f.seek(start)

        def chunks() -> Iterator[bytes]:
            with f:
                remaining = length
                while remaining is None or remaining > 0:
                    n = CHUNK if remaining is None else min(CHUNK, remaining)
                    chunk = f.read(n)
                    if not chunk:
                        return
                    if remaining is not None:
                        remaining -= len(chunk)
                    yield chunk

        return chunks()
