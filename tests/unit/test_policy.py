"""The oslo.policy-language parser and enforcer."""

from __future__ import annotations

import pytest

from pocketstack.api.errors import PolicyNotAuthorized
from pocketstack.policy.enforcer import Enforcer, RuleDefault, register_defaults
from pocketstack.policy.parser import ParseError, parse_rule

ADMIN = {"roles": ["admin", "member", "reader"], "project_id": "p1", "user_id": "u1",
         "system_scope": None, "is_admin": True}
MEMBER = {"roles": ["member", "reader"], "project_id": "p1", "user_id": "u2",
          "system_scope": None, "is_admin": False}


def check(rule, creds, target=None, rules=None):
    rules = rules or {}
    return parse_rule(rule)(target or {}, creds, lambda n: rules.get(n))


def test_basic_checks():
    assert check("@", MEMBER) and not check("!", ADMIN)
    assert check("", MEMBER)
    assert check("role:admin", ADMIN) and not check("role:admin", MEMBER)
    assert check("role:ADMIN", ADMIN)


def test_boolean_operators_and_parentheses():
    assert check("role:admin or role:member", MEMBER)
    assert not check("role:admin and role:member", MEMBER)
    assert check("not role:admin", MEMBER)
    assert check("(role:admin or role:member) and project_id:%(project_id)s", MEMBER,
                 {"project_id": "p1"})
    assert not check("(role:admin or role:member) and project_id:%(project_id)s", MEMBER,
                     {"project_id": "p2"})


def test_target_substitution_nested_and_missing():
    target = {"target": {"user": {"id": "u2"}}}
    assert check("user_id:%(target.user.id)s", MEMBER, target)
    assert not check("user_id:%(target.user.id)s", ADMIN, target)
    assert not check("user_id:%(missing)s", MEMBER, target)


def test_literals_and_constants():
    assert check("is_admin:True", ADMIN) and not check("is_admin:True", MEMBER)
    assert check("'p1':%(project_id)s", MEMBER, {"project_id": "p1"})
    assert check("system_scope:all", {**ADMIN, "system_scope": "all"})
    assert not check("system_scope:all", ADMIN)


def test_rule_references_and_loops():
    rules = {"a": parse_rule("rule:b"), "b": parse_rule("role:member")}
    assert check("rule:a", MEMBER, rules=rules)
    loop = {"x": parse_rule("rule:x")}
    assert not check("rule:x", MEMBER, rules=loop)
    assert not check("rule:undefined", ADMIN)


def test_list_form_and_errors():
    assert parse_rule([["role:admin"], ["role:member"]])({}, MEMBER, lambda n: None)
    for bad in ("role:admin or", "(role:admin", "role:admin)", "and role:x", "nocolon"):
        with pytest.raises(ParseError):
            parse_rule(bad)


def test_enforcer_override_file(tmp_path):
    register_defaults([RuleDefault("test:thing", "role:admin")])
    path = tmp_path / "policy.yaml"
    enforcer = Enforcer(str(path))
    assert enforcer.authorize("test:thing", {}, ADMIN)
    with pytest.raises(PolicyNotAuthorized):
        enforcer.enforce("test:thing", {}, MEMBER)
    path.write_text('"test:thing": "role:member"\n')
    enforcer._checked_at = 0  # skip the once-a-second file check
    assert enforcer.authorize("test:thing", {}, MEMBER)
    path.write_text("{ this is not yaml: [")
    enforcer._checked_at = 0
    enforcer._mtime = None
    assert enforcer.authorize("test:thing", {}, MEMBER)  # broken file keeps the last good rules
    assert not enforcer.authorize("test:unknown", {}, ADMIN)


def test_enforcer_memoizes_decisions_by_what_the_rule_reads(tmp_path):
    register_defaults([
        RuleDefault("test:owner", "rule:test:admin or project_id:%(project_id)s"),
        RuleDefault("test:admin", "role:admin and is_admin:True"),
        RuleDefault("test:nested", "user_id:%(target.user.id)s"),
    ])
    enforcer = Enforcer(str(tmp_path / "policy.yaml"))
    # the same question twice, and the questions that differ only in what the rule reads
    for _ in range(2):
        assert enforcer.authorize("test:owner", {"project_id": "p1", "server_id": "a"}, MEMBER)
        assert enforcer.authorize("test:owner", {"project_id": "p1", "server_id": "b"}, MEMBER)
        assert not enforcer.authorize("test:owner", {"project_id": "p2"}, MEMBER)
        assert enforcer.authorize("test:owner", {"project_id": "p2"}, ADMIN)
        assert not enforcer.authorize("test:owner", {"project_id": "p2"},
                                      {**ADMIN, "is_admin": False})
        assert not enforcer.authorize("test:owner", {"project_id": "p2"},
                                      {**ADMIN, "roles": ["member"]})
        assert enforcer.authorize("test:nested", {"target": {"user": {"id": "u2"}}}, MEMBER)
        assert not enforcer.authorize("test:nested", {"target": {"user": {"id": "u3"}}},
                                      MEMBER)
        assert not enforcer.authorize("test:nested", {}, MEMBER)
    # a rule that reads a dictionary is decided each time (not memoized): still right
    register_defaults([RuleDefault("test:dict", "token.x:%(x)s")])
    assert enforcer.authorize("test:dict", {"x": "1"}, {"token": {"x": "1"}})
    assert not enforcer.authorize("test:dict", {"x": "1"}, {"token": {"x": "2"}})
    # an override file: the decisions made under the old rules are forgotten
    (tmp_path / "policy.yaml").write_text('"test:owner": "!"\n')
    enforcer._checked_at = 0
    assert not enforcer.authorize("test:owner", {"project_id": "p1"}, MEMBER)
