"""The server list query: a page of servers in two narrow queries, whatever the cloud's size.

First the ids in order (only the columns the filters that SQL cannot express need: name
regex, tags, task states, ip, marker), with ``LIMIT`` when nothing is filtered in Python;
then only the page's rows, with only the columns the view reads (no key data, hints,
resize or system metadata). SQLite's sorter then carries ids, not whole rows, and 1,000 of
10,000 servers decode 1,000 rows, not 10,000.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text, cast, select, type_coerce

from pocketstack.api import errors
from pocketstack.compute import states
from pocketstack.compute.models import Instance
from pocketstack.compute.networks import filter_by_ip

if TYPE_CHECKING:
    from pocketstack.db import Database

# what the server views read (views.server, views.server_brief, the hypervisor servers list)
VIEW_COLUMNS = tuple(c.name for c in Instance.__table__.c if c.name not in (
    "key_data", "scheduler_hints", "resize_from", "locked_by",
    "ephemeral_gb", "deleted", "numa_topology"))
BRIEF_COLUMNS = ("id", "uuid", "display_name")
_SORT_KEYS = {"display_name", "created_at", "updated_at", "uuid", "vm_state", "host"}
_PYTHON_FILTERS = ("name", "tags", "tags-any", "not-tags", "not-tags-any", "ip")
_CHUNK = 500  # bounded IN lists


def _where(q: Any, project_id: str | None, filters: dict[str, Any]) -> Any:
    if not filters.get("deleted"):
        q = q.where(Instance.deleted.is_(False))
        if states.SOFT_DELETED not in (filters.get("vm_states") or ()):
            q = q.where(Instance.vm_state != states.SOFT_DELETED)  # as Nova's DB API
    if project_id is not None:
        q = q.where(Instance.project_id == project_id)
    for key, col in (("flavor", Instance.flavorid), ("host", Instance.host),
                     ("node", Instance.node), ("user_id", Instance.user_id),
                     ("availability_zone", Instance.availability_zone),
                     ("key_name", Instance.key_name),
                     ("reservation_id", Instance.reservation_id)):
        if filters.get(key) is not None:
            q = q.where(col == filters[key])
    for key in ("vm_state", "task_state", "power_state", "progress"):  # exact (2.83)
        if filters.get(key) is not None:
            q = q.where(getattr(Instance, key) == filters[key])
    if filters.get("config_drive") is not None:
        drive = Instance.config_drive.in_(("True", "true", "1"))
        q = q.where(drive if filters["config_drive"] else ~drive | Instance.config_drive.is_(None))
    for key in ("created_at", "launched_at", "terminated_at", "hostname"):  # Nova: regex
        if filters.get(key) is not None:
            q = q.where(cast(getattr(Instance, key), String).contains(
                str(filters[key]).replace("T", " ").rstrip("Z"), autoescape=True))
    if filters.get("image") is not None:
        image = str(filters["image"]).rstrip("/").rsplit("/", 1)[-1]
        q = q.where(Instance.image_ref == image)
    if filters.get("vm_states") is not None:
        q = q.where(Instance.vm_state.in_(filters["vm_states"]))
    if filters.get("locked") is not None:
        q = q.where(Instance.locked.is_(filters["locked"]))
    if filters.get("changes-since") is not None:
        q = q.where(Instance.updated_at >= filters["changes-since"])
    if filters.get("changes-before") is not None:
        q = q.where(Instance.updated_at <= filters["changes-before"])
    return q


def list_servers(db: "Database", cloud: Any, project_id: str | None, filters: dict[str, Any],
                 limit: int | None, marker: str | None, sort_key: str = "created_at",
                 sort_dir: str = "desc", columns: tuple[str, ...] = VIEW_COLUMNS) -> list[Any]:
    """Rows (with ``columns`` as attributes) of the servers matching, in order."""
    col = getattr(Instance, sort_key if sort_key in _SORT_KEYS else "created_at")
    desc = sort_dir == "desc"
    order = [col.desc() if desc else col.asc(), Instance.id.desc() if desc else Instance.id.asc()]
    narrow = [Instance.id, Instance.uuid]
    if filters.get("name"):
        narrow.append(Instance.display_name)
    if any(filters.get(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")):
        narrow.append(Instance.tags)
    if filters.get("task_states") is not None:
        narrow.append(Instance.task_state)
    q = _where(select(*narrow), project_id, filters).order_by(*order)
    if limit is not None and marker is None and not any(filters.get(k) for k in
                                                        _PYTHON_FILTERS) \
            and filters.get("task_states") is None:
        q = q.limit(limit)  # nothing filtered in Python: let the database stop early
    with db.read() as s:
        rows = list(s.execute(q))
    rows = _python_filters(cloud, rows, filters)
    if marker is not None:
        index = next((i for i, r in enumerate(rows) if r.uuid == marker), None)
        if index is None:
            raise errors.BadRequest(f"marker [{marker}] not found")
        rows = rows[index + 1:]
    if limit is not None:
        rows = rows[:limit]
    ids = [r.id for r in rows]
    json_cols = [c for c in columns if c in _JSON_COLUMNS]
    cols = [type_coerce(getattr(Instance, c), Text).label(c) if c in _JSON_COLUMNS
            else getattr(Instance, c) for c in columns]
    decoded: dict[str, Any] = {}  # a page's rows share few distinct JSON texts ("{}", flavors)
    by_id: dict[int, ServerRow] = {}
    with db.read() as s:
        for i in range(0, len(ids), _CHUNK):
            result = s.execute(select(*cols).where(Instance.id.in_(ids[i:i + _CHUNK])))
            keys = list(result.keys())  # (a RowMapping builds its key view for each row)
            for values in result:
                row = ServerRow(dict(zip(keys, values)))
                for c in json_cols:
                    text = row.__dict__[c]
                    if text is not None:
                        if text not in decoded:
                            decoded[text] = json.loads(text)
                        setattr(row, c, decoded[text])
                by_id[row.id] = row
    return [by_id[i] for i in ids if i in by_id]


_JSON_COLUMNS = {c.name for c in Instance.__table__.c if c.type.__class__.__name__ == "JSONText"}


class ServerRow:
    """One listed server: the selected columns as plain attributes (read-only by use: the
    decoded JSON values may be shared between rows of a page)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


