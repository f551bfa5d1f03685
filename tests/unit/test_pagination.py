"""Keyset pagination: every row exactly once, whatever the sort and page size."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pocketstack.api import errors
from pocketstack.api.pagination import paginate, parse_limit, parse_sort


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "thing"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str | None] = mapped_column(String)
    size: Mapped[int] = mapped_column(Integer)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as s:
        for i in range(47):
            s.add(Thing(id=f"id{i:02d}", name=None if i % 7 == 0 else f"n{i % 5}", size=i % 3))
        s.commit()
        yield s


@pytest.mark.parametrize("sort,limit", itertools.product(
    [[("name", "asc")], [("name", "desc")], [("size", "desc"), ("name", "asc")],
     [("id", "asc")]], [1, 5, 46, 100]))
def test_pages_cover_every_row_once(session, sort, limit):
    seen, marker = [], None
    for _ in range(100):
        page = paginate(session, select(Thing), Thing, sort, limit, marker)
        if not page:
            break
        seen += [t.id for t in page]
        marker = page[-1].id
    assert sorted(seen) == sorted(f"id{i:02d}" for i in range(47))
    assert len(seen) == 47
    full = [t.id for t in paginate(session, select(Thing), Thing, sort, None, None)]
    assert seen == full


def test_bad_input():
    with pytest.raises(errors.BadRequest):
        parse_limit("x")
    with pytest.raises(errors.BadRequest):
        parse_limit("-1")
    assert parse_limit("5000") == 1000
    with pytest.raises(errors.BadRequest):
        parse_sort(["nope"], [], ["name"], [])
    with pytest.raises(errors.BadRequest):
        parse_sort(["name"], ["sideways"], ["name"], [])
    assert parse_sort(["name", "size"], ["asc"], ["name", "size"], []) == [
        ("name", "asc"), ("size", "asc")]


def test_unknown_marker(session):
    with pytest.raises(errors.BadRequest):
        paginate(session, select(Thing), Thing, [("name", "asc")], 5, "missing")
