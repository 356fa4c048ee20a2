"""The generated parts of the Helm chart (deploy/helm/rollout-controller/files/).

The chart's templates hold no permissions and no CRD of their own: they read them from
files this module writes, so the chart cannot drift from `rollout install`:
- `files/rbac.yaml`: the grants of rbac.py (CORE, the leader-election Lease, each router),
  as data; the templates pick the routers named in values.yaml and split cluster-scoped
  grants off exactly as objects.py does.
- `files/crds/*.yaml`: the committed CRDs of rollout/crds/, copied byte for byte under a
  header. A chart cannot read files outside its own directory (and symlinks do not survive
  `helm package` on every platform), hence a copy, regenerated with the rest of deploy/.

`python -m rollout.manifests` (`make deploy`) writes them with deploy/*.yaml, and the same
drift check covers them.
"""

from __future__ import annotations

from typing import Any

from rollout.crd import CRD_DIR, to_yaml
from rollout.manifests.rbac import CORE, LEADER_ELECTION, ROUTERS, Grant

CHART_DIR = "helm/rollout-controller"  # relative to deploy/

RBAC_HEADER = (
    "# Generated from rollout/manifests/rbac.py by `python -m rollout.manifests` (make deploy);\n"
    "# do not edit. templates/rbac.yaml builds the chart's Roles from it (`routers` in values);\n"
    "# `why` names the code that needs each grant and is not rendered.\n"
)


def crd_header(source: str) -> str:
    return (
        f"# Copied from rollout/crds/{source} by `python -m rollout.manifests` (make deploy);\n"
        "# do not edit. templates/crds.yaml installs it when crds.install is true.\n"
    )


def _grant(grant: Grant) -> dict[str, Any]:
    # Same keys as a PolicyRule, plus the two the templates need and the reason for review.
    return {
        **grant.rule(),
        "clusterScoped": grant.cluster_scoped,
        "why": grant.why,
    }


def rbac_table() -> dict[str, Any]:
    return {
        "core": [_grant(g) for g in CORE],
        "leaderElection": [_grant(g) for g in LEADER_ELECTION],
        # Table order, as rbac.py lists them; the templates follow the order of `routers`.
        "routers": {name: [_grant(g) for g in table] for name, table in ROUTERS.items()},
    }


def rendered() -> dict[str, str]:
    """Path under deploy/ -> text, for every generated file of the chart."""
    files = {f"{CHART_DIR}/files/rbac.yaml": RBAC_HEADER + to_yaml(rbac_table())}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        files[f"{CHART_DIR}/files/crds/{path.name}"] = crd_header(path.name) + text
    return files
