"""`rollout install` and deploy/: every object valid against Kubernetes' own schemas, the
committed files what the code generates, and the options doing what they say."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rollout.manifests import InstallOptions, install_documents
from rollout.manifests.files import DEPLOY_DIR, rendered
from rollout.manifests.objects import controller_args
from rollout.manifests.rbac import ROUTERS
from rollout.registry import installed

KUBERNETES = "1.30"

VARIANTS = {
    "default": InstallOptions(),
    "namespaced": InstallOptions(watch_namespace="team-a", include_crds=False),
    "shard": InstallOptions(name="shard-a", rollout_selector="shard in (a)", replicas=3),
    "istio-only-single": InstallOptions(routers=("istio",), replicas=1),
}


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_validates_against_the_kubernetes_schemas(variant: str) -> None:
    for doc in install_documents(VARIANTS[variant]):
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path) or "(top level)"
            pytest.fail(f"{variant}: {doc['kind']} {doc['metadata']['name']}: {where}: {err}")


def test_the_committed_deploy_files_are_what_the_code_generates() -> None:
    for name, text in rendered().items():
        committed = (DEPLOY_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"deploy/{name} is stale: run `make deploy`"


def test_the_cli_prints_the_same_documents_as_the_library() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rollout.cli.main", "install", "--watch-namespace", "team-a"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    printed = [d for d in yaml.safe_load_all(out) if d]
    assert printed == install_documents(InstallOptions(watch_namespace="team-a"))


def refused_install(*args: str) -> str:
    """`rollout install ARGS` as a person runs it, which must refuse with a usage error (exit 2,
    nothing printed, no traceback): its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "rollout.cli.main", "install", *args],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    return done.stderr


def test_an_unknown_router_is_a_clear_error_not_a_traceback() -> None:
    assert "unknown router 'traefik'" in refused_install("--routers", "istio,traefik")


def test_a_malformed_shard_selector_is_refused_before_anything_is_printed() -> None:
    err = refused_install("--rollout-selector", "shard=a/b")
    assert "argument --rollout-selector: 'shard=a/b' is not a label selector" in err
    assert "values[0][shard]: Invalid value: 'a/b'" in err
    with pytest.raises(ValueError, match="key: Invalid value: 'a@b'"):
        InstallOptions(rollout_selector="a@b=c")  # the library checks it too


def test_every_installed_router_has_an_entry_in_the_permission_table() -> None:
    assert set(installed("routers")) == set(ROUTERS)


def test_the_workload_is_two_hardened_replicas_with_probes_and_a_pdb() -> None:
    docs = install_documents()
    (deployment,) = by_kind(docs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert by_kind(install_documents(InstallOptions(replicas=1)), "PodDisruptionBudget") == []


def test_the_controller_arguments_parse_with_the_real_cli() -> None:
    from rollout.cli.main import build_parser  # noqa: PLC0415

    for options in VARIANTS.values():
        args = build_parser().parse_args(controller_args(options))
        assert args.leader_elect is True
        assert args.lease_name == options.name
        assert args.namespace == options.watch_namespace
        assert args.rollout_selector == options.rollout_selector


def test_namespaced_installs_grant_namespaced_rights_only_in_the_watched_namespace() -> None:
    docs = install_documents(VARIANTS["namespaced"])
    roles = by_kind(docs, "Role")
    watched = [r for r in roles if r["metadata"]["namespace"] == "team-a"]
    assert len(watched) == 1
    cluster_roles = by_kind(docs, "ClusterRole")
    assert [c["metadata"]["name"] for c in cluster_roles] == ["rollout-controller-cluster-reads"]
    cluster_rules = cluster_roles[0]["rules"]
    assert all(rule["verbs"] == ["get"] for rule in cluster_rules)
    assert {res for rule in cluster_rules for res in rule["resources"]} == {
        "clusteranalysistemplates",
        "storageclasses",
        "priorityclasses",
        "ingressclasses",
    }
    assert by_kind(docs, "CustomResourceDefinition") == []


def test_the_lease_is_granted_only_in_the_controllers_namespace() -> None:
    docs = install_documents()
    for role in (*by_kind(docs, "ClusterRole"), *by_kind(docs, "Role")):
        mentions = {res for rule in role["rules"] for res in rule["resources"]}
        if "leases" in mentions:
            assert role["kind"] == "Role"
            assert role["metadata"]["namespace"] == "rollout-system"
