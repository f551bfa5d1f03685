"""The policy enforcer: named rules with defaults, overridable from policy.yaml.

Each service registers its default rules (OpenStack's secure-RBAC defaults, with
``admin`` implying ``member`` implying ``reader``) next to its code. An operator
overrides any rule in ``DATA_DIR/policy.yaml``; the file is re-read when it
changes, without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from pocketstack.api.errors import PolicyNotAuthorized
from pocketstack.policy.parser import Check, ParseError, lookup, parse_rule, reads

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleDefault:
    name: str
    check_str: str
    description: str = ""
    scope_types: tuple[str, ...] = field(default=())


_DEFAULTS: dict[str, RuleDefault] = {}


def register_defaults(rules: list[RuleDefault]) -> None:
    for rule in rules:
        _DEFAULTS[rule.name] = rule


def registered_defaults() -> dict[str, RuleDefault]:
    return dict(_DEFAULTS)


# Rules shared by every service.
register_defaults([
    RuleDefault("admin_required", "role:admin"),
    RuleDefault("service_role", "role:service"),
    RuleDefault("service_or_admin", "rule:admin_required or rule:service_role"),
    RuleDefault("owner", "project_id:%(project_id)s"),
    RuleDefault("admin_or_owner", "rule:admin_required or rule:owner"),
    RuleDefault("project_member", "role:member and project_id:%(project_id)s"),
    RuleDefault("project_reader", "role:reader and project_id:%(project_id)s"),
    RuleDefault("project_member_or_admin", "rule:project_member or rule:admin_required"),
    RuleDefault("project_reader_or_admin", "rule:project_reader or rule:admin_required"),
    RuleDefault("system_reader", "role:reader and system_scope:all"),
    RuleDefault("system_admin", "role:admin and system_scope:all"),
])


def _hashable(value: Any) -> Any:
    """The value with its type (1 and True, "1" and 1 decide differently)."""
    return (value.__class__, tuple(value) if isinstance(value, list) else value)


class Enforcer:
    RELOAD_CHECK_INTERVAL = 1.0

    def __init__(self, policy_file: str | None = None) -> None:
        self.policy_file = policy_file
        self._lock = threading.Lock()
        self._overrides: dict[str, Check] = {}
        self._parsed: dict[str, Check] = {}
        self._mtime: float | None = None
        self._checked_at = 0.0
        # decisions by (action, the values the rule reads): a request checks a rule or
        # two per call with the same few credentials; emptied when the rules change
        self._reads: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}
        self._decisions: dict[tuple[Any, ...], bool] = {}
        self._load_overrides()

    # -- loading --------------------------------------------------------------
    def _load_overrides(self) -> None:
        path = self.policy_file
        if not path or not os.path.exists(path):
            if self._overrides:
                LOG.info("policy file %s removed: back to default rules", path)
            self._overrides, self._mtime = {}, None
            self._reads, self._decisions = {}, {}
            return
        mtime = os.stat(path).st_mtime
        if mtime == self._mtime:
            return
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            data = (json.loads(text) if path.endswith(".json") else yaml.safe_load(text)) or {}
            if not isinstance(data, dict):
                raise ValueError("policy file must hold a mapping of rule names to rules")
            overrides = {str(name): parse_rule(rule) for name, rule in data.items()}
        except (OSError, ValueError, ParseError, yaml.YAMLError) as exc:
            # Keep the rules in force rather than fail open or closed on a typo.
            LOG.error("policy file %s not loaded, keeping the previous rules: %s", path, exc)
            self._mtime = mtime
            return
        self._overrides, self._mtime = overrides, mtime
        self._reads, self._decisions = {}, {}
        LOG.info("policy file %s loaded: %d overridden rules", path, len(overrides))

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.RELOAD_CHECK_INTERVAL:
            return
        with self._lock:
            self._checked_at = now
            self._load_overrides()

    def rule(self, name: str) -> Check | None:
        override = self._overrides.get(name)
        if override is not None:
            return override
        parsed = self._parsed.get(name)
        if parsed is None:
            default = _DEFAULTS.get(name)
            if default is None:
                return None
            parsed = self._parsed[name] = parse_rule(default.check_str)
        return parsed

    # -- checking -------------------------------------------------------------
    def authorize(self, action: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> bool:
        self._maybe_reload()
        rule = self.rule(action)
        if rule is None:
            LOG.warning("no policy rule named %s: denying", action)
            return False
        key = self._decision_key(action, rule, target, creds)
        if key is None:
            return bool(rule(target, creds, self.rule))
        decision = self._decisions.get(key)
        if decision is None:
            decision = bool(rule(target, creds, self.rule))
            if len(self._decisions) > 20_000:
                self._decisions = {}
            self._decisions[key] = decision
        return decision

    def _decision_key(self, action: str, rule: Check, target: Mapping[str, Any],
                      creds: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """What the decision depends on: the rule and the values it reads, or None when
        they cannot be told (or hashed)."""
        if action not in self._reads:
            found = reads(rule, self.rule)
            self._reads[action] = None if found is None else (tuple(sorted(found[0])),
                                                             tuple(sorted(found[1])))
        names = self._reads[action]
        if names is None:
            return None
        values: list[Any] = [action]
        for name in names[0]:
            values.append(_hashable(lookup(target, name)))
        values.append("|")
        for name in names[1]:
            values.append(_hashable(creds.get(name)))
        key = tuple(values)
        try:
            hash(key)
        except TypeError:  # a dictionary or such: not memoized
            return None
        return key

    def enforce(self, action: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> None:
        if not self.authorize(action, target, creds):
            raise PolicyNotAuthorized(action)
