"""`rollout lint` end to end: the real CLI, real files, and no traceback ever reaching the user."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.cli.main import main
from rollout.lint import lint_paths, lint_report

EXAMPLE = Path(__file__).parents[2] / "examples" / "rollout-demo.yaml"
GOOD = EXAMPLE.read_text(encoding="utf-8").split("\n---\n")[0] + "\n"
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: demo\nspec:\n  ports: [{port: 80}]\n"


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["lint", *args])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out.splitlines()


def test_the_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint(capsys, str(EXAMPLE))
    assert out == ["no problems; 1 Rollout valid; 3 other documents skipped"]
    assert code == 0


def test_problems_one_per_line_then_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.replace("setWeight: 50", "setWeight: 150").replace("replicas: 5", "replicas: five")
        + "---\n"
        + SERVICE
        + "---\n"
        + GOOD.replace("kind: Rollout", "kind: Deployment")  # our apiVersion: checked, not skipped
        + "---\n"
        + GOOD
    )
    code, out = lint(capsys, str(bad))
    lines = GOOD.splitlines()
    replicas = lines.index("  replicas: 5") + 1
    weight = next(i for i, line in enumerate(lines) if "setWeight: 50" in line) + 1
    kind = len(lines) + 1 + len(SERVICE.splitlines()) + 1 + lines.index("kind: Rollout") + 1
    assert out == [
        f"{bad}:{replicas} (document 1): spec.replicas: must be an integer (got string 'five')",
        f"{bad}:{weight} (document 1): spec.strategy.canary.steps[2].setWeight: "
        "must be at most 100 (got integer 150)",
        f"{bad}:{kind} (document 3): kind: expected kind Rollout "
        "(apiVersion rollout.dev/v1alpha1), got Deployment",
        "3 problems in 2 documents; 1 Rollout valid; 1 other document skipped",
    ]
    assert code == 1


def test_a_file_must_carry_the_types_the_api_server_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API server's schema rejects a quoted number or boolean; lint must not pass them.
    # An integral float is a JSON number like any other, and an enum is given as its text.
    quoted = tmp_path / "quoted.yaml"
    quoted.write_text(
        GOOD.replace("replicas: 5", 'replicas: "5"').replace("setWeight: 50", "setWeight: 50.0")
        + "  paused: 'false'\n"
    )
    code, out = lint(capsys, str(quoted))
    lines = quoted.read_text().splitlines()
    replicas = lines.index('  replicas: "5"') + 1
    assert out == [
        f"{quoted}:{replicas} (document 1): spec.replicas: must be an integer (got string '5')",
        f"{quoted}:{len(lines)} (document 1): spec.paused: must be true or false "
        "(got string 'false')",
        "2 problems in 1 document; 0 Rollouts valid",
    ]
    assert code == 1


def test_a_directory_is_searched_and_other_kinds_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "apps" / "demo").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps" / "demo" / "rollout.yaml").write_text(GOOD)
    (tmp_path / "apps" / "demo" / "service.yml").write_text(SERVICE)
    no_action = GOOD.replace("        - pause: {}\n", "        - pause: {}\n        - {}\n")
    (tmp_path / "apps" / "broken.yaml").write_text(no_action)
    (tmp_path / "apps" / "README.md").write_text("not yaml: [")
    (tmp_path / ".git" / "config.yaml").write_text("not: [valid")
    (tmp_path / "values.yaml").write_text("image: {tag: latest}\n")
    (tmp_path / "empty.yaml").write_text("")
    code, out = lint(capsys, str(tmp_path))
    broken = tmp_path / "apps" / "broken.yaml"
    assert len(out) == 2
    assert out[0].startswith(f"{broken}:")
    assert out[0].endswith(
        "(document 1): spec.strategy.canary.steps[4]: a step has exactly one "
        "of setWeight, pause, setCanaryScale, analysis, setHeaderRoute, setMirrorRoute "
        "or confirm (found: none)"
    )
    assert out[1] == "1 problem in 1 document; 1 Rollout valid; 2 other documents skipped"
    assert code == 1


def test_a_directory_without_yaml_or_without_rollouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("hello")
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "svc.yaml").write_text(SERVICE)
    code, out = lint(capsys, str(tmp_path / "none"), str(tmp_path / "services"))
    assert out == [
        f"{tmp_path / 'none'}: no *.yaml or *.yml files in this directory",
        f"{tmp_path / 'services'}: no Rollout (kind Rollout, apiVersion rollout.dev/v1alpha1) "
        "in 1 file (1 other document skipped)",
        "2 problems in 2 documents; 0 Rollouts valid; 1 other document skipped",
    ]
    assert code == 1


def test_a_file_named_explicitly_must_hold_a_rollout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        GOOD.replace("kind: Rollout", "kind: Deployment").replace("rollout.dev/v1alpha1", "apps/v1")
    )
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n# nothing here\n")
    code, out = lint(capsys, str(deployment), str(empty), str(tmp_path / "missing.yaml"))
    assert out == [
        f"{deployment}:{GOOD.splitlines().index('kind: Rollout') + 1} (document 1): "
        "kind: expected kind Rollout "
        "(apiVersion rollout.dev/v1alpha1), got Deployment",
        f"{empty}: the file has no documents; expected a Rollout",
        f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory",
        "3 problems in 3 documents; 0 Rollouts valid",
    ]
    assert code == 1


def test_a_file_name_holding_a_nul_byte_is_a_problem_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found by tests/fuzz/test_cli_fuzz.py: `rollout lint $'\\0'` ended in a ValueError."""
    code, out = lint(capsys, "a\0b.yaml")
    assert out == [
        "a\\x00b.yaml: cannot read: a file name cannot hold a NUL byte",
        "1 problem in 1 document; 0 Rollouts valid",
    ]
    assert code == 1


