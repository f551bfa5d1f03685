"""The volume tests share volume_helpers (waiting for the end of asynchronous work)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
