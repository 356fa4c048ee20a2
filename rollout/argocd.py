"""The Argo CD health check of our Rollout kind, and the argocd-cm snippet that installs it.

`deploy/argocd/rollout-health.lua` is the source, written and reviewed as Lua.
`deploy/argocd/argocd-cm.yaml` is generated from it by `python -m rollout.argocd`, so the two
cannot drift: tests/install/test_argocd_health.py fails when the committed snippet is not what
this module renders, and runs the script itself in a Lua 5.1 interpreter (gopher-lua, which
Argo CD embeds, speaks Lua 5.1).

The key is `resource.customizations.health.<group>_<kind>`, the per-resource form Argo CD reads
from argocd-cm (the older `resource.customizations` block still works but needs YAML inside
YAML).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rollout.models import GROUP, KIND

DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "argocd"
LUA_FILE = DEPLOY_DIR / "rollout-health.lua"
CONFIGMAP_FILE = DEPLOY_DIR / "argocd-cm.yaml"
HEALTH_KEY = f"resource.customizations.health.{GROUP}_{KIND}"

_HEADER = """\
# Generated from deploy/argocd/rollout-health.lua by `python -m rollout.argocd`. Do not edit by
# hand: tests/install/test_argocd_health.py fails when this file and the script disagree.
#
# Argo CD's health check for {group}/{kind}: Healthy, Progressing, Degraded or Suspended from
# the controller's status. Merge it into the argocd-cm ConfigMap of your Argo CD install (other
# keys are kept):
#   kubectl -n argocd patch configmap argocd-cm --type merge \\
#     --patch-file deploy/argocd/argocd-cm.yaml
# With the argo-cd Helm chart, put the key under configs.cm instead.
"""


def configmap_text(script: str) -> str:
    """The argocd-cm snippet holding `script` verbatim, as a YAML literal block.

    Written out by hand rather than by a YAML dumper: a literal block keeps the script readable
    (and diffable) exactly as in the .lua file, which a dumper only does for some inputs."""
    lines = script.splitlines()
    if any(line != line.rstrip() or "\t" in line for line in lines):
        # A literal block cannot keep trailing blanks, and YAML forbids tabs as indentation.
        raise ValueError("the health script must have no trailing blanks and no tabs")
    body = "".join(f"    {line}\n" if line else "\n" for line in lines)
    return (
        _HEADER.format(group=GROUP, kind=KIND)
        + "apiVersion: v1\n"
        + "kind: ConfigMap\n"
        + "metadata:\n"
        + "  name: argocd-cm\n"
        + "  namespace: argocd\n"
        + "  labels:\n"
        + "    app.kubernetes.io/name: argocd-cm\n"
        + "    app.kubernetes.io/part-of: argocd\n"
        + "data:\n"
        + f"  {HEALTH_KEY}: |\n"
        + body
    )


def health_script() -> str:
    return LUA_FILE.read_text(encoding="utf-8")


def write_configmap(target: Path = CONFIGMAP_FILE) -> Path:
    target.write_text(configmap_text(health_script()), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(f"wrote {write_configmap(Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIGMAP_FILE)}")
