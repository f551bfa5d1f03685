"""qcow2 without qemu-img: write a raw volume as a qcow2 (version 2) image, and read one.

Only what a volume needs: 64 KiB clusters, no backing file, no compression, no
encryption, no internal snapshots. The writer stores the clusters of the raw file
that hold data (holes and all-zero clusters are left unallocated), so an empty
1 GiB volume becomes an image of a few hundred KiB.

Layout written (every offset cluster-aligned): header | L1 table | refcount table |
refcount blocks | L2 tables | data clusters. Every cluster has refcount 1, so L1 and
L2 entries carry the COPIED flag as qemu writes them.
"""

from __future__ import annotations

import math
import os
import struct
from typing import BinaryIO, Callable, Iterator

MAGIC = b"QFI\xfb"
CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
L2_ENTRIES = CLUSTER // 8
REFCOUNTS_PER_BLOCK = CLUSTER // 2  # 16-bit refcounts (version 2)
COPIED = 1 << 63
COMPRESSED = 1 << 62
OFFSET_MASK = 0x00FFFFFFFFFFFE00
HEADER = struct.Struct(">4sIQIIQIIQQIIQ")  # the 72-byte version 2 header


def _data_clusters(f: BinaryIO, size: int) -> list[int]:
    """Indexes of the clusters of ``f`` that hold something other than zeros."""
    fd = f.fileno()
    out: list[int] = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            break
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        first = start // CLUSTER
        for index in range(first, math.ceil(end / CLUSTER)):
            if out and out[-1] == index:
                continue
            data = os.pread(fd, CLUSTER, index * CLUSTER)
            if data.count(0) != len(data):
                out.append(index)
        pos = max(end, (first + 1) * CLUSTER)
    return out


def _clusters(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / CLUSTER))


def convert_raw(src: str, write: Callable[[bytes], None]) -> int:
    """Stream ``src`` (a raw file) as a qcow2 image through ``write``; returns its size."""
    size = os.path.getsize(src)
    with open(src, "rb") as f:
        used = _data_clusters(f, size)
        l1_size = max(1, math.ceil(size / (CLUSTER * L2_ENTRIES)))
        l2_tables = sorted({index // L2_ENTRIES for index in used})
        l1_clusters = _clusters(l1_size * 8)
        fixed = 1 + l1_clusters + len(l2_tables) + len(used)
        blocks = 1
        while True:  # the refcount structures count themselves
            table_clusters = _clusters(blocks * 8)
            total = fixed + table_clusters + blocks
            need = math.ceil(total / REFCOUNTS_PER_BLOCK)
            if need <= blocks:
                break
            blocks = need
        l1_offset = CLUSTER
        rt_offset = l1_offset + l1_clusters * CLUSTER
        rb_offset = rt_offset + table_clusters * CLUSTER
        l2_offset = rb_offset + blocks * CLUSTER
        data_offset = l2_offset + len(l2_tables) * CLUSTER
        l2_at = {table: l2_offset + n * CLUSTER for n, table in enumerate(l2_tables)}

        header = HEADER.pack(MAGIC, 2, 0, 0, CLUSTER_BITS, size, 0, l1_size, l1_offset,
                             rt_offset, table_clusters, 0, 0)
        written = 0

        def emit(data: bytes) -> None:
            nonlocal written
            write(data)
            written += len(data)

        def pad() -> None:
            if written % CLUSTER:
                emit(bytes(CLUSTER - written % CLUSTER))

        emit(header)
        pad()
        l1 = [0] * l1_size
        for table, offset in l2_at.items():
            l1[table] = offset | COPIED
        emit(struct.pack(f">{l1_size}Q", *l1))
        pad()
        refblocks = [rb_offset + n * CLUSTER for n in range(blocks)]
        emit(struct.pack(f">{blocks}Q", *refblocks))
        pad()
        counts = bytearray(blocks * CLUSTER)
        struct.pack_into(f">{total}H", counts, 0, *([1] * total))
        emit(bytes(counts))
        position = {index: data_offset + n * CLUSTER for n, index in enumerate(used)}
        for table in l2_tables:
            entries = [0] * L2_ENTRIES
            base = table * L2_ENTRIES
            for index in range(base, base + L2_ENTRIES):
                if index in position:
                    entries[index - base] = position[index] | COPIED
            emit(struct.pack(f">{L2_ENTRIES}Q", *entries))
        fd = f.fileno()
        for index in used:
            data = os.pread(fd, CLUSTER, index * CLUSTER)
            emit(data + bytes(CLUSTER - len(data)))  # the last cluster may be short
    return written


def is_qcow2(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def virtual_size(path: str) -> int:
    with open(path, "rb") as f:
        fields = HEADER.unpack(f.read(HEADER.size))
    return fields[5]


def _header(f: BinaryIO) -> tuple[int, int, int, int]:
    """(cluster_bits, virtual size, l1_size, l1_offset) of a qcow2 image we can read."""
    f.seek(0)
    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        raise ValueError("not a qcow2 image: too short")
    (magic, version, backing_offset, _, cluster_bits, size, crypt, l1_size, l1_offset,
     *_rest) = HEADER.unpack(head)
    if magic != MAGIC or version not in (2, 3) or not 9 <= cluster_bits <= 21:
        raise ValueError("not a qcow2 image")
    if backing_offset or crypt:
        raise ValueError("qcow2 images with a backing file or encryption are not supported")
    return cluster_bits, size, l1_size, l1_offset


def _mapped(f: BinaryIO) -> Iterator[tuple[int, int]]:
    """(guest offset, file offset) of every allocated cluster of an open qcow2 file."""
    cluster_bits, size, l1_size, l1_offset = _header(f)
    cluster = 1 << cluster_bits
    per_l2 = cluster // 8
    f.seek(l1_offset)
    raw_l1 = f.read(l1_size * 8)
    if len(raw_l1) != l1_size * 8:
        raise ValueError("qcow2 image truncated: L1 table missing")
    for i, l1_entry in enumerate(struct.unpack(f">{l1_size}Q", raw_l1)):
        l2_at = l1_entry & OFFSET_MASK
        if not l2_at:
            continue
        f.seek(l2_at)
        raw_l2 = f.read(cluster)
        if len(raw_l2) != cluster:
            raise ValueError("qcow2 image truncated: L2 table missing")
        for j, entry in enumerate(struct.unpack(f">{per_l2}Q", raw_l2)):
            if entry & COMPRESSED:
                raise ValueError("compressed qcow2 clusters are not supported")
            at = entry & OFFSET_MASK
            guest = (i * per_l2 + j) * cluster
            if at and guest < size:
                yield guest, at


def to_raw(src: str, dst_fd: int) -> None:
    """Write the data of the qcow2 image ``src`` into the (sized, sparse) raw ``dst_fd``."""
    with open(src, "rb") as f:
        cluster_bits, size, _, _ = _header(f)
        cluster = 1 << cluster_bits
        for guest, at in list(_mapped(f)):
            data = os.pread(f.fileno(), min(cluster, size - guest), at)
            if data.count(0) != len(data):
                os.pwrite(dst_fd, data, guest)
