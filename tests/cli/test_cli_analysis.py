"""The CLI and analysis: `rollout get` shows the runs, measurements and why; `promote
--skip-gates --reason` opens a closed release gate, audited."""

from __future__ import annotations

import socket

from tests.cli.clitools import CLI, lines_after
from tests.e2e.harness import NS, Cluster


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gated_release(cluster: Cluster) -> None:
    """`demo` whose SLO's Prometheus does not answer: its release gate cannot open."""
    address = f"http://127.0.0.1:{closed_port()}"
    slo = {
        "name": "availability",
        "objective": 99.9,
        "sli": {"bad": "sum(increase(bad[$window]))", "total": "sum(increase(all[$window]))"},
    }
    cluster.create(
        "demo",
        steps=[{"setWeight": 20}, {"pause": {}}],
        analysis={
            "prometheus": {"address": address},
            "slos": [slo],
            "gates": {"release": {"interval": "2s"}},
        },
        # The Prometheus check would hold it earlier, at preflight, which --skip-gates keeps.
        preflight={"checkProviders": False},
    )
    cluster.wait_phase("demo", "Healthy")
    cluster.api.set_image(NS, "demo", "app", "app:v2")
    cluster.wait(
        "demo",
        lambda r: any(
            run.get("metrics") and run["metrics"][0].get("error", 0) >= 2
            for run in (r.get("status") or {}).get("analysisRuns", [])
        ),
        what="two release-gate measurements",
    )


def test_a_closed_release_gate_is_shown_and_skipped_only_with_a_reason(
    cli: CLI, cluster: Cluster
) -> None:
    gated_release(cluster)
    status = cluster.status("demo")
    assert status["phase"] == "Paused"
    assert [c["reason"] for c in status["pauseConditions"]] == ["ErrorBudgetExhausted"]
    # Nothing of v2 runs while the gate is closed.
    assert cluster.replicas("demo").get(status["currentRevision"], (0, 0)) == (0, 0)

    shown = cli("get", "demo")
    assert shown.code == 0
    analysis = lines_after(shown.out, "Analysis")
    assert analysis[0].startswith("  release-gate: Running")
    assert "availability: Running" in analysis[1] and "errors" in analysis[1]
    assert "cannot connect to Prometheus" in analysis[2]

    refused = cli("promote", "demo", "--skip-gates")
    assert refused.code == 2 and "--reason" in refused.err
    assert "skipGates" not in cluster.status("demo")

    done = cli("promote", "demo", "--skip-gates", "--reason", "hotfix INC-42")
    assert done.code == 0 and "hotfix INC-42" in done.out
    cluster.wait_step("demo", 1)
    history = {h["reason"]: h["message"] for h in cluster.status("demo")["history"]}
    assert "hotfix INC-42" in history["GatesSkipped"]
    assert "cannot connect to Prometheus" in history["GatesSkipped"]
