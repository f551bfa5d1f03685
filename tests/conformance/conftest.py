"""The conformance tests run Tempest against a fresh cloud: slow, and they need Tempest.

Deselect them with ``-m "not conformance"``.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: runs Tempest (installed on first use) against a fresh cloud; "
        "deselect with -m 'not conformance'")
