"""The file store's writer in-process: hashes, atomic rename, errors of its threads."""

from __future__ import annotations

import hashlib
import os

import pytest

from pocketstack.api import errors
from pocketstack.image.store import DEPTH, FileStore


def test_writer_hashes_and_renames(tmp_path):
    store = FileStore(str(tmp_path), size_cap=1 << 30)
    writer = store.writer("img")
    pieces = [os.urandom(1000 + i) for i in range(DEPTH * 3)]  # more than the queues hold
    for piece in pieces:
        writer.write(piece)
    assert not os.path.exists(store.path("img"))  # nothing visible before commit
    stored = writer.commit("raw")
    data = b"".join(pieces)
    assert stored.size == len(data) == stored.virtual_size
    assert stored.checksum == hashlib.md5(data).hexdigest()
    assert stored.os_hash_value == hashlib.sha512(data).hexdigest()
    with open(store.path("img"), "rb") as f:
        assert f.read() == data
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_writer_failure_is_raised_and_cleaned_up(tmp_path):
    store = FileStore(str(tmp_path), size_cap=1 << 30)
    writer = store.writer("img")

    def broken(data: bytes) -> None:
        raise OSError(28, "No space left on device")

    writer._stages[0]._consume = broken  # the file-write stage fails
    writer.write(b"x" * 10)
    with pytest.raises(OSError):
        writer.commit("raw")
    writer.abort()
    assert not os.path.exists(store.path("img"))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_writer_size_cap(tmp_path):
    store = FileStore(str(tmp_path), size_cap=15)
    writer = store.writer("img")
    writer.write(b"x" * 10)
    with pytest.raises(errors.RequestEntityTooLarge):
        writer.write(b"x" * 10)
    writer.abort()
    assert os.listdir(tmp_path) == ["staging"]


def test_hashing_algorithm_option(tmp_path):
    """[DEFAULT] hashing_algorithm picks os_hash_value's algorithm; md5 stays the checksum."""
    from pocketstack.image.store import check_algorithm

    store = FileStore(str(tmp_path), size_cap=1 << 30, hash_algo=check_algorithm("sha256"))
    writer = store.writer("img")
    writer.write(b"abc" * 1000)
    stored = writer.commit("raw")
    assert stored.os_hash_algo == "sha256"
    assert stored.os_hash_value == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert stored.checksum == hashlib.md5(b"abc" * 1000).hexdigest()
    for bad in ("nope", "shake_128"):
        with pytest.raises(SystemExit):
            check_algorithm(bad)
