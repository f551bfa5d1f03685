"""The conformance runner's tempest.conf: object-storage options read from /info."""

from __future__ import annotations

import os

from pocketstack.conformance.tempestconf import CloudFacts, build_config


def test_object_storage_feature_section(cloud):
    with open(os.path.join(cloud.data_dir, "admin-password"), encoding="utf-8") as f:
        facts = CloudFacts(cloud.url(5000, "/v3"), f.read().strip())
    conf = build_config(facts)
    assert conf["object-storage"]["reseller_admin_role"] == "ResellerAdmin"
    features = conf["object-storage-feature-enabled"]
    apis = features["discoverable_apis"].split(",")
    assert {"tempurl", "slo", "formpost", "account_quotas"} <= set(apis)
    assert features["container_sync"] == "False"
    assert features["object_versioning"] == "True"