def _python_filters(cloud: Any, rows: list[Any], filters: dict[str, Any]) -> list[Any]:
    name = filters.get("name")
    if name:
        try:
            pattern = re.compile(name)
        except re.error:
            raise errors.BadRequest(f"Invalid regular expression for name: {name}") from None
        rows = [r for r in rows if pattern.search(r.display_name)]
    for key, test in (("tags", lambda want, have: want <= have),
                      ("tags-any", lambda want, have: bool(want & have)),
                      ("not-tags", lambda want, have: not want <= have),
                      ("not-tags-any", lambda want, have: not want & have)):
        if filters.get(key):
            want = {t for t in str(filters[key]).split(",") if t}
            rows = [r for r in rows if test(want, set(r.tags or []))]
    if filters.get("task_states") is not None:
        rows = [r for r in rows if r.task_state in filters["task_states"]]
    if filters.get("ip"):
        rows = filter_by_ip(cloud, rows, *filters["ip"])
    return rows


def _show_statement(with_ports: bool) -> Any:
    """The server's view columns and three flags (has a volume, is in a group, has a port)
    in one statement: most servers have none, and then nothing more is read."""
    from sqlalchemy import bindparam, exists, true

    from pocketstack.compute.models import BlockDeviceMapping, ServerGroup

    bdm = BlockDeviceMapping
    flags = [exists().where(bdm.destination_type == "volume",
                            bdm.instance_uuid == Instance.uuid).label("_has_volume"),
             exists().where(type_coerce(ServerGroup.members, Text).contains(
                 bindparam("member"))).label("_in_group")]
    if with_ports:
        from pocketstack.network.models import Port

        flags.append(exists().where(Port.device_id == Instance.uuid).label("_has_port"))
    else:
        flags.append(true().label("_has_port"))
    return select(*(getattr(Instance, c) for c in SHOW_COLUMNS), *flags).where(
        Instance.uuid == bindparam("uuid"))


