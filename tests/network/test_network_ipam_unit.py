"""The allocator's pure parts: the next-fit walk over allocation pools."""

from __future__ import annotations

from pocketstack.network.ipam import _walk


def test_walk_from_cursor_wraps_in_pool_order():
    ranges = [(2, 4), (10, 12)]
    assert list(_walk(ranges, 0)) == [2, 3, 4, 10, 11, 12]
    assert list(_walk(ranges, 3)) == [3, 4, 10, 11, 12, 2]
    assert list(_walk(ranges, 7)) == [10, 11, 12, 2, 3, 4]
    assert list(_walk(ranges, 12)) == [12, 2, 3, 4, 10, 11]
    assert list(_walk(ranges, 13)) == [2, 3, 4, 10, 11, 12]


def test_walk_visits_every_address_once():
    ranges = [(5, 9), (20, 20), (30, 34)]
    everything = [a for lo, hi in ranges for a in range(lo, hi + 1)]
    for start in range(0, 40):
        assert sorted(_walk(ranges, start)) == everything