def test_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    code, out = lint(capsys, "-")
    assert (code, out) == (0, ["no problems; 1 Rollout valid"])


def test_no_paths_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["lint"])
    assert caught.value.code == 2
    assert "FILE|DIR" in capsys.readouterr().err


def test_help_states_the_directory_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["lint", "--help"])
    out = capsys.readouterr().out
    assert "Documents of other kinds in it" in out
    assert "must\ncontain at least one Rollout" in out


def hostile_files(directory: Path) -> list[Path]:
    files = {
        "deep-seq.yaml": "[" * 10_000,
        "deep-map.yaml": "{a: " * 10_000 + "1" + "}" * 10_000,
        "deep-block.yaml": "".join(" " * i + "a:\n" for i in range(1_500)),
        "syntax.yaml": "kind: Rollout\nspec: {a: [1, }\n",
    }
    paths = []
    for name, text in files.items():
        (directory / name).write_text(text)
        paths.append(directory / name)
    garbage = directory / "garbage.yaml"
    garbage.write_bytes(os.urandom(4096) + b"\xff\xfe")
    big = directory / "big.yaml"
    with big.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024)  # sparse: instant to make, 50 MiB to stat
    return [*paths, garbage, big]


def test_no_traceback_reaches_the_user(tmp_path: Path) -> None:
    files = hostile_files(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "rollout.cli.main", "lint", *map(str, files), str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[-1] == "6 problems in 6 documents; 1 Rollout valid; 3 other documents skipped"
    by_file = {line.split(":", 1)[0].split(" (")[0]: line for line in out[:-1]}
    assert "nested more than 100 levels deep" in by_file[str(tmp_path / "deep-seq.yaml")]
    assert "nested more than 100 levels deep" in by_file[str(tmp_path / "deep-map.yaml")]
    assert "nested more than 100 levels deep" in by_file[str(tmp_path / "deep-block.yaml")]
    assert (
        f"{tmp_path / 'syntax.yaml'}:2 (document 1): invalid YAML"
        in by_file[str(tmp_path / "syntax.yaml")]
    )
    assert "not a text file" in by_file[str(tmp_path / "garbage.yaml")]
    assert "file is 50.0 MiB; the limit is 10 MiB" in by_file[str(tmp_path / "big.yaml")]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_lint_never_raises(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch, "fuzz.yaml")
        path.write_bytes(content)
        problems = lint_paths([str(path), scratch])
        report = lint_report([str(path)])
    assert all(p.reason for p in problems)
    assert report.ok == (report.rollouts_valid > 0 and not report.problems)
