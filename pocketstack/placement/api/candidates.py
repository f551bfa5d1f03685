"""GET /allocation_candidates."""

from __future__ import annotations

import re
from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.placement import common
from pocketstack.placement.api.common import check_classes, one_query
from pocketstack.placement.api.providers import (check_traits_exist, parse_member_of,
                                                 parse_required)
from pocketstack.placement.candidates import CandidateFinder, CandidateRequest, RequestGroup
from pocketstack.placement.manager import Placement

_GROUPED = re.compile(r"^(resources|required|member_of|in_tree)(.*)$")


class AllocationCandidates:
    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self.finder = placement.candidates

    @route("GET", "/allocation_candidates", min_version="1.10",
           policy="placement:allocation_candidates:list")
    def list(self, req: Request) -> dict[str, Any]:
        groups: dict[str, RequestGroup] = {}
        other = {"limit": "1.16", "group_policy": "1.25", "root_required": "1.35",
                 "same_subtree": "1.36"}
        for key in req.query.keys():
            m = _GROUPED.match(key)
            if m:
                prefix, suffix = m.groups()
                if suffix and (not req.at_least("1.25") or not common.SUFFIX.match(suffix) or
                               (not req.at_least("1.33") and not suffix.isdigit())):
                    raise common.bad_request(f"Invalid query string parameters: '{key}' is "
                                             "not allowed", common.QUERY_BAD_VALUE)
                min_v = {"resources": "1.10", "required": "1.17", "member_of": "1.21",
                         "in_tree": "1.31"}[prefix]
                if not req.at_least(min_v):
                    raise common.bad_request(f"Invalid query string parameters: '{key}' was "
                                             "unexpected", common.QUERY_BAD_VALUE)
                groups.setdefault(suffix, RequestGroup(suffix=suffix))
            elif key not in other or not req.at_least(other[key]):
                raise common.bad_request(f"Invalid query string parameters: Additional "
                                         f"properties are not allowed ('{key}' was "
                                         "unexpected)", common.QUERY_BAD_VALUE)
        for suffix, g in groups.items():
            text = one_query(req, f"resources{suffix}")
            if text is None and not req.at_least("1.36"):  # resourceless groups: 1.36
                raise common.bad_request(f"All request groups must specify resources. "
                                         f"'resources{suffix}' is missing.",
                                         common.QUERY_MISSING_VALUE)
            if text is not None:
                g.resources = common.parse_resources(text, f"resources{suffix}")
            g.required, g.forbidden = parse_required(req, f"required{suffix}")
            g.member_of = parse_member_of(req, f"member_of{suffix}")
            in_tree = one_query(req, f"in_tree{suffix}")
            if in_tree is not None:
                if not common.is_uuid(in_tree):
                    raise common.bad_request(f"Invalid query string parameters: Expected "
                                             f"'in_tree' parameter to be a format of uuid. "
                                             f"Got: {in_tree}", common.QUERY_BAD_VALUE)
                g.in_tree = common.normalize_uuid(in_tree)
        if not any(g.resources for g in groups.values()):
            raise common.bad_request("At least one request group (`resources` or "
                                     "`resources{$S}`) is required.",
                                     common.QUERY_MISSING_VALUE)
        request = CandidateRequest(sorted(groups.values(), key=lambda g: g.suffix))
        limit = one_query(req, "limit")
        if limit is not None:
            if not limit.isdigit() or int(limit) < 1:
                raise common.bad_request("Invalid query string parameters: 'limit' must be a "
                                         "positive integer", common.QUERY_BAD_VALUE)
            request.limit = int(limit)
        policy = one_query(req, "group_policy")
        suffixed = [s for s in groups if s]
        if policy is not None and policy not in ("none", "isolate"):
            raise common.bad_request(f"Invalid query string parameters: 'group_policy' must "
                                     f"be none or isolate. Got: {policy}",
                                     common.QUERY_BAD_VALUE)
        if len(suffixed) > 1 and policy is None:
            raise common.bad_request("The \"group_policy\" parameter is required when "
                                     "specifying more than one \"resources{N}\" parameter.",
                                     common.QUERY_MISSING_VALUE)
        request.group_policy = policy
        root = one_query(req, "root_required")
        if root is not None:
            r, f = common.parse_traits(root, True, False)
            request.root_required, request.root_forbidden = r, f
        for text in req.query.getlist("same_subtree"):
            parts = [p.strip() for p in text.split(",")]
            for p in parts:
                if p not in groups:
                    raise common.bad_request(f"Real suffixes should be specified in "
                                             f"same_subtree: {p} not found.",
                                             common.QUERY_BAD_VALUE)
            request.same_subtree.append(parts)
        names = request.root_forbidden.union(*request.root_required)
        for g in groups.values():
            names |= g.forbidden.union(*g.required)
        check_traits_exist(self.placement, names)
        check_classes(self.placement, {rc for g in groups.values() for rc in g.resources})
        cands, snap = self.finder.find(request)
        requested = {rc for g in groups.values() for rc in g.resources}
        return CandidateFinder.render(cands, snap, requested, req.version or (1, 10))
