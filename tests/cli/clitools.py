"""Shared pieces of the CLI end-to-end tests: running the real command line in this process
against the sandbox, and steering a rollout through the CLI or its kubectl-equivalent patch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from rollout.cli.main import main
from rollout.engine import revision_hash
from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj, PatchType
from rollout.models import Rollout
from tests.e2e.harness import NS, Cluster, rollout_doc

NOT_FOUND = 'error: rollout "nope" not found in namespace "default"'
MANUAL_PAUSE = 3  # index of the `pause: {}` step in the harness's steps


def rev(image: str, name: str = "demo") -> str:
    """The revision the controller computes for the harness's template with `image`."""
    template = Rollout.model_validate(rollout_doc(name, image)).spec.template
    assert template is not None
    return revision_hash(template.to_dict())


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class CLI:
    """`rollout ARGS --kubeconfig <the sandbox's>`, run in this process."""

    def __init__(self, kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.kubeconfig = kubeconfig
        self._capsys = capsys

    def argv(self, *args: str) -> list[str]:
        return [*args, "--kubeconfig", str(self.kubeconfig)]

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(self.argv(*args))
        captured = self._capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)


def steer(
    cli: CLI,
    cluster: Cluster,
    via: str,
    *,
    args: list[str],
    printed: str,
    patch: Obj | list[Obj],
    status: bool = False,
    patch_type: PatchType = "merge",
) -> None:
    """Run `rollout ARGS` (via="cli") or send its documented equivalent patch (via="kubectl")."""
    name = "demo"
    if via == "cli":
        result = cli(*args)
        assert (result.code, result.err) == (0, "")
        assert result.out == f'rollout "{name}" {printed}\n'
    else:
        cluster.kube.patch(
            ROLLOUTS,
            name,
            patch,
            namespace=NS,
            sub="status" if status else None,
            patch_type=patch_type,
        )


VIA = pytest.mark.parametrize("via", ["cli", "kubectl"])


def release_v2(
    cluster: Cluster, *, steps: list[Obj] | None = None, to_step: int = MANUAL_PAUSE
) -> Obj:
    """`demo` healthy on app:v1, then app:v2 released and walked to step `to_step`."""
    cluster.create("demo", steps=steps)
    cluster.wait_phase("demo", "Healthy")
    cluster.api.set_image(NS, "demo", "app", "app:v2")
    return cluster.wait_step("demo", to_step)


def reasons(cluster: Cluster, name: str = "demo") -> list[str]:
    return [h["reason"] for h in cluster.status(name).get("history", [])]


def lines_after(text: str, heading: str) -> list[str]:
    """The indented lines under `heading:` in `rollout get` output."""
    lines = text.splitlines()
    start = lines.index(f"{heading}:") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        block.append(line)
    return block
