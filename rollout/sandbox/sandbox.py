"""Starting and stopping a sandbox: the object tests and the demo hold on to.

Owns wiring the registry, store, watch hub, HTTP server and the Deployment
and Job simulators together, running them on daemon threads, and handing out client
configuration (kubeconfig file or a ready ``kubernetes.client.ApiClient``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import kubernetes.client
import yaml

from .deployments import DeploymentSimulator
from .faults import FaultInjector, RequestLog
from .jobs import JobSimulator
from .resources import Registry
from .server import SandboxHTTPServer, ServerState
from .store import Store
from .watch import WatchHub


class Sandbox:
    """A running sandbox API server. Create with :func:`start_sandbox`."""

    def __init__(
        self,
        state: ServerState,
        server: SandboxHTTPServer,
        simulator: DeploymentSimulator,
        jobs: JobSimulator,
    ) -> None:
        self._state = state
        self._server = server
        self._simulator = simulator
        self._jobs = jobs
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sandbox-http",
            daemon=True,
        )
        host, port = server.server_address[:2]
        self.url: str = f"http://{host!s}:{port}"
        self.faults: FaultInjector = state.faults
        self.requests: RequestLog = state.log
        self._stopped = False

    @property
    def store(self) -> Store:
        """Direct store access (in-process tests and tools; clients should use HTTP)."""
        return self._state.store

    def _start(self) -> None:
        self._simulator.start()
        self._jobs.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: close watches and connections, stop the simulator. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._state.stopping.set()
        self._state.hub.drop_all()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._simulator.stop()
        self._jobs.stop()
        self._thread.join(timeout=5)

    def drop_watches(self, *, abrupt: bool = False) -> int:
        """Close every open watch stream at once; returns how many were closed.

        By default the stream ends cleanly (terminating chunk, as when the API
        server closes a watch); ``abrupt=True`` resets the connection mid-stream
        like a network failure, which clients see as a protocol error.
        """
        return self._state.hub.drop_all(abrupt=abrupt)

    def issue_token(self, namespace: str, service_account: str) -> str:
        """A bearer token for the ServiceAccount; its requests are checked against RBAC."""
        return self._state.authz.issue_token(namespace, service_account)

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        namespace: str = "default",
        token: str | None = None,
    ) -> None:
        """A kubeconfig for this sandbox: as the admin, or as the owner of `token`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox", "user": {"token": token} if token else {}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": namespace},
                }
            ],
            "current-context": "sandbox",
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))

    def api_client(self) -> kubernetes.client.ApiClient:
        """A client configured for this sandbox; the caller must ``close()`` it."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.ApiClient(configuration)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_sandbox(
    *,
    port: int = 0,
    ready_delay: float = 0.0,
    tick: float = 0.05,
    host: str = "127.0.0.1",
    watch_history: int = 5000,
    watch_queue: int = 10000,
    bookmark_interval: float = 1.0,
    job_duration: float = 0.0,
) -> Sandbox:
    """Start the API server and the Deployment and Job simulators; returns once connections
    are accepted.

    ``ready_delay`` is how long simulated pods take to become ready (overridable
    per Deployment); ``job_duration`` is how long a Job's Pods run (overridable per
    Job); ``watch_history`` is how many events per resource type can
    be resumed from before a watch gets 410 Expired; ``watch_queue`` is how many
    undelivered events a watch stream may lag behind before it is closed.
    """
    registry = Registry()
    hub = WatchHub(history_size=watch_history, max_pending=watch_queue)
    store = Store(registry, hub)
    state = ServerState(
        registry, store, hub, FaultInjector(), RequestLog(), bookmark_interval=bookmark_interval
    )
    server = SandboxHTTPServer((host, port), state)
    deployments = registry.lookup("apps", "v1", "deployments")
    jobs = registry.lookup("batch", "v1", "jobs")
    pods = registry.lookup("", "v1", "pods")
    assert deployments is not None and jobs is not None and pods is not None
    sandbox = Sandbox(
        state,
        server,
        DeploymentSimulator(store, deployments, ready_delay=ready_delay, tick=tick),
        JobSimulator(store, jobs, pods, job_duration=job_duration, tick=tick),
    )
    sandbox._start()
    # The listening socket accepts (backlog) as soon as it is bound; wait until
    # serve_forever is actually looping so the first request is answered promptly.
    sandbox_port = int(server.server_address[1])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, sandbox_port), timeout=1):
                break
        except OSError:
            time.sleep(0.01)
    return sandbox
