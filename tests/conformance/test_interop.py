"""Tempest against a fresh pocketstack: every test of expected-pass.txt must pass.

Tempest is installed into its own virtualenv on first use (see
pocketstack.conformance.tempest_env); without network the test is skipped.
"""

from __future__ import annotations

import json
import os

import pytest

from pocketstack.conformance import results
from pocketstack.conformance.runner import Options, run
from pocketstack.conformance.tempest_env import TempestEnv, TempestUnavailable

pytestmark = pytest.mark.conformance

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected-pass.txt")


@pytest.fixture(scope="module")
def tempest() -> TempestEnv:
    env = TempestEnv()
    try:
        env.ensure(log=lambda msg: None)
    except TempestUnavailable as exc:
        pytest.skip(f"Tempest cannot be installed (no network?): {exc}")
    return env


def test_expected_pass_tests_pass(tempest: TempestEnv, tmp_path) -> None:
    expected = results.read_test_list(EXPECTED)
    assert expected, "expected-pass.txt lists no test"
    report_path = str(tmp_path / "conformance-report.json")
    report = run(Options(tests_file=EXPECTED, report_path=report_path,
                         workdir=str(tmp_path / "work"), tempest_venv=tempest.venv),
                 log=lambda msg: None)
    with open(report_path, encoding="utf-8") as f:
        assert json.load(f)["totals"] == report["totals"]
    problems = [f"FAILED {f['id']}: {f['error']}" for f in report["failed"]]
    problems += [f"SKIPPED {s['id']}: {s['reason']}" for s in report["skipped"]]
    problems += [f"NOT RUN ({component} not in the catalog) {t}"
                 for component, tests in report["not_selected"].items() for t in tests]
    assert not problems, "\n" + results.format_summary(report) + "\n" + "\n".join(problems)
    assert sorted(report["passed"]) == sorted(expected)
