"""Allocation candidates: which providers (trees) can satisfy a request, in memory.

The whole provider picture is loaded with a few bulk queries (:class:`Snapshot`);
each provider tree is then examined on its own. The unsuffixed request group may
be spread over several providers of one tree; each suffixed group is satisfied by
one provider. Sharing providers (trait MISC_SHARES_VIA_AGGREGATE) lend their
resources to every tree that has a provider in one of their aggregates.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from pocketstack.db import Database
from pocketstack.placement.snapshot import Prov, Snapshot, traits_ok

MAX_PER_TREE = 200  # bound on the combinations examined in one tree
SHARES = "MISC_SHARES_VIA_AGGREGATE"


@dataclass
class RequestGroup:
    suffix: str = ""
    resources: dict[str, int] = field(default_factory=dict)
    required: list[set[str]] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    member_of: list[tuple[set[str] | None, set[str]]] = field(default_factory=list)
    in_tree: str | None = None


@dataclass
class CandidateRequest:
    groups: list[RequestGroup]
    limit: int | None = None
    group_policy: str | None = None
    root_required: list[set[str]] = field(default_factory=list)
    root_forbidden: set[str] = field(default_factory=set)
    same_subtree: list[list[str]] = field(default_factory=list)


@dataclass
class Candidate:
    allocations: dict[str, dict[str, int]]  # rp uuid -> rc -> amount
    mappings: dict[str, list[str]]          # suffix -> rp uuids
    root: int


class CandidateFinder:
    def __init__(self, db: Database, randomize: bool = False, max_candidates: int = -1
                 ) -> None:
        self.db = db
        self.randomize = randomize
        self.max_candidates = max_candidates

    def find(self, request: CandidateRequest) -> tuple[list[Candidate], Snapshot]:
        with self.db.read() as s:
            snap = Snapshot(s)
        limit = request.limit
        if self.max_candidates > 0:
            limit = min(limit or self.max_candidates, self.max_candidates)
        trees = list(snap.trees.items())
        if self.randomize:
            random.shuffle(trees)
        sharing: dict[str, list[Prov]] = {}
        for p in snap.by_id.values():
            if SHARES in p.traits:
                for agg in p.aggregates:
                    sharing.setdefault(agg, []).append(p)
        out: list[Candidate] = []
        seen: set[tuple[Any, ...]] = set()
        for root_id, tree in trees:
            shared: list[Prov] = []
            if sharing:
                ids = {p.id for p in tree}
                for agg in sorted(set().union(*(p.aggregates for p in tree))):
                    for sp in sharing.get(agg, []):
                        if sp.id not in ids:
                            ids.add(sp.id)
                            shared.append(sp)
            found = self._tree(snap, root_id, tree, shared, request, seen)
            out.extend(found)
            if limit is not None and len(out) >= limit:
                return out[:limit], snap
        return out, snap

    # -- one tree -------------------------------------------------------------------
    def _tree(self, snap: Snapshot, root_id: int, tree: list[Prov], shared: list[Prov],
              req: CandidateRequest, seen: set[tuple[Any, ...]]) -> list[Candidate]:
        root = snap.by_id[root_id]
        if not traits_ok(root.traits, req.root_required, req.root_forbidden):
            return []
        options: list[list[dict[str, dict[str, int]]]] = []
        for g in req.groups:
            if g.in_tree is not None:
                anchor = snap.by_uuid.get(g.in_tree)
                if anchor is None or anchor.root_id != root_id:
                    return []
            pool = tree if g.in_tree is not None else tree + shared
            opts = self._group_options(snap, pool, g)
            if not opts:
                return []
            options.append(opts)
        results: list[Candidate] = []
        for combo in itertools.islice(itertools.product(*options), MAX_PER_TREE):
            cand = self._merge(snap, req, combo)
            if cand is None:
                continue
            key = (tuple(sorted((u, tuple(sorted(r.items()))) for u, r in
                                cand.allocations.items())),
                   tuple(sorted((k, tuple(v)) for k, v in cand.mappings.items())))
            if key in seen:
                continue
            seen.add(key)
            cand.root = root_id
            results.append(cand)
        return results

    @staticmethod
    def _group_options(snap: Snapshot, tree: list[Prov], g: RequestGroup
                       ) -> list[dict[str, dict[str, int]]]:
        """Ways this group alone can be placed in ``tree``: {rp_uuid: {rc: amount}}."""
        eligible = [p for p in tree if not g.member_of or snap.member_ok(p, g.member_of)]
        if not g.resources:
            # a trait-only group: one provider with the traits
            return [{p.uuid: {}} for p in eligible
                    if traits_ok(p.traits, g.required, g.forbidden)]
        if g.suffix:
            return [{p.uuid: dict(g.resources)} for p in eligible
                    if traits_ok(p.traits, g.required, g.forbidden)
                    and all(p.fits(rc, n) for rc, n in g.resources.items())]
        # unsuffixed: each class from any provider of the tree; traits over the union
        per_class = []
        for rc, n in g.resources.items():
            providers = [p for p in eligible if p.fits(rc, n) and not p.traits & g.forbidden]
            if not providers:
                return []
            per_class.append([(p, rc, n) for p in providers])
        out = []
        for combo in itertools.islice(itertools.product(*per_class), MAX_PER_TREE):
            used = {p.uuid: p for p, _, _ in combo}
            union = set().union(*(p.traits for p in used.values()))
            if not traits_ok(union, g.required, g.forbidden):
                continue
            alloc: dict[str, dict[str, int]] = {}
            for p, rc, n in combo:
                alloc.setdefault(p.uuid, {})[rc] = n
            out.append(alloc)
        return out

    @staticmethod
    def _merge(snap: Snapshot, req: CandidateRequest,
               combo: tuple[dict[str, dict[str, int]], ...]) -> Candidate | None:
        allocations: dict[str, dict[str, int]] = {}
        mappings: dict[str, list[str]] = {}
        suffixed: list[str] = []
        for g, alloc in zip(req.groups, combo):
            mappings[g.suffix] = sorted(alloc)
            if g.suffix:
                suffixed.extend(alloc)
            for u, res in alloc.items():
                target = allocations.setdefault(u, {})
                for rc, n in res.items():
                    target[rc] = target.get(rc, 0) + n
        if req.group_policy == "isolate" and len(suffixed) != len(set(suffixed)):
            return None
        for u, res in allocations.items():
            p = snap.by_uuid[u]
            for rc, n in res.items():
                inv = p.inventories[rc]
                if p.used.get(rc, 0) + n > inv.capacity:
                    return None
        for suffixes in req.same_subtree:
            members = [snap.by_uuid[u] for sfx in suffixes for u in mappings.get(sfx, [])]
            if not any(all(top.id in snap.ancestors(m) for m in members) for top in members):
                return None
        allocations = {u: r for u, r in allocations.items() if r}
        return Candidate(allocations, mappings, 0)

    # -- rendering ----------------------------------------------------------------
    @staticmethod
    def render(cands: list[Candidate], snap: Snapshot, requested: set[str],
               version: tuple[int, int]) -> dict[str, Any]:
        requests = []
        for c in cands:
            if version >= (1, 12):
                body: dict[str, Any] = {"allocations": {
                    u: {"resources": r} for u, r in c.allocations.items()}}
            else:
                body = {"allocations": [{"resource_provider": {"uuid": u}, "resources": r}
                                        for u, r in c.allocations.items()]}
            if version >= (1, 34):
                body["mappings"] = c.mappings
            requests.append(body)
        # which providers are summarised: whole trees from 1.29, else the ones used
        summarised: list[Prov] = []
        seen: set[int] = set()
        for c in cands:
            used = [snap.by_uuid[u] for u in c.allocations]
            provs = used
            if version >= (1, 29):
                provs = [p for root in dict.fromkeys([c.root] + [u.root_id for u in used])
                         for p in snap.trees[root]]
            for p in provs:
                if p.id not in seen:
                    seen.add(p.id)
                    summarised.append(p)
        summaries = {}
        for p in summarised:
            classes = p.inventories if version >= (1, 27) else \
                [rc for rc in p.inventories if rc in requested]
            entry: dict[str, Any] = {"resources": {
                rc: {"capacity": p.inventories[rc].capacity, "used": p.used.get(rc, 0)}
                for rc in classes}}
            if version >= (1, 17):
                entry["traits"] = sorted(p.traits)
            if version >= (1, 29):
                entry["parent_provider_uuid"] = snap.uuid_of(p.parent_id)
                entry["root_provider_uuid"] = snap.uuid_of(p.root_id)
            summaries[p.uuid] = entry
        return {"allocation_requests": requests, "provider_summaries": summaries}
