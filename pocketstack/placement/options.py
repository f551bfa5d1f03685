"""Placement's configuration options (the names real Placement uses)."""

from pocketstack.config import Opt, register

register(
    Opt("placement", "randomize_allocation_candidates", bool, False,
        "Return allocation candidates in random order (so that a limit does not always "
        "favour the same providers)."),
    Opt("placement", "max_allocation_candidates", int, -1,
        "Upper bound on the allocation candidates returned (-1: no bound)."),
)
