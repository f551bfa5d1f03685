"""``pocketstack conformance``: run (a part of) the interop test list against a fresh cloud."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketstack.conformance import results
from pocketstack.conformance.cloudproc import CloudProcess
from pocketstack.conformance.tempest_env import TEMPEST_REQUIREMENT, TempestEnv
from pocketstack.conformance.tempestconf import COMPONENT_SERVICE, CloudFacts, build_config

LIST_DIR_ENV = "POCKETSTACK_CONFORMANCE_DIR"
DEFAULT_LIST = "interop-2020.06-required.txt"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def conformance_dir() -> str:
    """Where the interop lists live: $POCKETSTACK_CONFORMANCE_DIR or ../shared/conformance."""
    if os.environ.get(LIST_DIR_ENV):
        return os.path.abspath(os.environ[LIST_DIR_ENV])
    return os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "conformance"))


def default_test_list() -> str:
    return os.path.join(conformance_dir(), DEFAULT_LIST)


def _normalise_services(names: list[str] | None) -> set[str] | None:
    """``identity,compute`` or ``keystone,nova`` -> Tempest service names."""
    if not names:
        return None
    aliases = dict(COMPONENT_SERVICE)
    aliases.update({"object-store": "swift", "block-storage": "cinder", "volumev3": "cinder"})
    out = set()
    for name in names:
        name = name.strip().lower()
        if name:
            out.add(aliases.get(name, name))
    return out


@dataclass
class Options:
    tests_file: str | None = None
    regex: str | None = None  # run every test matching this instead of a list
    services: list[str] | None = None
    report_path: str = "conformance-report.json"
    concurrency: int = 2
    workdir: str | None = None  # keep cloud data and Tempest workspace here
    tempest_venv: str | None = None
    timeout: float = 3600
    extra_cloud_args: list[str] = field(default_factory=list)
    cloud_config: str | None = None  # the started cloud's pocketstack.conf
    cloud: Any = None  # a running CloudProcess to test instead of starting one


def select(tests: list[str], available: set[str],
           wanted: set[str] | None) -> tuple[list[str], dict[str, list[str]]]:
    selected: list[str] = []
    left_out: dict[str, list[str]] = {}
    for tid in tests:
        service = results.service_of(tid)
        if service in available and (wanted is None or service in wanted):
            selected.append(tid)
        else:
            left_out.setdefault(results.component(tid), []).append(tid)
    return selected, left_out


def run(opts: Options, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Do a whole conformance run; returns the report (also written to opts.report_path)."""
    tempest = TempestEnv(opts.tempest_venv)
    tempest.ensure(log=log)  # raises TempestUnavailable
    tests: list[str] | None = None
    if not opts.regex:
        tests_file = opts.tests_file or default_test_list()
        tests = results.read_test_list(tests_file)
    own_workdir = opts.workdir is None
    workdir = os.path.abspath(opts.workdir or tempfile.mkdtemp(prefix="pocketstack-conf-"))
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "cloud")
    if os.path.exists(data_dir):
        shutil.rmtree(data_dir)
    cloud = opts.cloud or CloudProcess(data_dir, extra_args=opts.extra_cloud_args,
                                       config=opts.cloud_config)
    if opts.cloud is None:
        log(f"starting a cloud on {cloud.bind} (data dir {data_dir}) ...")
        cloud.start()
    try:
        facts = CloudFacts(cloud.identity_url, cloud.admin_password())
        available = facts.available()
        log(f"services in the catalog: {', '.join(sorted(facts.service_types))}")
        wanted = _normalise_services(opts.services)
        workspace = tempest.init_workspace(os.path.join(workdir, "tempest"))
        conf = build_config(facts, opts.concurrency)
        with open(os.path.join(workspace, "etc", "tempest.conf"), "w", encoding="utf-8") as f:
            conf.write(f)
        not_selected: dict[str, list[str]] = {}
        cmd = [tempest.bin("tempest"), "run", "--concurrency", str(opts.concurrency)]
        if tests is not None:
            selected, not_selected = select(tests, available, wanted)
            if not selected:
                log("no test of the list belongs to an available service")
            include = os.path.join(workspace, "include-list.txt")
            with open(include, "w", encoding="utf-8") as f:
                f.write("".join(results.include_regex(t) + "\n" for t in selected))
            cmd += ["--include-list", include]
        else:
            selected = []
            cmd += ["--regex", opts.regex or ""]
        raw: dict[str, dict[str, Any]] = {}
        if tests is None or selected:
            log(f"running Tempest ({len(selected) if tests is not None else opts.regex}"
                f" tests, {opts.concurrency} workers) in {workspace} ...")
            proc = subprocess.run(cmd, cwd=workspace, env=tempest.env(), capture_output=True,
                                  timeout=opts.timeout)
            with open(os.path.join(workspace, "tempest-run.log"), "wb") as f:
                f.write(proc.stdout + b"\n" + proc.stderr)
            last = subprocess.run([tempest.python, "-m", "stestr", "last", "--subunit"],
                                  cwd=workspace, env=tempest.env(), capture_output=True)
            if last.stdout:
                raw = results.parse_subunit(tempest.python, last.stdout)
            elif proc.returncode != 0:
                raise RuntimeError("tempest run failed before running tests:\n" +
                                   (proc.stdout + proc.stderr).decode()[-3000:])
        report = results.summarise(selected if tests is not None else None, raw,
                                   not_selected)
        report["run"] = {
            "tempest": TEMPEST_REQUIREMENT, "test_list": opts.tests_file or
            (default_test_list() if tests is not None else None), "regex": opts.regex,
            "services_available": sorted(available), "services_requested":
            sorted(wanted) if wanted else None, "concurrency": opts.concurrency,
            "identity_url": cloud.identity_url, "workspace": workspace,
        }
    finally:
        if opts.cloud is None:
            cloud.stop()
            _teardown_instances(data_dir)
        if own_workdir and not os.environ.get("POCKETSTACK_CONFORMANCE_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
            report_ws = None
        else:
            report_ws = workdir
    report["run"]["workspace"] = report_ws
    if opts.report_path:
        with open(opts.report_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return report


def _teardown_instances(data_dir: str) -> None:
    """What a container-driver cloud leaves running after it stops (its instances and
    dataplane namespaces live on across restarts): gone with the throw-away cloud."""
    if not any(os.path.isdir(os.path.join(data_dir, d)) for d in ("instances", "dataplane")):
        return
    from pocketstack.compute.drivers.container.driver import teardown_instances
    from pocketstack.dataplane.manager import teardown_state

    teardown_instances(os.path.join(data_dir, "instances"))
    teardown_state(os.path.join(data_dir, "dataplane"))


def main(args: Any) -> int:
    """Entry point of ``pocketstack conformance`` (args from its argparse sub-parser)."""
    from pocketstack.conformance.tempest_env import TempestUnavailable

    opts = Options(tests_file=args.tests, regex=args.regex,
                   services=args.services.split(",") if args.services else None,
                   report_path=args.report, concurrency=args.concurrency,
                   workdir=args.workdir,
                   extra_cloud_args=["--driver", args.driver] if args.driver else [],
                   cloud_config=os.path.abspath(args.cloud_config)
                   if args.cloud_config else None)
    try:
        report = run(opts, log=lambda msg: print(msg, flush=True))
    except TempestUnavailable as exc:
        print(f"pocketstack conformance: Tempest is unavailable: {exc}", file=sys.stderr)
        return 2
    print(results.format_summary(report))
    if opts.report_path:
        print(f"report written to {opts.report_path}")
    return 1 if report["failed"] else 0