SHOW_COLUMNS = (*VIEW_COLUMNS, "deleted")
_SHOW: dict[bool, Any] = {}
_SHOW_TEXT: dict[bool, tuple[str, dict[str, Any]]] = {}


def show_server(db: "Database", cloud: Any, uuid: str) -> tuple[Any, dict[str, Any]]:
    """The instance's view columns as a :class:`ServerRow` (or None) and what its view would
    otherwise ask in three more sessions, all in one read: attached volumes, server groups,
    and whether it has ports. The extras are for the view's per-request caches
    (``req._volumes_attached``, ``req._server_groups``, ``req._ports`` when the server has
    no port). One plain statement (no ORM objects) for a server with none of them."""
    from pocketstack.compute.models import BlockDeviceMapping, ServerGroup

    net = getattr(cloud.service("network"), "net", None)
    with_ports = net is not None and getattr(net, "db", None) is db
    stmt = _SHOW.get(with_ports)
    if stmt is None:
        stmt = _SHOW[with_ports] = _show_statement(with_ports)
    extras: dict[str, Any] = {}
    found = _show_row(db, stmt, with_ports, {"uuid": uuid, "member": f'"{uuid}"'})
    if found is None:
        return None, extras
    values, has_volume, in_group, has_port = found
    if not has_port:
        extras["_ports"] = {uuid: []}  # no port: no address or group to look up
    volumes: list[tuple[Any, ...]] = []
    groups: list[str] = []
    if has_volume or in_group:  # (the usual server has neither: nothing more to read)
        with db.reader.connect() as conn:
            if has_volume:
                volumes = [tuple(r) for r in conn.execute(
                    select(BlockDeviceMapping.volume_id,
                           BlockDeviceMapping.delete_on_termination)
                    .where(BlockDeviceMapping.destination_type == "volume",
                           BlockDeviceMapping.instance_uuid == uuid)
                    .order_by(BlockDeviceMapping.id))]
            if in_group:
                groups = [g for g, members in conn.execute(
                    select(ServerGroup.uuid, ServerGroup.members).where(
                        type_coerce(ServerGroup.members, Text).contains(f'"{uuid}"')))
                          if uuid in (members or [])]
    extras["_volumes_attached"] = {"*": False, uuid: volumes}
    extras["_server_groups"] = groups
    return ServerRow(values), extras


def _show_row(db: "Database", stmt: Any, with_ports: bool, params: dict[str, Any]
              ) -> tuple[dict[str, Any], Any, Any, Any] | None:
    """The show statement's row: (view values, has a volume, is in a group, has a port),
    None when there is no such server. On SQLite as SQL text on the thread's reader
    connection (compiled once, the values through the columns' own processors)."""
    if not db.is_sqlite:
        with db.reader.connect() as conn:
            row = conn.execute(stmt, params).first()
        if row is None:
            return None
        values = row._asdict()
        return (values, values.pop("_has_volume"), values.pop("_in_group"),
                values.pop("_has_port"))
    compiled = _SHOW_TEXT.get(with_ports)
    if compiled is None:
        from sqlalchemy.dialects import sqlite

        c = stmt.compile(dialect=sqlite.dialect(paramstyle="named"))
        compiled = _SHOW_TEXT[with_ports] = (str(c), c.params)  # (with its constants)
    with db.raw_read() as tx:
        raw = tx.one(compiled[0], {**compiled[1], **params})
    if raw is None:
        return None
    n = len(SHOW_COLUMNS)
    return db.codec(Instance).load(raw[:n], SHOW_COLUMNS), raw[n], raw[n + 1], raw[n + 2]
