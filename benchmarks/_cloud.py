"""Start a pocketstack for a benchmark (shared by the scripts in this folder)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))

from conftest import CloudHandle  # noqa: E402  (the same launcher the tests use)

__all__ = ["CloudHandle"]
