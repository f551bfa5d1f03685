"""Fernet key repositories (tokens and credentials), Keystone's layout.

Keys are files named 0, 1, 2, ... in a 0700 directory. Key 0 is the staged key,
the highest number is the primary (used to encrypt), the rest are secondary
(still decrypt). Rotation promotes the staged key to primary, stages a new key
and keeps at most ``max_active_keys``.
"""

from __future__ import annotations

import logging
import os

from cryptography.fernet import Fernet, MultiFernet

LOG = logging.getLogger(__name__)


class KeyRepository:
    def __init__(self, path: str, max_active_keys: int = 3) -> None:
        self.path = path
        self.max_active_keys = max(2, max_active_keys)
        self._fernet: MultiFernet | None = None
        self._mtime: float | None = None

    def _keys(self) -> dict[int, bytes]:
        keys = {}
        for name in os.listdir(self.path):
            if name.isdigit():
                with open(os.path.join(self.path, name), "rb") as f:
                    keys[int(name)] = f.read().strip()
        return keys

    def _write(self, index: int, key: bytes) -> None:
        tmp = os.path.join(self.path, f".{index}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.path, str(index)))

    def setup(self) -> None:
        """Create the repository with a staged and a primary key if it is empty."""
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)
        if not self._keys():
            self._write(0, Fernet.generate_key())
            self._write(1, Fernet.generate_key())
            LOG.info("created Fernet key repository %s", self.path)

    def rotate(self) -> int:
        """Rotate the keys; returns the index of the new primary key."""
        keys = self._keys()
        new_primary = max(keys) + 1
        self._write(new_primary, keys[0])
        self._write(0, Fernet.generate_key())
        keys = self._keys()
        secondaries = sorted(k for k in keys if k not in (0, new_primary))
        while len(secondaries) + 2 > self.max_active_keys:
            os.remove(os.path.join(self.path, str(secondaries.pop(0))))
        self._fernet = None
        LOG.info("rotated Fernet keys in %s: primary key is now %d", self.path, new_primary)
        return new_primary

    def fernet(self) -> MultiFernet:
        """The keys as a MultiFernet, primary first; reloaded after a rotation."""
        mtime = os.stat(self.path).st_mtime
        if self._fernet is None or mtime != self._mtime:
            keys = self._keys()
            ordered = [keys[k] for k in sorted(keys, reverse=True) if k != 0] + [keys[0]]
            self._fernet = MultiFernet([Fernet(k) for k in ordered])
            self._mtime = mtime
        return self._fernet
