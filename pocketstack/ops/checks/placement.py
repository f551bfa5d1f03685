"""Doctor check of Placement against Compute: orphaned and missing allocations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from pocketstack.ops.doctor import FAIL, OK, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

NAME = "placement allocations"


def _what(resources: dict[str, int]) -> str:
    return ", ".join(f"{rc}={n}" for rc, n in sorted(resources.items()))


@check(NAME)
def placement_allocations(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.ops.allocations import audit

    orphans, missing = audit(cloud)
    for o in orphans:
        yield Finding(NAME, FAIL, f"consumer {o.consumer} holds {_what(o.resources)} on "
                      f"{o.provider} but is no live server or migration (an orphaned "
                      "allocation: the scheduler counts that room as used)",
                      "pocketstack manage placement audit --delete")
    for m in missing:
        yield Finding(NAME, FAIL, f"server {m.uuid} runs on {m.host} but holds no allocation "
                      f"(should be {_what(m.resources)}: the scheduler counts that room as "
                      "free)", "pocketstack manage placement heal-allocations")
    if not orphans and not missing:
        yield Finding(NAME, OK, "every allocation on a compute host belongs to a live server "
                      "or migration, and every server on a host holds one")
