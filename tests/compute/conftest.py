"""Compute tests boot from a real image of the Image service (see compute_helpers)."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compute_helpers import ensure_image  # noqa: E402


@pytest.fixture(autouse=True)
def _compute_image(request: Any) -> None:
    if "cloud" in request.fixturenames:
        ensure_image(request.getfixturevalue("cloud"))
