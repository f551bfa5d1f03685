"""Object bytes on disk: written to a temp file, fsynced, renamed into place.

A data file only becomes visible once the index row pointing at it is committed,
so a crash mid-upload leaves at most an unreferenced temp or data file behind
(temp files are cleared on start).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import IO, Iterator

# reads: each chunk of a download is one hop to a worker thread, so make them big
CHUNK = 1024 * 1024


class Files:
    def __init__(self, data_dir: str) -> None:
        self.root = os.path.join(data_dir, "objects")
        self.tmp = os.path.join(self.root, "tmp")
        os.makedirs(self.tmp, mode=0o700, exist_ok=True)

    def clear_temp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp, mode=0o700, exist_ok=True)

    def temp(self) -> tuple[IO[bytes], str]:
        fd, path = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        return os.fdopen(fd, "wb"), path

    @staticmethod
    def _safe(part: str) -> str:
        # containers and accounts are one path segment each; keep them readable
        # when the file system allows (names up to 255 bytes)
        if part in (".", "..") or "/" in part or len(part.encode()) > 200:
            return "h-" + hashlib.md5(part.encode(), usedforsecurity=False).hexdigest()
        return part

    def place(self, temp_path: str, account: str, container: str, name: str,
              timestamp: str) -> str:
        """Move a finished temp file to its final place; return its relative path."""
        digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        rel = os.path.join(self._safe(account), self._safe(container), digest[-3:],
                           f"{digest}-{timestamp}.data")
        full = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
        os.replace(temp_path, full)
        dir_fd = os.open(os.path.dirname(full), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return rel

    def full(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def remove(self, rel: str | None) -> None:
        if rel:
            try:
                os.unlink(os.path.join(self.root, rel))
            except FileNotFoundError:
                pass

    def discard(self, temp_path: str) -> None:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass

    def open(self, rel: str) -> IO[bytes]:
        return open(os.path.join(self.root, rel), "rb")

    def read(self, rel: str | IO[bytes], offset: int = 0, length: int | None = None
             ) -> Iterator[bytes]:
        """Stream a data file (a path, or a file opened beforehand, which is closed)."""
        with (self.open(rel) if isinstance(rel, str) else rel) as f:
            f.seek(offset)
            left = length
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def read_all(self, rel: str) -> bytes:
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()
