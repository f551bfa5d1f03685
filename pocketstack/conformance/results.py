"""Test lists in, results out: reading interop lists, reading subunit, the report."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from pocketstack.conformance.tempestconf import COMPONENT_SERVICE

_ID = re.compile(r"(tempest\.[A-Za-z0-9_.]+)")

# Run with Tempest's own interpreter (it has python-subunit and testtools): subunit v2 on
# stdin, one JSON object {test id: {status, details}} on stdout.
_SUBUNIT_TO_JSON = r"""
import json, sys
import subunit, testtools
results = {}
def on_test(test):
    details = {}
    for name, content in (test.get("details") or {}).items():
        try:
            details[name] = content.as_text()
        except Exception:
            pass
    results[test["id"]] = {"status": test["status"], "details": details}
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
result = testtools.StreamToDict(on_test)
result.startTestRun()
stream.run(result)
result.stopTestRun()
json.dump(results, sys.stdout)
"""


def read_test_list(path: str) -> list[str]:
    """Test ids of an interop list (one a line; comments and ``[guideline] component`` ok)."""
    tests: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            match = _ID.search(line)
            if match and match.group(1) not in tests:
                tests.append(match.group(1).rstrip("."))
    return tests


def base_id(test_id: str) -> str:
    """``tempest.api.x.Class.test_y[id-...,smoke]`` -> ``tempest.api.x.Class.test_y``."""
    return test_id.split("[", 1)[0]


def component(test_id: str) -> str:
    parts = test_id.split(".")
    if len(parts) > 2 and parts[0] == "tempest" and parts[1] == "api":
        return parts[2]
    return parts[1] if len(parts) > 1 else test_id


def service_of(test_id: str) -> str | None:
    return COMPONENT_SERVICE.get(component(test_id))


def include_regex(test_id: str) -> str:
    return "^" + re.escape(test_id) + r"(\[.*\])?$"


def parse_subunit(python: str, stream: bytes) -> dict[str, dict[str, Any]]:
    proc = subprocess.run([python, "-c", _SUBUNIT_TO_JSON], input=stream,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("cannot read the subunit stream: " + proc.stderr.decode()[-2000:])
    return json.loads(proc.stdout or b"{}")


def first_error_line(details: dict[str, str]) -> str:
    text = details.get("traceback") or ""
    if not text:
        for key in ("reason", "stdout", "stderr"):
            if details.get(key):
                return details[key].strip().splitlines()[0]
        return "(no details)"
    lines = text.rstrip().splitlines()
    start = max((i for i, ln in enumerate(lines) if ln.startswith("Traceback")), default=0)
    rest = lines[start + 1:]
    for i, ln in enumerate(rest):
        if ln and not ln.startswith(" "):
            following = rest[i + 1].strip() if i + 1 < len(rest) else ""
            if following.startswith("Details:"):
                return f"{ln.strip()} {following}"
            return ln.strip()
    return lines[-1].strip()


def _class_of(test_id: str) -> str:
    return base_id(test_id).rsplit(".", 1)[0]


def summarise(requested: list[str] | None, results: dict[str, dict[str, Any]],
              not_selected: dict[str, list[str]]) -> dict[str, Any]:
    """The report: per component counts, passed/failed/skipped with reasons."""
    passed: list[str] = []
    failed: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    fixture_errors: dict[str, str] = {}  # class -> first error line of setUpClass & co
    fixture_skips: dict[str, str] = {}  # class -> why the whole class was skipped
    seen: set[str] = set()
    for test_id, res in sorted(results.items()):
        status = res["status"]
        if "(" in test_id and test_id.endswith(")"):  # setUpClass (tempest.x.Class)
            cls = test_id.rsplit("(", 1)[1][:-1]
            if status == "fail":
                fixture_errors[cls] = f"{test_id.split(' ')[0]}: " + \
                    first_error_line(res["details"])
            elif status == "skip":
                fixture_skips[cls] = first_error_line(res["details"])
            continue
        tid = base_id(test_id)
        seen.add(tid)
        if status in ("success", "xfail"):
            passed.append(tid)
        elif status == "skip":
            skipped.append({"id": tid, "reason": first_error_line(res["details"])})
        elif status in ("fail", "uxsuccess"):
            failed.append({"id": tid, "error": first_error_line(res["details"]),
                           "traceback": res["details"].get("traceback", "")[-4000:]})
    for tid in requested or []:
        if tid in seen:
            continue
        if _class_of(tid) in fixture_skips and _class_of(tid) not in fixture_errors:
            skipped.append({"id": tid, "reason": fixture_skips[_class_of(tid)]})
        else:
            error = fixture_errors.get(_class_of(tid), "test did not run (no result)")
            failed.append({"id": tid, "error": error, "traceback": ""})
    if not requested:  # a regex run: whole classes stand for their tests
        for cls, error in fixture_errors.items():
            if not any(_class_of(t) == cls for t in seen):
                failed.append({"id": cls, "error": error, "traceback": ""})
        for cls, reason in fixture_skips.items():
            if cls not in fixture_errors and not any(_class_of(t) == cls for t in seen):
                skipped.append({"id": cls, "reason": reason})
    components: dict[str, dict[str, int]] = {}

    def bump(tid: str, key: str) -> None:
        counts = components.setdefault(component(tid), {"passed": 0, "failed": 0,
                                                        "skipped": 0})
        counts[key] += 1

    for tid in passed:
        bump(tid, "passed")
    for item in failed:
        bump(item["id"], "failed")
    for item in skipped:
        bump(item["id"], "skipped")
    totals = {k: sum(c[k] for c in components.values()) for k in ("passed", "failed",
                                                                   "skipped")}
    return {"components": dict(sorted(components.items())), "totals": totals,
            "passed": sorted(passed), "failed": sorted(failed, key=lambda f: f["id"]),
            "skipped": sorted(skipped, key=lambda s: s["id"]),
            "not_selected": {k: sorted(v) for k, v in sorted(not_selected.items())}}


def format_summary(report: dict[str, Any]) -> str:
    out = []
    width = max([len(c) for c in report["components"]] + [9])
    out.append(f"{'component'.ljust(width)}  passed  failed  skipped")
    for name, c in report["components"].items():
        out.append(f"{name.ljust(width)}  {c['passed']:6d}  {c['failed']:6d}  {c['skipped']:7d}")
    t = report["totals"]
    out.append(f"{'total'.ljust(width)}  {t['passed']:6d}  {t['failed']:6d}  {t['skipped']:7d}")
    for name, tests in report["not_selected"].items():
        out.append(f"not run ({name} unavailable or not requested): {len(tests)} tests")
    if report["failed"]:
        out.append("")
        out.append("failures:")
        for item in report["failed"]:
            out.append(f"  FAIL {item['id']}")
            out.append(f"       {item['error'][:300]}")
    return "\n".join(out)
