"""A real Prometheus for tests: installed from Debian when missing, fed backfilled TSDB blocks
(`promtool tsdb create-blocks-from openmetrics`) or scraping local targets, on 127.0.0.1.

Why a real one and not a stub: what we must get right is what Prometheus actually answers
(result types, NaN/Inf as strings, errorType on bad PromQL, lookback, extrapolation), and only
Prometheus itself says that truthfully.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import httpx

from tests.locks import APT, locked

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class PrometheusUnavailableError(RuntimeError):
    """Prometheus could not be installed, its data not created, or the server not started."""


def ensure_installed() -> tuple[str, str]:
    """Paths of `prometheus` and `promtool`, installing the Debian package when either is
    missing (the tests run as root on Debian machines)."""
    with locked(APT):
        return _ensure_installed()


def _ensure_installed() -> tuple[str, str]:
    found = shutil.which("prometheus"), shutil.which("promtool")
    if found[0] and found[1]:
        return found[0], found[1]
    before = _prometheus_pids()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
    ):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrometheusUnavailableError(
                f"prometheus/promtool are not on PATH and `{' '.join(command)}` failed: {exc}"
            ) from exc
        if done.returncode != 0:
            raise PrometheusUnavailableError(
                f"prometheus/promtool are not on PATH and `{' '.join(command)}` exited "
                f"{done.returncode}: {done.stderr.strip()[-2000:]} (install the Debian package "
                "`prometheus` by hand, as root)"
            )
    # A package's postinst may start the service; on a test machine that would leave a server
    # on :9090 running after the tests. Stop only what the install started.
    for pid in _prometheus_pids() - before:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    found = shutil.which("prometheus"), shutil.which("promtool")
    if not (found[0] and found[1]):
        raise PrometheusUnavailableError("installed the package `prometheus` but found no binaries")
    return found[0], found[1]


def _prometheus_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "prometheus":
                    pids.add(int(entry.name))
    return pids


def create_blocks(openmetrics: str, data_dir: Path) -> None:
    """Turn OpenMetrics text (timestamps in seconds, ending with `# EOF`) into TSDB blocks in
    `data_dir`, which Prometheus then serves as past data."""
    if not openmetrics.rstrip().endswith("# EOF"):
        raise ValueError("OpenMetrics text must end with '# EOF'")
    _, promtool = ensure_installed()
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / f"{data_dir.name}.om.txt"
    source.write_text(openmetrics)
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    source.unlink()
    if done.returncode != 0:
        raise PrometheusUnavailableError(
            f"promtool could not create blocks (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )


@dataclass
class PrometheusServer:
    """A running Prometheus on 127.0.0.1. Stop it with `stop()` (or use it as a context
    manager); its log is at `log_path`."""

    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT seconds."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_prometheus(
    config: str, data_dir: Path, *, tls: tuple[Path, Path] | None = None
) -> PrometheusServer:
    """Start Prometheus with the given configuration (YAML text) on a free 127.0.0.1 port,
    storing in `data_dir`, and wait until it is ready. With `tls` (certificate and key files,
    PEM) it serves HTTPS only."""
    prometheus, _ = ensure_installed()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir.parent / f"{data_dir.name}.yml"
    config_path.write_text(config)
    log_path = data_dir.parent / f"{data_dir.name}.log"
    extra: list[str] = []
    scheme = "http"
    if tls is not None:
        web_config = data_dir.parent / f"{data_dir.name}.web.yml"
        web_config.write_text(f"tls_server_config:\n  cert_file: {tls[0]}\n  key_file: {tls[1]}\n")
        extra.append(f"--web.config.file={web_config}")
        scheme = "https"
    last_error = ""
    for _ in range(3):  # another process may take the free port before Prometheus binds it
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    # Backfilled data is years old: without this, retention deletes it.
                    "--storage.tsdb.retention.time=100y",
                    "--log.level=warn",
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = PrometheusServer(f"{scheme}://127.0.0.1:{port}", data_dir, log_path, process)
        try:
            _wait_ready(server)
            return server
        except PrometheusUnavailableError as exc:
            server.stop()
            last_error = str(exc)
            if "address already in use" not in last_error:
                break
    raise PrometheusUnavailableError(last_error)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(server: PrometheusServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    # Readiness only: a test's own certificates are checked by the test.
    with httpx.Client(timeout=2.0, verify=False) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise PrometheusUnavailableError(
                    f"prometheus exited with {server.process.returncode}: {_log_tail(server)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"{server.url}/-/ready").status_code == 200:
                    return
            time.sleep(0.05)
    raise PrometheusUnavailableError(
        f"prometheus not ready after {READY_TIMEOUT:.0f}s: {_log_tail(server)}"
    )


def _log_tail(server: PrometheusServer) -> str:
    with contextlib.suppress(OSError):
        return server.log_path.read_text(errors="replace")[-2000:]
    return "(no log)"


_BACKFILL_CONFIG = """\
# Nothing to scrape: the data was backfilled.
global:
  scrape_interval: 1h
  evaluation_interval: 1h
scrape_configs: []
"""


@dataclass(frozen=True)
class LoadedPrometheus:
    """A running Prometheus holding backfilled data whose last samples are at `base_time`.
    Backfilled data lies in the past: pin every query to a time inside it."""

    server: PrometheusServer
    base_time: datetime

    @property
    def url(self) -> str:
        return self.server.url

    def before(self, seconds: float) -> datetime:
        """The time `seconds` before the data's end."""
        return self.base_time - timedelta(seconds=seconds)


def start_backfilled_prometheus(
    openmetrics: str, base_time: datetime, workdir: Path
) -> LoadedPrometheus:
    """Create blocks from `openmetrics` under `workdir` and serve them."""
    data_dir = workdir / "tsdb"
    create_blocks(openmetrics, data_dir)
    return LoadedPrometheus(start_prometheus(_BACKFILL_CONFIG, data_dir), base_time)


def start_scraping_prometheus(targets: list[str], tmp_path: Path) -> PrometheusServer:
    """A Prometheus scraping `targets` ("127.0.0.1:PORT", path /metrics) every second, job
    "targets". Stop it with `.stop()` or a `with` block. The first scrape comes about 5 s after
    start-up (Prometheus 2.42 hands new targets to the scrape loop on a fixed 5 s tick)."""
    for target in targets:
        host, _, port = target.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            raise ValueError(f"scrape targets must be 127.0.0.1:PORT (got {target!r})")
    listed = ", ".join(f'"{t}"' for t in targets)
    config = f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: targets
    static_configs:
      - targets: [{listed}]
"""
    return start_prometheus(config, tmp_path / "scraping-tsdb")
