"""The one ``file`` store: image data as files under DATA_DIR/images.

Uploads go to a temporary file in the same directory and are renamed into place
only when complete, so a reader never sees a partial image. While the bytes are
written the writer computes md5 (Glance's ``checksum``), sha512 (``os_hash_value``)
and the size; the virtual size comes from the qcow2 header (raw: the size).
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import struct
import threading
import uuid
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from pocketstack.api import errors

CHUNK = 1024 * 1024
DEPTH = 16  # pieces (of about CHUNK bytes) an upload may have in flight
HASH_ALGO = "sha512"  # Glance's default [DEFAULT] hashing_algorithm
QCOW2_MAGIC = b"QFI\xfb"


@dataclass
class Stored:
    """What a finished write produced."""

    size: int
    checksum: str
    os_hash_value: str
    virtual_size: int | None
    os_hash_algo: str = HASH_ALGO


def check_algorithm(name: str) -> str:
    """The hashlib algorithm ``name`` (Glance's ``hashing_algorithm``), or SystemExit."""
    try:
        hashlib.new(name).hexdigest()  # shake_* (variable length) fails here too
    except (ValueError, TypeError):
        offered = ", ".join(sorted(hashlib.algorithms_available))
        raise SystemExit(f"pocketstack: [DEFAULT] hashing_algorithm {name!r} is not a "
                         f"fixed-length algorithm hashlib offers ({offered})") from None
    return name


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


class _Stage:
    """One consumer of an upload's pieces (the file write, md5 or sha512) in its own thread.

    hashlib and file writes release the GIL on large buffers, so on a machine with more
    than one core the three consumers run at once, and beside the event loop reading the
    request: the upload runs at the speed of the slowest hash instead of the sum of all.
    The queue is bounded (``DEPTH`` pieces) so a slow consumer holds back the reader.
    """

    def __init__(self, consume: Callable[[bytes], object], name: str) -> None:
        self._consume = consume
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=DEPTH)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self._consume(piece)
                except BaseException as exc:  # reported to the producer; keep draining
                    self.error = exc

    def has_room(self) -> bool:
        return not self._queue.full()

    def put(self, piece: bytes) -> None:
        self._queue.put(piece)

    def close(self) -> None:
        """Wait until every piece is consumed (the thread ends)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class Writer:
    """Writes one image's bytes to a temporary file, hashing as it goes.

    ``write`` hands the piece to three :class:`_Stage` threads (file, md5, sha512) and
    returns at once unless they are ``DEPTH`` pieces behind; ``commit`` waits for them,
    fsyncs and renames the file into place, so a reader never sees a partial image.
    """

    def __init__(self, directory: str, final_path: str, size_cap: int,
                 expected: int | None = None, hash_algo: str = HASH_ALGO) -> None:
        self.hash_algo = hash_algo
        self.final_path = final_path
        self.size_cap = size_cap
        self.tmp_path = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        self._f: BinaryIO | None = open(self.tmp_path, "wb", buffering=0)
        self._allocated = 0
        if expected and expected <= size_cap:
            # the declared size reserved at once: one extent, and ENOSPC now, not midway
            try:
                os.posix_fallocate(self._f.fileno(), 0, expected)
                self._allocated = expected
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    self._f.close()
                    os.unlink(self.tmp_path)
                    raise errors.RequestEntityTooLarge(
                        "There is not enough free space in the image store for "
                        f"{expected} bytes.") from None
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.new(hash_algo)
        self.size = 0
        self._stages = [_Stage(self._write_all, "image-write"),
                        _Stage(self.md5.update, "image-md5"),
                        _Stage(self.sha.update, f"image-{hash_algo}")]

    def _write_all(self, data: bytes) -> None:
        assert self._f is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._f.fileno(), view):]

    def _check(self) -> None:
        for stage in self._stages:
            if stage.error is not None:
                raise stage.error

    def has_room(self) -> bool:
        """True when ``write`` would not block (it may then be called in the event loop)."""
        return all(stage.has_room() for stage in self._stages)

    def write(self, data: bytes) -> None:
        self._check()
        self.size += len(data)
        if self.size > self.size_cap:
            raise errors.RequestEntityTooLarge(
                f"Image exceeds the storage quota: the image size cap is {self.size_cap} "
                "bytes.")
        for stage in self._stages:
            stage.put(data)

    def _drain(self) -> None:
        for stage in self._stages:
            stage.close()

    def commit(self, disk_format: str | None) -> Stored:
        """Wait for the stages, flush, rename into place and describe what was stored."""
        assert self._f is not None
        self._drain()
        self._check()
        if self._allocated > self.size:  # fewer bytes came than were declared
            os.ftruncate(self._f.fileno(), self.size)
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        os.replace(self.tmp_path, self.final_path)
        return Stored(self.size, self.md5.hexdigest(), self.sha.hexdigest(),
                      virtual_size(self.final_path, disk_format, self.size), self.hash_algo)

    def abort(self) -> None:
        self._drain()
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

    def __init__(self, root: str, size_cap: int, hash_algo: str = HASH_ALGO) -> None:
        self.root = root
        self.hash_algo = hash_algo
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

    def writer(self, image_id: str, expected: int | None = None) -> Writer:
        return Writer(self.root, self.path(image_id), self.size_cap, expected, self.hash_algo)

    def stage_writer(self, image_id: str, expected: int | None = None) -> Writer:
        return Writer(self.staging, self.staged_path(image_id), self.size_cap, expected,
                      self.hash_algo)

    def exists(self, image_id: str) -> bool:
        return os.path.exists(self.path(image_id))

    def promote_staged(self, image_id: str, disk_format: str | None) -> Stored:
        """Hash the staged file and move it into the store (glance-direct import)."""
        src = self.staged_path(image_id)
        md5, sha, size = hashlib.md5(usedforsecurity=False), hashlib.new(self.hash_algo), 0
        stages = [_Stage(md5.update, "image-md5"),
                  _Stage(sha.update, f"image-{self.hash_algo}")]
        try:
            with open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    for stage in stages:
                        stage.put(chunk)
                    size += len(chunk)
        finally:
            for stage in stages:
                stage.close()
        os.replace(src, self.path(image_id))
        return Stored(size, md5.hexdigest(), sha.hexdigest(),
                      virtual_size(self.path(image_id), disk_format, size), self.hash_algo)

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
