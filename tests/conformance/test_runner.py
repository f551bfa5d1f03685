"""The runner's own pieces, without Tempest: test lists, selection, tempest.conf, reports."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from pocketstack.conformance import results
from pocketstack.conformance.runner import conformance_dir, select
from pocketstack.conformance.tempestconf import CloudFacts, build_config


def test_read_test_list_handles_comments_and_prefixes(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# header\n\n"
                    "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token\n"
                    "[2020.06] compute tempest.api.compute.a.B.test_c  # flagged: why\n"
                    "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token\n")
    assert results.read_test_list(str(path)) == [
        "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token",
        "tempest.api.compute.a.B.test_c"]


def test_include_regex_matches_only_that_test():
    rx = re.compile(results.include_regex("tempest.api.identity.v3.X.test_a"))
    assert rx.search("tempest.api.identity.v3.X.test_a[id-1234,smoke]")
    assert rx.search("tempest.api.identity.v3.X.test_a")
    assert not rx.search("tempest.api.identity.v3.X.test_a_b[id-1]")
    assert not rx.search("tempest.api.identity.v3Y.test_a")


def test_select_by_available_and_wanted_services():
    tests = ["tempest.api.identity.v3.A.test_1", "tempest.api.compute.B.test_2",
             "tempest.api.object_storage.C.test_3"]
    chosen, left = select(tests, {"keystone", "nova"}, None)
    assert chosen == tests[:2] and left == {"object_storage": [tests[2]]}
    chosen, left = select(tests, {"keystone", "nova"}, {"keystone"})
    assert chosen == tests[:1] and set(left) == {"compute", "object_storage"}


def test_summarise_counts_and_fixture_failures():
    tb = ("Traceback (most recent call last):\n  File \"x\", line 1\n"
          "tempest.lib.exceptions.NotFound: Object not found\nDetails: {'code': 404}\n")
    raw = {
        "tempest.api.identity.v3.A.test_ok[id-1]": {"status": "success", "details": {}},
        "tempest.api.identity.v3.A.test_bad[id-2]": {"status": "fail",
                                                      "details": {"traceback": tb}},
        "tempest.api.identity.v3.A.test_skip[id-3]": {"status": "skip",
                                                       "details": {"reason": "no trusts"}},
        "setUpClass (tempest.api.identity.v3.B)": {"status": "fail",
                                                   "details": {"traceback": tb}},
    }
    requested = ["tempest.api.identity.v3.A.test_ok", "tempest.api.identity.v3.A.test_bad",
                 "tempest.api.identity.v3.A.test_skip", "tempest.api.identity.v3.B.test_x"]
    report = results.summarise(requested, raw, {})
    assert report["components"] == {"identity": {"passed": 1, "failed": 2, "skipped": 1}}
    assert report["passed"] == ["tempest.api.identity.v3.A.test_ok"]
    errors = {f["id"]: f["error"] for f in report["failed"]}
    assert errors["tempest.api.identity.v3.A.test_bad"] == \
        "tempest.lib.exceptions.NotFound: Object not found Details: {'code': 404}"
    assert errors["tempest.api.identity.v3.B.test_x"].startswith("setUpClass: ")
    assert report["skipped"] == [{"id": "tempest.api.identity.v3.A.test_skip",
                                  "reason": "no trusts"}]
    assert "FAIL tempest.api.identity.v3.A.test_bad" in results.format_summary(report)


def test_tempest_conf_from_the_live_catalog(cloud):
    with open(os.path.join(cloud.data_dir, "admin-password"), encoding="utf-8") as f:
        facts = CloudFacts(cloud.url(5000, "/v3"), f.read().strip())
    conf = build_config(facts)
    assert conf["auth"]["admin_username"] == "admin"
    assert conf["auth"]["admin_project_name"] == "admin"
    assert conf["auth"]["use_dynamic_credentials"] == "True"
    assert conf["identity"]["uri_v3"] == cloud.url(5000, "/v3")
    assert conf["identity"]["auth_version"] == "v3"
    assert conf["identity"]["region"] == "RegionOne"
    assert conf["validation"]["run_validation"] == "False"
    types = facts.service_types
    assert (conf["service_available"]["nova"] == "True") == ("compute" in types)
    assert (conf["service_available"]["swift"] == "True") == ("object-store" in types)
    if "compute" not in types:
        assert not conf.has_section("compute")
    if "network" in types:
        extensions = conf["network-feature-enabled"]["api_extensions"].split(",")
        assert "router" in extensions and "all" not in extensions
        assert conf["network"]["public_network_id"]
    if "volumev3" in types:
        assert conf["volume"]["max_microversion"].startswith("3.")
        assert conf["volume"]["min_microversion"] == "3.0"
        assert conf["volume"]["storage_protocol"] and conf["volume"]["vendor_name"]
        # a multiattach volume type (made when missing, found the next time)
        kind = conf["volume"]["volume_type_multiattach"]
        assert build_config(facts)["volume"]["volume_type_multiattach"] == kind
        vtype = cloud.conn().block_storage.find_type(kind)
        assert vtype.extra_specs["multiattach"] == "<is> True"
        if "compute" in types:
            assert conf["compute-feature-enabled"]["volume_multiattach"] == "True"
    if "compute" in types:
        assert conf["compute-feature-enabled"]["change_password"] == "True"
        assert conf["compute-feature-enabled"]["vnc_console"] == str(
            os.path.isfile("/usr/share/novnc/vnc_auto.html"))


def test_cli_help_and_list_dir(monkeypatch, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "conformance", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    for flag in ("--services", "--tests", "--report"):
        assert flag in proc.stdout
    monkeypatch.setenv("POCKETSTACK_CONFORMANCE_DIR", str(tmp_path))
    assert conformance_dir() == str(tmp_path)
    monkeypatch.delenv("POCKETSTACK_CONFORMANCE_DIR")
    assert conformance_dir().endswith(os.path.join("shared", "conformance"))


def test_readme_interop_table_is_current():
    from pocketstack.conformance import coverage

    assert coverage.main(["--check"]) == 0, "run python -m pocketstack.conformance.coverage"
