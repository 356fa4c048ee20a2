"""Steering a sandbox from outside: the /sandbox/ admin API, the CLI, kubeconfig."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from rollout.sandbox import Sandbox

from .helpers import configmap, http


def test_admin_faults_endpoint(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    code, body = http(
        "POST",
        f"{sandbox.url}/sandbox/faults",
        {"verb": "list", "resource": "configmaps", "code": 503},
    )
    assert code == 201 and len(body["faults"]) == 1
    assert http("GET", f"{sandbox.url}/sandbox/faults")[1]["faults"][0]["code"] == 503
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns)
    assert err.value.status == 503
    http("POST", f"{sandbox.url}/sandbox/faults", {"verb": "list", "code": 500, "count": 5})
    assert http("DELETE", f"{sandbox.url}/sandbox/faults")[0] == 200
    assert core.list_namespaced_config_map(ns).items == []


def test_admin_rejects_bad_fault(sandbox: Sandbox) -> None:
    assert http("POST", f"{sandbox.url}/sandbox/faults", {"bogus": 1})[0] == 400
    assert http("POST", f"{sandbox.url}/sandbox/faults", {"code": 200})[0] == 400
    assert http("GET", f"{sandbox.url}/sandbox/nothing")[0] == 404


def test_admin_requests_endpoint(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("admin-log"))
    code, entries = http("GET", f"{sandbox.url}/sandbox/requests")
    assert code == 200
    mine = [e for e in entries if e["namespace"] == ns and e["resource"] == "configmaps"]
    assert [(e["verb"], e["status"], e["method"]) for e in mine] == [("create", 201, "POST")]
    assert set(mine[0]) >= {
        "path",
        "group",
        "subresource",
        "name",
        "started",
        "duration",
        "injected",
    }
    assert http("DELETE", f"{sandbox.url}/sandbox/requests")[0] == 200
    assert sandbox.requests.entries() == []


def test_admin_drop_watches(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("w"))
    got_first = threading.Event()
    done = threading.Event()

    def run() -> None:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, ns, timeout_seconds=30):
            got_first.set()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert got_first.wait(5)
    code, body = http("POST", f"{sandbox.url}/sandbox/drop-watches")
    assert code == 200 and body["dropped"] >= 1
    assert done.wait(5)
    thread.join(5)


def test_write_kubeconfig(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "kubeconfig"
    sandbox.write_kubeconfig(path, namespace="kube-public")
    api = config.new_client_from_config(config_file=str(path))
    try:
        assert api.configuration.host == sandbox.url
        names = {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}
        assert "kube-public" in names
    finally:
        api.close()
    _, active = config.list_kube_config_contexts(config_file=str(path))
    assert active["context"]["namespace"] == "kube-public"


def test_cli_runs_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollout.sandbox", "--port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("sandbox: serving on http://127.0.0.1:"), first
        second = proc.stdout.readline()
        assert str(kubeconfig) in second
        api = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
        finally:
            api.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
