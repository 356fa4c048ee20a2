"""The install's RBAC is least privilege, proved against an API server that enforces it.

The real `rollout controller` process runs under the ServiceAccount token of the install
manifests, so the sandbox refuses (403) whatever rollout/manifests/rbac.py does not grant.
Each test checks both directions:
- nothing missing: the scenarios converge and no request of the controller is refused;
- nothing extra: every (group, resource, verb) granted is used by some request.
Routers are checked the same way through their contract checks, one router's grants each.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout.kube import ROLLOUTS, SERVICES, Kind
from rollout.kube.kinds import (
    ANALYSIS_TEMPLATES,
    CLUSTER_ANALYSIS_TEMPLATES,
    CONFIG_MAPS,
    INGRESS_CLASSES,
    INGRESSES,
    JOBS,
    PRIORITY_CLASSES,
    PVCS,
    SECRETS,
    SERVICE_ACCOUNTS,
    STORAGE_CLASSES,
)
from rollout.manifests import InstallOptions
from rollout.manifests.rbac import CORE, LEADER_ELECTION, ROUTERS
from rollout.registry import installed
from rollout.testing.router_contract import CHECKS, Env
from tests.e2e.harness import NS, Cluster, ControllerProcess, blue_green_doc, rollout_doc
from tests.e2e.test_analysis_jobs import smoke_template
from tests.e2e.test_workload_ref import create_rollout, create_web
from tests.install.rbac_tools import (
    apply_identity,
    eventually,
    granted,
    refused,
    requests_of,
    service_account_kube,
    used,
)
from tests.meshes.contract import all_cases

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTROLLER_NS = "rollout-system"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(ready_delay=0.0)
    yield c
    c.close()


def controller_under(account_kubeconfig: Path, *extra: str) -> ControllerProcess:
    return ControllerProcess(
        account_kubeconfig,
        options=("--lease-namespace", CONTROLLER_NS, "--lease-name", "rollout-controller", *extra),
    )


# ---- a workload that makes the controller use every CORE grant ----------------------


def create(cluster: Cluster, kind: Kind, body: dict[str, Any], namespace: str | None = NS) -> None:
    cluster.kube.create(kind, body, namespace=namespace if kind.namespaced else None)


def preflight_objects(cluster: Cluster) -> None:
    """What the pod template below refers to; preflight reads each before any pod."""
    create(cluster, CONFIG_MAPS, {"metadata": {"name": "app-config"}, "data": {"a": "b"}})
    create(cluster, SECRETS, {"metadata": {"name": "app-secret"}, "stringData": {"token": "t"}})
    create(cluster, SERVICE_ACCOUNTS, {"metadata": {"name": "app-sa"}})
    create(cluster, STORAGE_CLASSES, {"metadata": {"name": "fast"}, "provisioner": "x"})
    create(
        cluster,
        PVCS,
        {
            "metadata": {"name": "app-data"},
            "spec": {
                "storageClassName": "fast",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    create(cluster, PRIORITY_CLASSES, {"metadata": {"name": "high"}, "value": 1000})


def referencing_template(doc: dict[str, Any]) -> dict[str, Any]:
    pod = doc["spec"]["template"]["spec"]
    pod["serviceAccountName"] = "app-sa"
    pod["priorityClassName"] = "high"
    pod["containers"][0]["envFrom"] = [{"configMapRef": {"name": "app-config"}}]
    pod["volumes"] = [
        {"name": "token", "secret": {"secretName": "app-secret"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "app-data"}},
    ]
    return doc


def analysed_canary(cluster: Cluster) -> None:
    """Job analysis from a namespaced and a cluster-wide template: jobs, pods, pods/log."""
    create(cluster, ANALYSIS_TEMPLATES, smoke_template("succeed", "0.2s"))
    cluster_template = smoke_template("succeed", "0.2s")
    cluster_template["kind"] = "ClusterAnalysisTemplate"
    cluster_template["metadata"] = {"name": "cluster-smoke"}
    cluster_template["spec"]["metrics"][0]["name"] = "cluster-smoke"  # names are per run
    create(cluster, CLUSTER_ANALYSIS_TEMPLATES, cluster_template)
    steps = [
        {"setWeight": 20},
        {
            "analysis": {
                "templates": [
                    {"templateName": "smoke"},
                    {"templateName": "cluster-smoke", "clusterScope": True},
                ],
                "args": [{"name": "service", "value": "app-canary"}],
            }
        },
        {"setWeight": 60},
    ]
    for svc in ("app-stable", "app-canary"):
        cluster.create_service(svc, app="app")
    # No history kept: the old revision's Deployment is deleted once it is scaled down.
    doc = rollout_doc("app", "app:v1", steps=steps, revisionHistoryLimit=0)
    create(cluster, ROLLOUTS, referencing_template(doc))


STABLE_INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "edge"},
    "spec": {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "edge.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "edge-stable", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    },
}


def routed_canary(cluster: Cluster) -> None:
    """An ingress-nginx canary: the canary Ingress is created, updated and deleted."""
    create(cluster, INGRESS_CLASSES, {"metadata": {"name": "nginx"}, "spec": {"controller": "x"}})
    create(cluster, INGRESSES, copy.deepcopy(STABLE_INGRESS))
    for svc in ("edge-stable", "edge-canary"):
        cluster.create_service(svc, app="edge")
    doc = rollout_doc(
        "edge",
        "edge:v1",
        steps=[{"setWeight": 30}, {"pause": {"duration": "1s"}}],
        canary={"trafficRouting": {"nginx": {"stableIngress": "edge"}}},
    )
    create(cluster, ROLLOUTS, doc)


def blue_green(cluster: Cluster) -> None:
    for svc in ("bg-active", "bg-preview"):
        cluster.create_service(svc, app="bg")
    create(cluster, ROLLOUTS, blue_green_doc("bg", "bg:v1"))


def aborted_analysis(cluster: Cluster) -> None:
    """A Job still running when the rollout is aborted: the controller deletes it."""
    long_running = smoke_template("succeed", "120s")
    long_running["metadata"] = {"name": "long"}
    create(cluster, ANALYSIS_TEMPLATES, long_running)
    for svc in ("slow-stable", "slow-canary"):
        cluster.create_service(svc, app="slow")
    steps = [
        {"setWeight": 20},
        {
            "analysis": {
                "templates": [{"templateName": "long"}],
                "args": [{"name": "service", "value": "slow-canary"}],
            }
        },
    ]
    create(cluster, ROLLOUTS, rollout_doc("slow", "slow:v1", steps=steps))


def jobs_of(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    items, _ = cluster.kube.list(JOBS, namespace=NS)
    return [j for j in items if name in j["metadata"]["name"]]


def workload_ref(cluster: Cluster) -> None:
    """A Rollout taking its template from the user's Deployment (read with get)."""
    create_web(cluster)
    create_rollout(cluster, "wl", "web")


