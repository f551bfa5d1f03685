"""Sorting and ``limit``/``marker`` pagination over SQLAlchemy queries (keyset, not OFFSET).

OpenStack lists are paged by marker: the id of the last item of the previous
page. :func:`paginate` turns sort keys and a marker row into a WHERE clause that
starts right after the marker, so a page costs the same wherever it is in the
list; ties are broken by the id so that no row is skipped or repeated.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from pocketstack.api import errors


def parse_sort(keys: Sequence[str], dirs: Sequence[str], allowed: Sequence[str],
               default: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pair sort keys with directions (a missing direction repeats the last; default desc)."""
    if not keys:
        return list(default)
    out = []
    for i, key in enumerate(keys):
        if key not in allowed:
            raise errors.BadRequest(f"Invalid sort key: {key}")
        direction = (dirs[i] if i < len(dirs) else (dirs[-1] if dirs else "desc")).lower()
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {direction}")
        out.append((key, direction))
    return out


def parse_limit(value: str | None, maximum: int = 1000) -> int | None:
    if value is None:
        return None
    try:
        limit = int(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid limit {value!r}: expecting an integer.") from None
    if limit < 0:
        raise errors.BadRequest(f"Invalid limit {value!r}: must be >= 0.")
    return min(limit, maximum)


def paginate(session: Session, query: Select[Any], model: Any, sort: list[tuple[str, str]],
             limit: int | None, marker: str | None, id_attr: str = "id") -> list[Any]:
    """Apply ``sort``, start after the row whose id is ``marker``, fetch ``limit`` rows."""
    if (id_attr, "asc") not in sort and (id_attr, "desc") not in sort:
        sort = [*sort, (id_attr, sort[-1][1] if sort else "asc")]
    if marker is not None:
        marker_row = session.scalar(query.where(getattr(model, id_attr) == marker)
                                    .limit(1))
        if marker_row is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        # (k1 > m1) or (k1 == m1 and k2 > m2) or ...  (with < for descending keys)
        clauses = []
        for i, (key, direction) in enumerate(sort):
            col = getattr(model, key)
            value = getattr(marker_row, key)
            prefix = [getattr(model, k) == getattr(marker_row, k) for k, _ in sort[:i]]
            if value is None:
                # NULLs sort first ascending (SQLite and PostgreSQL with NULLS FIRST)
                step = col.is_not(None) if direction == "asc" else None
            else:
                step = col > value if direction == "asc" else or_(col < value, col.is_(None))
            if step is not None:
                clauses.append(and_(*prefix, step))
        query = query.where(or_(*clauses)) if clauses else query.where(False)
    order = []
    for key, direction in sort:
        col = getattr(model, key)
        order.append(col.asc().nulls_first() if direction == "asc" else col.desc().nulls_last())
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
