"""R2 buckets with lifecycle, CORS and r2.dev state; D1 databases per environment."""

from __future__ import annotations

import pytest

from chittyos_edge import naming
from tests.conftest import plan_with, resource, resources, stack_file_config, uploaded_code

R2 = "cloudflare:index/r2Bucket:R2Bucket"
LIFECYCLE = "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle"
CORS = "cloudflare:index/r2BucketCors:R2BucketCors"
R2DEV = "cloudflare:index/r2ManagedDomain:R2ManagedDomain"
D1 = "cloudflare:index/d1Database:D1Database"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"
DAY = 86400


def _buckets(stack: str) -> dict:
    return stack_file_config(stack)["chittyos-edge:r2Buckets"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_bucket_with_its_sub_resources(plans, stack):
    plan = plans[stack]
    config = _buckets(stack)
    assert len(resources(plan, R2)) == len(config)
    for key, entry in config.items():
        bucket = resource(plan, R2, f"{stack}-storage-bucket-{key}")
        assert bucket["inputs"]["name"] == naming.bucket_name(key, stack)
        assert bucket["inputs"]["location"] == entry["location"]
        assert bucket["inputs"]["jurisdiction"] == "default"
        assert bucket["inputs"]["storageClass"] == entry.get("storageClass", "Standard")
        r2dev = resource(plan, R2DEV, f"{stack}-storage-bucket-{key}-r2dev")
        assert r2dev["inputs"]["enabled"] is False
        assert r2dev["inputs"]["bucketName"] == bucket["inputs"]["name"]
        lifecycle = [r for r in resources(plan, LIFECYCLE) if r["name"] == f"{stack}-storage-bucket-{key}-lifecycle"]
        assert [rule["id"] for rule in lifecycle[0]["inputs"]["rules"]] == [r["id"] for r in entry["lifecycle"]]
        assert lifecycle[0]["inputs"]["bucketName"] == bucket["inputs"]["name"]
        cors = [r for r in resources(plan, CORS) if r["name"] == f"{stack}-storage-bucket-{key}-cors"]
        assert len(cors) == (1 if entry.get("cors") else 0)


def test_documented_lifecycle_30_days_to_infrequent_access_then_delete_at_90(production):
    rules = resource(production, LIFECYCLE, "production-storage-bucket-chittyops-project-data-lifecycle")["inputs"]["rules"]
    assert rules == [{
        "id": "project-data-ia-then-delete", "enabled": True, "conditions": {"prefix": ""},
        "storageClassTransitions": [{"condition": {"type": "Age", "maxAge": 30 * DAY},
                                     "storageClass": "InfrequentAccess"}],
        "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 90 * DAY}},
    }]
    snapshots = resource(production, LIFECYCLE, "production-storage-bucket-chittyconnect-session-snapshots-lifecycle")
    assert snapshots["inputs"]["rules"][0]["deleteObjectsTransition"]["condition"]["maxAge"] == 90 * DAY
    documents = resource(production, LIFECYCLE, "production-storage-bucket-chittyconnect-documents-lifecycle")
    assert documents["inputs"]["rules"][0]["abortMultipartUploadsTransition"] == {
        "condition": {"type": "Age", "maxAge": 7 * DAY}}


def test_cors_lists_exact_origins_in_production_and_may_be_permissive_in_staging(plans):
    production = resource(plans["production"], CORS, "production-storage-bucket-chittyconnect-documents-cors")
    assert production["inputs"]["rules"] == [{
        "id": "connect-web",
        "allowed": {"origins": ["https://connect.chitty.cc", "https://chitty.cc"],
                    "methods": ["GET", "HEAD", "PUT", "POST"],
                    "headers": ["content-type", "authorization", "x-chittyid"]},
        "exposeHeaders": ["ETag"], "maxAgeSeconds": 3600}]
    for cors in resources(plans["production"], CORS):
        for rule in cors["inputs"]["rules"]:
            assert "*" not in rule["allowed"]["origins"], cors["name"]
    staging = resource(plans["staging"], CORS, "staging-storage-bucket-chittyconnect-documents-cors")
    assert staging["inputs"]["rules"][0]["allowed"]["origins"] == ["*"]


def test_jurisdiction_is_passed_to_every_sub_resource_and_the_binding():
    def to_eu(config):
        config["chittyos-edge:r2Buckets"]["chittyconnect-documents"]["jurisdiction"] = "eu"

    def to_eu_and_uploaded(config):
        to_eu(config)
        uploaded_code("staging", "chittyconnect")(config)

    plan = plan_with("staging", to_eu_and_uploaded)
    prefix = "staging-storage-bucket-chittyconnect-documents"
    for type_token, name in ((R2, prefix), (LIFECYCLE, f"{prefix}-lifecycle"), (CORS, f"{prefix}-cors"),
                             (R2DEV, f"{prefix}-r2dev")):
        assert resource(plan, type_token, name)["inputs"]["jurisdiction"] == "eu", name
    version = resource(plan, VERSION, "staging-chittyconnect-version-stable")
    binding = next(b for b in version["inputs"]["bindings"] if b["name"] == "DOCUMENT_STORAGE")
    assert binding == {"type": "r2_bucket", "name": "DOCUMENT_STORAGE",
                       "bucketName": "chittyconnect-documents-staging", "jurisdiction": "eu"}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_d1_metadata_database_per_environment(plans, stack):
    entry = stack_file_config(stack)["chittyos-edge:d1Databases"]["chittyconnect"]
    database = resource(plans[stack], D1, f"{stack}-storage-d1-chittyconnect")
    adopt = entry.get("adopt")
    assert database["inputs"]["name"] == (adopt["name"] if adopt else naming.database_name("chittyconnect", stack))
    assert adopt, "both stacks adopt the database ChittyConnect runs on (the ChittyConnect status report)"
    assert database["importId"] == f"0bc21e3a5a9de1a4cc843be9c3e98121/{adopt['id']}"
    assert database["inputs"]["primaryLocationHint"] == "enam"
    assert database["inputs"]["readReplication"] == {"mode": "disabled"}
    assert (database["protect"], database["retainOnDelete"]) == (stack == "production", True)


def test_public_dev_url_is_explicit():
    def expose(config):
        config["chittyos-edge:r2Buckets"]["chittyops-analytics"]["publicDevUrl"] = True

    plan = plan_with("staging", expose)
    assert resource(plan, R2DEV, "staging-storage-bucket-chittyops-analytics-r2dev")["inputs"]["enabled"] is True