def test_the_controller_needs_every_core_grant_and_nothing_more(
    cluster: Cluster, tmp_path: Path
) -> None:
    options = InstallOptions(namespace=CONTROLLER_NS, routers=("nginx",))
    account = apply_identity(cluster.sandbox, cluster.kube, options, tmp_path)
    preflight_objects(cluster)
    analysed_canary(cluster)
    routed_canary(cluster)
    blue_green(cluster)
    workload_ref(cluster)
    aborted_analysis(cluster)
    controller = controller_under(account.kubeconfig)
    controller.start()
    try:
        released = ("app", "edge", "bg")
        for name in (*released, "wl", "slow"):
            cluster.wait_phase(name, "Healthy", timeout=60)
        for name in (*released, "slow"):
            cluster.api.set_image(NS, name, "app", f"{name}:v2")
        eventually(lambda: bool(jobs_of(cluster, "slow")), timeout=60, what="the long Job")
        cluster.api.abort(NS, "slow")
        eventually(lambda: not jobs_of(cluster, "slow"), timeout=30, what="the Job deleted")
        for name in released:
            done = cluster.wait_phase(name, "Healthy", timeout=90)
            assert done["status"]["stableRevision"] == done["status"]["currentRevision"]
            assert done["spec"]["template"]["spec"]["containers"][0]["image"] == f"{name}:v2"
        # revisionHistoryLimit 0: v1's Deployment is deleted after its scale-down delay.
        eventually(lambda: len(cluster.revisions("app")) == 1, timeout=30, what="v1 of app deleted")
        # Deleting a routed Rollout: its finalizer restores routing (the canary Ingress goes).
        cluster.kube.delete(ROLLOUTS, "edge", namespace=NS)
        eventually(
            lambda: (
                "edge"
                not in {r["metadata"]["name"] for r in cluster.kube.list(ROLLOUTS, namespace=NS)[0]}
            ),
            timeout=30,
            what="the finalizer of the deleted Rollout to be removed",
        )
    finally:
        controller.kill()
    mine = requests_of(cluster.sandbox, account.user)
    assert mine, "the controller sent nothing under its ServiceAccount"
    assert refused(mine) == [], "the install's RBAC lacks these"
    unused = granted([*CORE, *LEADER_ELECTION, *ROUTERS["nginx"]]) - used(mine)
    assert unused == set(), f"granted but never used: {sorted(unused)}"


