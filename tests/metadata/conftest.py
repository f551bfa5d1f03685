"""Lets the metadata tests import their shared helpers (md_helpers)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
