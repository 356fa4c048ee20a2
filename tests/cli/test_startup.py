"""The console script imports only the module of the command it runs (rollout/cli/main.py)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

import rollout.models
from rollout.cli.main import COMMANDS, build_parser


@pytest.mark.parametrize("module", list(COMMANDS))
def test_the_command_table_says_what_each_module_registers(module: str) -> None:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    importlib.import_module(module).register(subparsers)
    assert tuple(subparsers.choices) == COMMANDS[module]


def test_help_and_unknown_words_get_every_command() -> None:
    every = {c for commands in COMMANDS.values() for c in commands}
    for argv in ([], ["--help"], ["nonsense"]):
        parser = build_parser(argv)
        (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert set(action.choices) == every


def _imported_after(argv: list[str]) -> set[str]:
    """The modules loaded by running `rollout ARGV` (to its error: no cluster here)."""
    code = (
        "import sys\nfrom rollout.cli.main import main\n"
        f"main({argv!r})\nprint(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_list_builds_no_spec_model_and_no_cel() -> None:
    loaded = _imported_after(["list", "-A", "--kubeconfig", "/nonexistent"])
    assert "rollout.cli.view_cmd" in loaded and "rollout.cli.lint_cmd" not in loaded
    assert not {"rollout.models.spec", "celpy"} & loaded


def test_lint_still_loads_what_it_checks_with() -> None:
    loaded = _imported_after(["lint", "/nonexistent.yaml"])
    assert {"rollout.models.spec", "rollout.cli.lint_cmd"} <= loaded


def test_every_model_name_the_package_offers_resolves() -> None:
    assert set(rollout.models.__all__) == set(rollout.models._HOME)
    for name in rollout.models.__all__:
        assert getattr(rollout.models, name) is not None
    with pytest.raises(AttributeError):
        _ = rollout.models.NoSuchModel  # type: ignore[attr-defined]
