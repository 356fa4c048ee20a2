"""Bearer tokens and RBAC: the sandbox answers 401 / 403 as an API server does.

The install tests rest on this: the controller runs under its ServiceAccount's token and
must be refused whatever its Role does not grant. RBAC objects are written through the
official client's typed RbacAuthorizationV1Api, as a person's `kubectl apply` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from rollout.sandbox import Sandbox
from tests.sandbox.conftest import unique


def as_token(sandbox: Sandbox, token: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = sandbox.url
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(configuration)


@pytest.fixture
def rbac(api: client.ApiClient) -> client.RbacAuthorizationV1Api:
    return client.RbacAuthorizationV1Api(api)


@pytest.fixture
def account(sandbox: Sandbox, ns: str) -> Iterator[tuple[str, client.ApiClient]]:
    """A ServiceAccount name in `ns` and a client acting as it."""
    name = unique("sa")
    api_client = as_token(sandbox, sandbox.issue_token(ns, name))
    try:
        yield name, api_client
    finally:
        api_client.close()


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> Any:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def binding(name: str, role_kind: str, subject: dict[str, str]) -> Any:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [subject],
    }


def bind_cluster_role(
    rbac: client.RbacAuthorizationV1Api, sa_ns: str, sa: str, rules: list[Any]
) -> str:
    name = unique("cr")
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    rbac.create_cluster_role_binding(
        binding(name, "ClusterRole", {"kind": "ServiceAccount", "name": sa, "namespace": sa_ns})
    )
    return name


def code_of(fn: Any, *args: Any, **kwargs: Any) -> int:
    try:
        fn(*args, **kwargs)
    except ApiException as err:
        return int(err.status)
    return 200


def test_an_unknown_token_is_401_and_no_token_is_the_admin(
    sandbox: Sandbox, core: client.CoreV1Api, ns: str
) -> None:
    stranger = as_token(sandbox, "not-issued-by-this-sandbox")
    try:
        assert code_of(client.CoreV1Api(stranger).list_namespaced_config_map, ns) == 401
    finally:
        stranger.close()
    assert code_of(core.list_namespaced_config_map, ns) == 200


def test_a_service_account_without_bindings_is_refused_with_the_api_servers_words(
    sandbox: Sandbox, ns: str, account: tuple[str, client.ApiClient]
) -> None:
    sa, api_client = account
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).list_namespaced_secret(ns)
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert (
        f'User "system:serviceaccount:{ns}:{sa}" cannot list resource "secrets" in API group ""'
        f' in the namespace "{ns}"' in message
    )
    assert sandbox.requests.entries()[-1].user == f"system:serviceaccount:{ns}:{sa}"
    assert sandbox.requests.entries()[-1].status == 403


def test_cluster_role_rules_match_group_resource_and_verb_exactly(
    rbac: client.RbacAuthorizationV1Api, ns: str, account: tuple[str, client.ApiClient]
) -> None:
    sa, api_client = account
    bind_cluster_role(rbac, ns, sa, [rule([""], ["configmaps"], ["get", "list"])])
    core = client.CoreV1Api(api_client)
    assert code_of(core.list_namespaced_config_map, ns) == 200
    assert code_of(core.list_config_map_for_all_namespaces) == 200  # cluster-wide grant
    body = {"metadata": {"name": "x"}}
    assert code_of(core.create_namespaced_config_map, ns, body) == 403  # verb not granted
    assert code_of(core.list_namespaced_secret, ns) == 403  # resource not granted
    apps = client.AppsV1Api(api_client)
    assert code_of(apps.list_namespaced_deployment, ns) == 403  # another group


def test_a_subresource_needs_its_own_rule(
    rbac: client.RbacAuthorizationV1Api,
    apps: client.AppsV1Api,
    ns: str,
    account: tuple[str, client.ApiClient],
) -> None:
    sa, api_client = account
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    bind_cluster_role(rbac, ns, sa, [rule(["apps"], ["deployments"], ["get", "patch"])])
    mine = client.AppsV1Api(api_client)
    assert code_of(mine.read_namespaced_deployment, "d", ns) == 200
    assert code_of(mine.read_namespaced_deployment_scale, "d", ns) == 403
    patch = {"spec": {"replicas": 2}}
    assert code_of(mine.patch_namespaced_deployment_scale, "d", ns, patch) == 403
    bind_cluster_role(rbac, ns, sa, [rule(["apps"], ["*/scale"], ["get"])])
    assert code_of(mine.read_namespaced_deployment_scale, "d", ns) == 200


def test_a_role_binding_grants_only_in_its_namespace_even_for_a_cluster_role(
    rbac: client.RbacAuthorizationV1Api,
    core: client.CoreV1Api,
    ns: str,
    account: tuple[str, client.ApiClient],
) -> None:
    sa, api_client = account
    other = unique("other")
    core.create_namespace({"metadata": {"name": other}})
    role = unique("reader")
    rbac.create_cluster_role(
        {"metadata": {"name": role}, "rules": [rule([""], ["configmaps"], ["list"])]}
    )
    rbac.create_namespaced_role_binding(
        ns,
        # No namespace on the subject: a RoleBinding's own namespace is meant.
        binding(role, "ClusterRole", {"kind": "ServiceAccount", "name": sa}),
    )
    mine = client.CoreV1Api(api_client)
    assert code_of(mine.list_namespaced_config_map, ns) == 200
    assert code_of(mine.list_namespaced_config_map, other) == 403
    assert code_of(mine.list_config_map_for_all_namespaces) == 403


def test_a_role_applies_in_its_namespace_and_resource_names_limit_named_requests(
    rbac: client.RbacAuthorizationV1Api,
    core: client.CoreV1Api,
    ns: str,
    account: tuple[str, client.ApiClient],
) -> None:
    sa, api_client = account
    for name in ("allowed", "other"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": "one"},
            "rules": [rule([""], ["configmaps"], ["get", "list"], resourceNames=["allowed"])],
        },
    )
    rbac.create_namespaced_role_binding(
        ns,
        binding("one", "Role", {"kind": "ServiceAccount", "name": sa, "namespace": ns}),
    )
    mine = client.CoreV1Api(api_client)
    assert code_of(mine.read_namespaced_config_map, "allowed", ns) == 200
    assert code_of(mine.read_namespaced_config_map, "other", ns) == 403
    assert code_of(mine.list_namespaced_config_map, ns) == 403  # a list names no object


def test_groups_and_wildcards_bind(
    rbac: client.RbacAuthorizationV1Api, ns: str, account: tuple[str, client.ApiClient]
) -> None:
    _, api_client = account
    name = unique("all-sas")
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": [rule(["*"], ["*"], ["list"])]})
    rbac.create_cluster_role_binding(
        binding(name, "ClusterRole", {"kind": "Group", "name": f"system:serviceaccounts:{ns}"})
    )
    mine = client.AppsV1Api(api_client)
    assert code_of(mine.list_namespaced_deployment, ns) == 200
    assert code_of(mine.read_namespaced_deployment, "absent", ns) == 403  # get not granted