def test_a_grant_taken_away_is_refused_and_the_rollout_does_not_move(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The check above can fail: without `patch services` the controller cannot pin."""
    options = InstallOptions(namespace=CONTROLLER_NS, routers=())
    account = apply_identity(cluster.sandbox, cluster.kube, options, tmp_path)
    role = cluster.kube.get(
        Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
        options.name,
    )
    for rule in role["rules"]:
        if rule["resources"] == ["services"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "patch"]
    cluster.kube.replace(
        Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
        role,
    )
    cluster.create("app")
    controller = controller_under(account.kubeconfig)
    controller.start()
    try:
        eventually(
            lambda: any(
                r.resource == "services" and r.verb == "patch" and r.status == 403
                for r in requests_of(cluster.sandbox, account.user)
            ),
            timeout=30,
            what="a refused Service patch",
        )
        assert (cluster.status("app").get("phase")) != "Healthy"
    finally:
        controller.kill()


def test_a_namespace_scoped_install_acts_only_in_its_namespace(
    cluster: Cluster, tmp_path: Path
) -> None:
    team = "team-a"
    cluster.kube.create(
        Kind("", "v1", "namespaces", "Namespace", namespaced=False), {"metadata": {"name": team}}
    )
    options = InstallOptions(namespace=CONTROLLER_NS, watch_namespace=team, routers=())
    account = apply_identity(cluster.sandbox, cluster.kube, options, tmp_path)
    for svc in ("app-stable", "app-canary"):
        cluster.kube.create(
            SERVICES,
            {
                "metadata": {"name": svc},
                "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]},
            },
            namespace=team,
        )
    mine = rollout_doc("app", "app:v1", steps=[{"setWeight": 50}])
    mine["metadata"]["namespace"] = team
    cluster.kube.create(ROLLOUTS, mine, namespace=team)
    cluster.create("other")  # in `default`: not this install's
    controller = controller_under(account.kubeconfig, "--namespace", team)
    controller.start()
    try:
        eventually(
            lambda: (
                (cluster.kube.get(ROLLOUTS, "app", namespace=team).get("status") or {}).get("phase")
                == "Healthy"
            ),
            timeout=60,
            what="the team's Rollout to be Healthy",
        )
    finally:
        controller.kill()
    records = requests_of(cluster.sandbox, account.user)
    assert refused(records) == []
    assert cluster.rollout("other").get("status") is None  # never touched
    namespaces = {r.namespace for r in records}
    assert namespaces <= {team, CONTROLLER_NS, None}, namespaces
    cluster_wide = {(r.resource, r.verb) for r in records if r.namespace is None}
    # Only the cluster-scoped reads of the small ClusterRole may go beyond the namespace.
    assert {res for res, _ in cluster_wide} <= {g.resources[0] for g in CORE if g.cluster_scoped}, (
        cluster_wide
    )


def test_shards_each_act_only_on_the_rollouts_their_selector_matches(
    cluster: Cluster, tmp_path: Path
) -> None:
    options = InstallOptions(namespace=CONTROLLER_NS, name="shard-a", rollout_selector="shard=a")
    account = apply_identity(cluster.sandbox, cluster.kube, options, tmp_path)
    for name, shard in (("one", "a"), ("two", "b")):
        cluster.create(name)
        body = cluster.rollout(name)
        body["metadata"].setdefault("labels", {})["shard"] = shard
        cluster.kube.replace(ROLLOUTS, body, namespace=NS)
    controller = controller_under(account.kubeconfig, "--rollout-selector", "shard=a")
    controller.start()
    try:
        cluster.wait_phase("one", "Healthy", timeout=60)
    finally:
        controller.kill()
    assert cluster.rollout("two").get("status") is None
    records = requests_of(cluster.sandbox, account.user)
    assert refused(records) == []
    assert not any(r.resource == "rollouts" and r.name == "two" for r in records)


# ---- routers: their contract checks, under only their own grants ----------------------


def router_names() -> dict[type, str]:
    return {ep.load(): name for name, ep in installed("routers").items()}


@pytest.mark.parametrize("router", sorted(n for n in ROUTERS if ROUTERS[n]))
def test_each_router_needs_exactly_its_grants(router: str, tmp_path: Path) -> None:
    names = router_names()
    cases = [c for c in all_cases() if names.get(c.router) == router]
    assert cases, f"no contract cases for {router}"
    seen: set[tuple[str, str, str]] = set()
    for index, case in enumerate(cases):
        cluster = Cluster()
        try:
            options = InstallOptions(namespace=CONTROLLER_NS, name=f"r{index}", routers=(router,))
            account = apply_identity(cluster.sandbox, cluster.kube, options, tmp_path)
            case.setup(cluster.kube)
            kube = service_account_kube(cluster.sandbox, account)
            try:
                env = Env(case, cluster.sandbox, cluster.kube, case.router(kube))
                for check in ("round-trip", "header-routes", "finalize"):
                    CHECKS[check](env)
                    # Read after each check: some checks clear the request log.
                    records = requests_of(cluster.sandbox, account.user)
                    assert refused(records) == [], f"{case.id} {check}"
                    seen |= used(records)
            finally:
                kube.close()
        finally:
            cluster.close()
    # What a router reads of CORE's (the apex Service) is CORE's to grant.
    unused = granted(ROUTERS[router]) - seen
    assert unused == set(), f"{router}: granted but never used: {sorted(unused)}"
    extra = seen - granted([*ROUTERS[router], *CORE])
    assert extra == set()
