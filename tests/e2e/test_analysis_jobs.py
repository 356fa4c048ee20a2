"""A Job as an analysis step, end to end (controller + sandbox with its simulated Job
controller): a passing smoke test moves the rollout on, a failing one rolls it back with the
Job's log tail in status, and a controller killed while the Job runs adopts it on restart
(one Job, not two) and finishes the step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rollout.kube.kinds import ANALYSIS_TEMPLATES, JOBS
from tests.e2e.harness import NS, Cluster, ControllerProcess, in_process_controller


def smoke_template(outcome: str, duration: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [
                {
                    "name": "smoke",
                    "provider": {
                        "job": {
                            "spec": {
                                "backoffLimit": 0,
                                "template": {
                                    "metadata": {
                                        "annotations": {
                                            "sandbox.rollout.dev/job-outcome": outcome,
                                            "sandbox.rollout.dev/job-duration": duration,
                                            "sandbox.rollout.dev/log": "GET http://{{args.service}}/"
                                            "healthz\\nstatus 503",
                                        }
                                    },
                                    "spec": {
                                        "restartPolicy": "Never",
                                        "containers": [{"name": "smoke", "image": "curl"}],
                                    },
                                },
                            }
                        }
                    },
                }
            ],
        },
    }


STEPS = [
    {
        "analysis": {
            "templates": [{"templateName": "smoke"}],
            "args": [{"name": "service", "value": "app-canary"}],
        }
    },
    {"setWeight": 50},
]


def release(cluster: Cluster, outcome: str, duration: str = "1s") -> None:
    cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template(outcome, duration), namespace=NS)
    cluster.create("app", steps=STEPS)
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")


def jobs(cluster: Cluster) -> list[dict[str, Any]]:
    items, _ = cluster.kube.list(JOBS, namespace=NS)
    return items


def smoke_result(cluster: Cluster) -> dict[str, Any]:
    run = next(r for r in cluster.status("app")["analysisRuns"] if r["name"] == "step-0")
    return dict(run["metrics"][0])


def test_a_passing_smoke_job_moves_on_and_a_failing_one_rolls_back(cluster: Cluster) -> None:
    controller = in_process_controller(cluster)
    try:
        release(cluster, "succeed")
        done = cluster.wait_phase("app", "Healthy", timeout=40)
        assert done["status"]["currentRevision"] == done["status"]["stableRevision"]
        passed = smoke_result(cluster)
        assert passed["phase"] == "Successful"
        (job,) = jobs(cluster)
        assert job["metadata"]["ownerReferences"][0]["kind"] == "Rollout"

        cluster.kube.delete(ANALYSIS_TEMPLATES, "smoke", namespace=NS)
        cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template("fail", "1s"), namespace=NS)
        cluster.api.set_image(NS, "app", "app", "app:v3")
        aborted = cluster.wait(
            "app", lambda r: bool((r.get("status") or {}).get("abort")), timeout=40, what="abort"
        )
        failed = smoke_result(cluster)
        assert failed["phase"] == "Failed"
        last = failed["measurements"][-1]
        assert "status 503" in last["metadata"]["logs"]  # the log's tail, kept
        assert "smoke" in aborted["status"]["abortMessage"]
    finally:
        controller.stop()


def test_a_controller_killed_while_the_job_runs_adopts_it(tmp_path: Path) -> None:
    cluster = Cluster()
    kubeconfig = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(kubeconfig)
    controller = ControllerProcess(kubeconfig)
    try:
        controller.start()
        release(cluster, "succeed", duration="4s")
        cluster.wait(
            "app",
            lambda r: any(
                (m.get("measurements") or [{}])[-1].get("phase") == "Running"
                for run in (r.get("status") or {}).get("analysisRuns", [])
                for m in run.get("metrics", [])
            ),
            timeout=30,
            what="the smoke Job running",
        )
        controller.kill()
        time.sleep(0.5)
        controller.start()
        cluster.wait_phase("app", "Healthy", timeout=40)
        assert len(jobs(cluster)) == 1  # adopted, not started twice
        result = smoke_result(cluster)
        assert result["phase"] == "Successful" and result["count"] == 1
    finally:
        controller.kill()
        cluster.close()
