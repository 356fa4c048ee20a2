"""The `cli` fixture: the real `rollout` command line, pointed at the sandbox by a kubeconfig,
with the controller running (the `cluster` and `controller` fixtures come from tests/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.reconciler.controller import Controller
from tests.cli.clitools import CLI
from tests.e2e.harness import Cluster


@pytest.fixture
def cli(
    cluster: Cluster, controller: Controller, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> CLI:
    path = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(path)
    return CLI(path, capsys)
