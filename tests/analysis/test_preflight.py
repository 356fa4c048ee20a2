"""Preflight against the sandbox: the objects a pod template and the canary's Services need,
and API errors. Each missing object fails naming it, and passes once it is created. Routing,
policies and analysis have their own test_preflight_*.py files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rollout.errors import TransientKubeError
from rollout.kube import SERVICES, Kube
from rollout.kube.kinds import (
    CONFIG_MAPS,
    PRIORITY_CLASSES,
    PVCS,
    SECRETS,
    SERVICE_ACCOUNTS,
    STORAGE_CLASSES,
)
from rollout.models.preflight import Preflight
from tests.analysis.preflight_cases import (
    IMAGE,
    NS,
    basics,
    by_name,
    create,
    failed,
    rollout,
    run,
    secret_data,
)
from tests.e2e.harness import Cluster

Obj = dict[str, Any]
APP = {"name": "app", "image": IMAGE}
CLAIM = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}


def _config_map(kube: Kube) -> None:
    create(kube, CONFIG_MAPS, "app-config", data={"app.yaml": "x: 1"})


def _secret(kube: Kube) -> None:
    create(kube, SECRETS, "db", data=secret_data(password="s3cr3t-value"))


def _pvc(kube: Kube) -> None:
    create(kube, PVCS, "data", spec=CLAIM)


def _priority_class(kube: Kube) -> None:
    create(kube, PRIORITY_CLASSES, "high", value=1000)


def _account(kube: Kube) -> None:
    create(kube, SERVICE_ACCOUNTS, "app-sa")


def _pull_secret(kube: Kube) -> None:
    create(kube, SECRETS, "regcred", type="kubernetes.io/dockerconfigjson")


def _storage_class(kube: Kube) -> None:
    create(kube, STORAGE_CLASSES, "fast", provisioner="example.com/disk")


# (pod spec, the failing check, its message, what makes it pass)
MISSING: dict[str, tuple[Obj, str, str, Callable[[Kube], None]]] = {
    "configMap volume": (
        {
            "containers": [APP],
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
        },
        "ConfigMap default/app-config",
        "ConfigMap default/app-config (volume 'config') not found",
        _config_map,
    ),
    "secret volume": (
        {"containers": [APP], "volumes": [{"name": "creds", "secret": {"secretName": "db"}}]},
        "Secret default/db",
        "Secret default/db (volume 'creds') not found",
        _secret,
    ),
    "projected configMap": (
        {
            "containers": [APP],
            "volumes": [
                {"name": "all", "projected": {"sources": [{"configMap": {"name": "app-config"}}]}}
            ],
        },
        "ConfigMap default/app-config",
        "ConfigMap default/app-config (volume 'all') not found",
        _config_map,
    ),
    "envFrom secret": (
        {"containers": [APP | {"envFrom": [{"secretRef": {"name": "db"}}]}]},
        "Secret default/db",
        "Secret default/db (container 'app' envFrom) not found",
        _secret,
    ),
    "env configMapKeyRef in an init container": (
        {
            "initContainers": [
                {
                    "name": "migrate",
                    "image": IMAGE,
                    "env": [
                        {
                            "name": "CONFIG",
                            "valueFrom": {
                                "configMapKeyRef": {"name": "app-config", "key": "app.yaml"}
                            },
                        }
                    ],
                }
            ],
            "containers": [APP],
        },
        "ConfigMap default/app-config",
        "ConfigMap default/app-config (container 'migrate' env CONFIG) not found",
        _config_map,
    ),
    "persistentVolumeClaim": (
        {
            "containers": [APP],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
        "PersistentVolumeClaim default/data",
        "PersistentVolumeClaim default/data (volume 'data') not found",
        _pvc,
    ),
    "ephemeral volume's StorageClass": (
        {
            "containers": [APP],
            "volumes": [
                {
                    "name": "scratch",
                    "ephemeral": {
                        "volumeClaimTemplate": {"spec": CLAIM | {"storageClassName": "fast"}}
                    },
                }
            ],
        },
        "StorageClass fast",
        "StorageClass fast (volume 'scratch') not found",
        _storage_class,
    ),
    "priorityClassName": (
        {"containers": [APP], "priorityClassName": "high"},
        "PriorityClass high",
        "PriorityClass high (priorityClassName) not found",
        _priority_class,
    ),
    "serviceAccountName": (
        {"containers": [APP], "serviceAccountName": "app-sa"},
        "ServiceAccount default/app-sa",
        "ServiceAccount default/app-sa (serviceAccountName) not found",
        _account,
    ),
    "imagePullSecrets": (
        {"containers": [APP], "imagePullSecrets": [{"name": "regcred"}]},
        "Secret default/regcred",
        "Secret default/regcred (imagePullSecrets) not found",
        _pull_secret,
    ),
}


@pytest.mark.parametrize("case", list(MISSING))
def test_a_missing_object_fails_naming_it_and_passes_once_created(
    cluster: Cluster, case: str
) -> None:
    pod, name, message, make = MISSING[case]
    basics(cluster.kube)
    target = rollout(pod)
    assert failed(run(cluster, target)) == {name: message}
    make(cluster.kube)
    checks = by_name(run(cluster, target))
    assert checks[name].ok, checks[name].message
    assert failed(list(checks.values())) == {}


def test_everything_present_passes_in_a_stable_order(cluster: Cluster) -> None:
    basics(cluster.kube)
    for make in (_config_map, _secret, _pvc, _priority_class, _account, _pull_secret):
        make(cluster.kube)
    pod = {
        "serviceAccountName": "app-sa",
        "priorityClassName": "high",
        "imagePullSecrets": [{"name": "regcred"}],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {
                "name": "config",
                "configMap": {"name": "app-config", "items": [{"key": "app.yaml", "path": "a"}]},
            },
        ],
        "containers": [
            APP
            | {
                "envFrom": [{"configMapRef": {"name": "app-config"}}],
                "env": [
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
                ],
            }
        ],
    }
    first = run(cluster, rollout(pod))
    assert [c.name for c in first] == [
        "Service default/app-stable",
        "Service default/app-canary",
        "ServiceAccount default/app-sa",
        "PriorityClass high",
        "Secret default/regcred",
        "PersistentVolumeClaim default/data",
        "ConfigMap default/app-config",
        "Secret default/db",
    ]
    assert all(c.ok for c in first), failed(first)
    # One object used twice is read and reported once, naming both uses.
    assert by_name(first)["ConfigMap default/app-config"].message == (
        "ConfigMap default/app-config (volume 'config', container 'app' envFrom) found"
    )
    assert run(cluster, rollout(pod)) == first


def test_missing_services_fail(cluster: Cluster) -> None:
    assert failed(run(cluster, rollout())) == {
        "Service default/app-stable": "Service default/app-stable (stableService) not found",
        "Service default/app-canary": "Service default/app-canary (canaryService) not found",
    }


def test_services_the_cache_holds_are_not_read_again_and_the_others_are(
    cluster: Cluster,
) -> None:
    """The controller passes its watch-fed Services: those it names cost no request; one it
    does not name is read, and found or not found as without a cache."""
    stable = cluster.kube.create(
        SERVICES, {"metadata": {"name": "app-stable"}, "spec": {}}, namespace=NS
    )
    gets = cluster.kube.requests["get"]
    checks = run(cluster, rollout(), services={"app-stable": stable})
    assert cluster.kube.requests["get"] - gets == 2  # app-canary, and ServiceAccount default
    assert by_name(checks)["Service default/app-stable"].ok
    assert failed(checks) == {
        "Service default/app-canary": "Service default/app-canary (canaryService) not found",
    }
    # None: the cache has no such Service; trusted as not found, without a request.
    gets = cluster.kube.requests["get"]
    checks = run(cluster, rollout(), services={"app-stable": stable, "app-canary": None})
    assert cluster.kube.requests["get"] - gets == 1  # the ServiceAccount only
    assert failed(checks) == {
        "Service default/app-canary": "Service default/app-canary (canaryService) not found",
    }
    canary = {"metadata": {"name": "app-canary"}, "spec": {}}
    cluster.kube.create(SERVICES, canary, namespace=NS)
    assert run(cluster, rollout(), services={"app-stable": stable}) == run(cluster, rollout())


def test_a_secret_without_the_key_fails_without_showing_values(cluster: Cluster) -> None:
    basics(cluster.kube)
    create(cluster.kube, SECRETS, "db", data=secret_data(user="admin-value"))
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    target = rollout({"containers": [APP | {"env": env}]})
    checks = run(cluster, target)
    assert failed(checks) == {
        "Secret default/db": "Secret default/db (container 'app' env PW) has no key 'password'"
    }
    assert not any("admin-value" in c.message or "YWRtaW4" in c.message for c in checks)
    cluster.kube.patch(SECRETS, "db", {"data": secret_data(password="pw")}, namespace="default")
    assert failed(run(cluster, target)) == {}


def test_a_volume_item_key_must_exist(cluster: Cluster) -> None:
    basics(cluster.kube)
    _config_map(cluster.kube)
    items = [{"key": "app.yaml", "path": "a"}, {"key": "extra.yaml", "path": "b"}]
    volume = {"name": "config", "configMap": {"name": "app-config", "items": items}}
    checks = run(cluster, rollout({"containers": [APP], "volumes": [volume]}))
    assert failed(checks) == {
        "ConfigMap default/app-config": (
            "ConfigMap default/app-config (volume 'config') has no key 'extra.yaml'"
        )
    }


def test_an_optional_config_map_is_not_required(cluster: Cluster) -> None:
    basics(cluster.kube)
    optional = {"configMapRef": {"name": "tuning", "optional": True}}
    checks = by_name(run(cluster, rollout({"containers": [APP | {"envFrom": [optional]}]})))
    check = checks["ConfigMap default/tuning"]
    assert check.ok
    assert check.message == (
        "ConfigMap default/tuning (container 'app' envFrom) not found; optional, so not required"
    )


def test_one_required_use_makes_an_optional_object_required(cluster: Cluster) -> None:
    basics(cluster.kube)
    optional = {"configMapRef": {"name": "tuning", "optional": True}}
    pod = {
        "containers": [APP | {"envFrom": [optional]}],
        "volumes": [{"name": "t", "configMap": {"name": "tuning"}}],
    }
    assert failed(run(cluster, rollout(pod))) == {
        "ConfigMap default/tuning": (
            "ConfigMap default/tuning (volume 't', container 'app' envFrom) not found"
        )
    }


def test_a_claims_storage_class_is_checked_after_the_claim(cluster: Cluster) -> None:
    basics(cluster.kube)
    create(cluster.kube, PVCS, "data", spec=CLAIM | {"storageClassName": "fast"})
    pod = {
        "containers": [APP],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
    }
    checks = run(cluster, rollout(pod))
    names = [c.name for c in checks]
    assert names.index("StorageClass fast") == names.index("PersistentVolumeClaim default/data") + 1
    assert failed(checks) == {
        "StorageClass fast": (
            "StorageClass fast (storageClassName of PersistentVolumeClaim default/data) not found"
        )
    }
    _storage_class(cluster.kube)
    assert failed(run(cluster, rollout(pod))) == {}


@pytest.mark.parametrize(
    ("resource", "code", "reads"), [("configmaps", 403, 1), ("services", 422, 2)]
)
def test_an_api_error_that_answers_is_a_failed_check_not_an_exception(
    cluster: Cluster, resource: str, code: int, reads: int
) -> None:
    basics(cluster.kube)
    _config_map(cluster.kube)
    pod = {
        "containers": [APP],
        "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
    }
    cluster.sandbox.faults.add(verb="get", resource=resource, code=code, count=reads)
    problems = failed(run(cluster, rollout(pod)))
    assert problems, "an unreadable object must not pass"
    for message in problems.values():
        assert message.startswith("could not check ")
        assert f": {code} " in message
    if resource == "configmaps":
        assert list(problems) == ["ConfigMap default/app-config"]
    else:
        assert list(problems) == ["Service default/app-stable", "Service default/app-canary"]
    assert failed(run(cluster, rollout(pod))) == {}  # the faults are used up


@pytest.mark.parametrize("code", [500, 503, 429])
def test_an_api_error_that_does_not_answer_is_raised_for_a_retry(
    cluster: Cluster, code: int
) -> None:
    """A 5xx or 429 says nothing of the object: raised (the reconcile is retried with back-off)
    rather than a failed check that would pause the rollout."""
    basics(cluster.kube)
    _config_map(cluster.kube)
    pod = {
        "containers": [APP],
        "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
    }
    cluster.sandbox.faults.add(verb="get", resource="configmaps", code=code, count=1)
    with pytest.raises(TransientKubeError):
        run(cluster, rollout(pod))
    assert failed(run(cluster, rollout(pod))) == {}


def test_disabled_checks_nothing(cluster: Cluster) -> None:
    pod = {"containers": [APP], "priorityClassName": "missing"}
    assert failed(run(cluster, rollout(pod)))  # nothing exists: enabled, it fails
    assert run(cluster, rollout(pod, preflight=Preflight(enabled=False))) == []


def test_preflight_spec_reads_yaml_names() -> None:
    spec = Preflight.model_validate(
        {"timeout": "2m", "requireResources": True, "allowedRegistries": ["ghcr.io"]}
    )
    assert (spec.timeout, spec.require_resources, spec.allowed_registries) == (
        120,
        True,
        ["ghcr.io"],
    )
    with pytest.raises(ValueError, match="registry host"):
        Preflight.model_validate({"allowedRegistries": ["ghcr.io/acme"]})
