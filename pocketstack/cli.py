"""The ``pocketstack`` command: ``up``, ``status``, ``manage`` and ``conformance``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

DEFAULT_DATA_DIR = "./pocketstack-data"


def _load_conf(args: argparse.Namespace) -> "object":
    from pocketstack.config import Config

    path = args.config
    if path is None:
        candidate = os.path.join(args.data_dir, "pocketstack.conf")
        path = candidate if os.path.exists(candidate) else None
    overrides = {}
    if getattr(args, "driver", None):
        overrides[("DEFAULT", "compute_driver")] = args.driver
    if getattr(args, "fake_hosts", None) is not None:
        overrides[("fake", "hosts")] = args.fake_hosts
    if getattr(args, "debug", False):
        overrides[("DEFAULT", "debug")] = True
    try:
        return Config.load(path, overrides)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"pocketstack: {exc}") from None


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    from pocketstack import log
    from pocketstack.cloud import Cloud
    from pocketstack.server import run

    conf = _load_conf(args)
    os.umask(0o077)  # the database, keys and logs hold secrets: private to this user
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    log.setup(args.data_dir, debug=conf.get("DEFAULT", "debug"))  # type: ignore[attr-defined]
    cloud = Cloud(conf, args.data_dir, args.bind)  # type: ignore[arg-type]
    return run(cloud, started)


def cmd_status(args: argparse.Namespace) -> int:
    from pocketstack.server import STATE_FILE, format_table, status_rows

    path = os.path.join(args.data_dir, STATE_FILE)
    if not os.path.exists(path):
        print(f"pocketstack: no cloud is running on {args.data_dir}", file=sys.stderr)
        return 1
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    rows = status_rows(state["bind"], state["services"])
    print(format_table(rows))
    return 0 if all(r[3] for r in rows) else 1


def _cloud(args: argparse.Namespace) -> "object":
    from pocketstack import log
    from pocketstack.cloud import Cloud

    log.setup(None, stderr=True)
    return Cloud(_load_conf(args), args.data_dir)  # type: ignore[arg-type]


def cmd_manage(args: argparse.Namespace) -> int:
    from pocketstack.ops import manage

    return manage.run(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from pocketstack.ops import doctor
    from pocketstack.services import service_classes

    cloud = _cloud(args)
    service_classes()  # importing the services registers their checks
    from pocketstack.ops import checks, config  # noqa: F401  (ops' checks and thresholds)
    findings = doctor.run_checks(cloud)  # type: ignore[arg-type]
    print(doctor.render(findings, args.json))
    return 1 if any(f.status == doctor.FAIL for f in findings) else 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from pocketstack.conformance.runner import main as conformance_main

    return conformance_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pocketstack",
                                     description="A whole OpenStack-compatible cloud.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                       help=f"where the cloud keeps its state (default {DEFAULT_DATA_DIR})")
        p.add_argument("--config", default=None,
                       help="INI configuration file (default DATA_DIR/pocketstack.conf)")

    up = sub.add_parser("up", help="run the cloud in the foreground")
    common(up)
    up.add_argument("--bind", default="127.0.0.1",
                    help="address to serve on; any 127.x.y.z lets clouds run side by side")
    up.add_argument("--driver", default=None, help="compute driver: fake, container or qemu")
    up.add_argument("--fake-hosts", type=int, default=None,
                    help="number of fake compute hosts ([fake] hosts)")
    up.add_argument("--debug", action="store_true", help="log at DEBUG level")
    up.set_defaults(func=cmd_up)

    status = sub.add_parser("status", help="show the services of a running cloud")
    common(status)
    status.set_defaults(func=cmd_status)

    doc = sub.add_parser("doctor", help="check the cloud for the classic failures")
    common(doc)
    doc.add_argument("--json", action="store_true", help="machine-readable output")
    doc.set_defaults(func=cmd_doctor)

    manage = sub.add_parser("manage", help="operator commands")
    common(manage)
    from pocketstack.ops import manage as ops_manage

    ops_manage.build(manage)
    manage.set_defaults(func=cmd_manage)

    conf_run = sub.add_parser("conformance", help="run Tempest interop tests against a fresh "
                              "cloud (installs Tempest into its own virtualenv if needed)")
    conf_run.add_argument("--services", default=None,
                          help="comma-separated components to test (identity,compute,...); "
                          "default: every service the catalog has")
    conf_run.add_argument("--tests", default=None,
                          help="test list file (default: the interop required list, "
                          "$POCKETSTACK_CONFORMANCE_DIR or ../shared/conformance)")
    conf_run.add_argument("--regex", default=None,
                          help="run every Tempest test matching this regex instead of a list")
    conf_run.add_argument("--report", default="conformance-report.json",
                          help="JSON report path (default conformance-report.json)")
    conf_run.add_argument("--concurrency", type=int, default=2, help="Tempest workers")
    conf_run.add_argument("--workdir", default=None,
                          help="keep the cloud data dir and Tempest workspace here")
    conf_run.add_argument("--driver", default=None,
                          help="the tested cloud's compute driver (as `up --driver`); with "
                          "`container` and a host route to its floating IPs "
                          "([container] external_network_bridge) Tempest also SSHes into "
                          "the servers (run_validation)")
    conf_run.add_argument("--cloud-config", default=None, metavar="FILE",
                          help="pocketstack.conf for the tested cloud (as `up --config`)")
    conf_run.set_defaults(func=cmd_conformance)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
