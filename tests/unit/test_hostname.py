"""A server name made a hostname as Nova sanitises it (periods too, since Nova's fix)."""

from __future__ import annotations

import pytest

from pocketstack.compute.servers import _hostname


@pytest.mark.parametrize("name, expected", [
    ("SSH-Test.vm1", "ssh-test-vm1"),
    ("my server_1", "my-server-1"),
    ("..weird!!name--", "weirdname"),
    ("caf\u00e9", "caf\u00e9"),
    ("\u65e5\u672c", "server-U"),
    ("a" * 70, "a" * 63),
    ("x" * 62 + ".y", "x" * 62),
])
def test_hostname_from_name(name: str, expected: str) -> None:
    assert _hostname(name, "U") == expected
