"""Fixed rollouts for the snapshot tests: written straight into a sandbox (no controller), with
statuses, revision Deployments and Events as a controller would have left them at FIXED_NOW,
so that every text on screen (ages, countdowns, hashes, times) is the same on every run."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from rollout import labels
from rollout.kube import DEPLOYMENTS, EVENTS, NAMESPACES, ROLLOUTS
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES
from rollout.models.time import format_time
from tests.dashboards.pilot import FIXED_NOW
from tests.e2e.harness import Cluster, blue_green_doc, rollout_doc

PAYMENTS = "payments"


def at(**ago: float) -> str:
    return format_time(FIXED_NOW - timedelta(**ago))


def measurement(value: str, phase: str, seconds_ago: int, **metadata: str) -> Obj:
    return {
        "phase": phase,
        "value": value,
        "message": f"{value}: {'holds' if phase == 'Successful' else 'does not hold'}",
        "startedAt": at(seconds=seconds_ago),
        "finishedAt": at(seconds=seconds_ago),
        "metadata": metadata,
    }


SUCCESS_RATE = {
    "apiVersion": "rollout.dev/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "success-rate"},
    "spec": {
        "metrics": [
            {
                "name": "success-rate",
                "provider": {"web": {"url": "http://metrics.example/rate", "jsonPath": "$.v"}},
                "interval": "1m",
                "count": 5,
                "successCondition": "result >= 0.99",
                "failureCondition": "result < 0.95",
            },
            {
                "name": "p99-latency-ms",
                "provider": {"web": {"url": "http://metrics.example/p99", "jsonPath": "$.v"}},
                "interval": "1m",
                "count": 5,
                "successCondition": "result < 300",
            },
        ]
    },
}

CHECKOUT_STEPS: list[Obj] = [
    {"setWeight": 20},
    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
    {"pause": {"duration": "5m"}},
    {"setWeight": 50},
    {"pause": {}},
]


def _checkout_status() -> Obj:
    release_figures = {
        "reason": "BudgetOK",
        "budgetRemaining": "0.82",
        "minBudgetRemaining": "0.25",
        "errorBudget": "0.001",
        "burnRate5m": "0.41",
        "burnRate30m": "0.62",
        "burnRate1h": "0.55",
        "burnRate6h": "0.33",
        "burnThreshold1h": "14.4",
    }
    step_figures = {
        "reason": "WithinBudget",
        "verdict": "continue",
        "canaryRatio": "0.0004",
        "stableRatio": "0.0006",
        "errorBudget": "0.001",
        "fastBurnThreshold": "0.0144",
    }
    rates = [("0.997", 300), ("0.995", 240), ("0.999", 180), ("0.993", 150), ("0.996", 130)]
    p99 = [("210", "Successful"), ("250", "Successful"), ("280", "Successful")]
    p99 += [("320", "Failed"), ("240", "Successful")]
    return {
        "phase": "Paused",
        "message": "step 3/5 pause 5m: 120s left",
        "currentRevision": "6b7c8d9f5x",
        "stableRevision": "5f6a7b8c4q",
        "currentStepIndex": 2,
        "stepStartedAt": at(minutes=3),
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": at(minutes=3)}],
        "canary": {
            "weights": {
                "stable": {"revision": "5f6a7b8c4q", "weight": 80},
                "canary": {"revision": "6b7c8d9f5x", "weight": 20},
            }
        },
        "availableReplicas": 5,
        "analysisRuns": [
            {
                "name": "release-gate",
                "kind": "ReleaseGate",
                "revision": "6b7c8d9f5x",
                "phase": "Successful",
                "message": "availability: open",
                "startedAt": at(minutes=8),
                "metrics": [
                    {
                        "name": "availability",
                        "phase": "Successful",
                        "count": 1,
                        "successful": 1,
                        "measurements": [
                            measurement("0.8200", "Successful", 480, **release_figures)
                        ],
                    }
                ],
            },
            {
                "name": "step-1",
                "kind": "Step",
                "revision": "6b7c8d9f5x",
                "step": 1,
                "phase": "Successful",
                "message": "every metric passed",
                "startedAt": at(minutes=6),
                "metrics": [
                    {
                        "name": "success-rate",
                        "phase": "Successful",
                        "measurements": [measurement(v, "Successful", s) for v, s in rates],
                    },
                    {
                        "name": "p99-latency-ms",
                        "phase": "Successful",
                        "measurements": [
                            measurement(v, phase, 300 - 40 * i) for i, (v, phase) in enumerate(p99)
                        ],
                    },
                ],
            },
            {
                "name": "step-gate",
                "kind": "StepGate",
                "revision": "6b7c8d9f5x",
                "phase": "Running",
                "startedAt": at(minutes=7),
                "metrics": [
                    {
                        "name": "availability",
                        "phase": "Running",
                        "measurements": [
                            measurement("0.000400", "Successful", s, **step_figures)
                            for s in (200, 140, 80, 20)
                        ],
                    }
                ],
            },
        ],
        "history": [
            {
                "time": at(minutes=8),
                "reason": "NewRevision",
                "message": "revision 6b7c8d9f5x started",
            },
            {
                "time": at(minutes=7),
                "reason": "StepCompleted",
                "message": "step 1/5 setWeight 20 completed",
            },
            {
                "time": at(minutes=3),
                "reason": "StepCompleted",
                "message": "step 2/5 analysis completed",
            },
        ],
    }


def _deployment(spec: tuple[str, str, str, int, str, int]) -> Obj:
    """(rollout, namespace, revision hash, revision number, image, pods)"""
    rollout, namespace, rev, number, image, pods = spec
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{rollout}-{rev}",
            "namespace": namespace,
            "labels": {labels.NAME: rollout, labels.REVISION: rev},
            "annotations": {labels.REVISION_NUMBER: str(number)},
        },
        "spec": {
            "replicas": pods,
            "selector": {"matchLabels": {"app": rollout, labels.REVISION: rev}},
            "template": {
                "metadata": {"labels": {"app": rollout, labels.REVISION: rev}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def _event(rollout: str, n: int, minutes: float, reason: str, message: str) -> Obj:
    namespace = "default"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{rollout}.{n}", "namespace": namespace},
        "involvedObject": {"kind": "Rollout", "name": rollout, "namespace": namespace},
        "type": "Normal",
        "reason": reason,
        "message": message,
        "lastTimestamp": at(minutes=minutes),
    }


def _put(cluster: Cluster, doc: Obj, status: Obj) -> None:
    meta = doc["metadata"]
    cluster.kube.create(ROLLOUTS, doc, namespace=meta["namespace"])
    cluster.kube.patch(
        ROLLOUTS, meta["name"], {"status": status}, namespace=meta["namespace"], sub="status"
    )


def _doc(doc: Obj, namespace: str) -> Obj:
    doc["metadata"]["namespace"] = namespace
    return doc


def populate(cluster: Cluster) -> None:
    """Five rollouts in two namespaces, their revisions and the checkout's events."""
    kube = cluster.kube
    kube.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PAYMENTS}}
    )
    kube.create(ANALYSIS_TEMPLATES, SUCCESS_RATE, namespace="default")

    _put(
        cluster,
        _doc(rollout_doc("checkout", "shop/checkout:1.1.0", steps=CHECKOUT_STEPS), "default"),
        _checkout_status(),
    )
    healthy: dict[str, Any] = {
        "phase": "Healthy",
        "message": "all steps done",
        "currentRevision": "8c9d0f1g7z",
        "stableRevision": "8c9d0f1g7z",
        "currentStepIndex": 4,
        "stepStartedAt": at(hours=3, minutes=12),
    }
    _put(cluster, _doc(rollout_doc("search", "shop/search:4.2.0"), "default"), healthy)
    progressing = {
        "phase": "Progressing",
        "message": "step 1/4 setWeight 20: waiting for canary pods (0/1 available)",
        "currentRevision": "9k8j7h6g5f",
        "stableRevision": "1a2b3c4d5e",
        "currentStepIndex": 0,
        "stepStartedAt": at(seconds=42),
        "canary": {
            "weights": {
                "stable": {"revision": "1a2b3c4d5e", "weight": 100},
                "canary": {"revision": "9k8j7h6g5f", "weight": 0},
            }
        },
    }
    _put(cluster, _doc(rollout_doc("inventory", "shop/inventory:2.0.0"), "default"), progressing)
    degraded = {
        "phase": "Degraded",
        "message": "aborted: progress deadline exceeded (no progress for 10m)",
        "currentRevision": "3m4n5p6q7r",
        "stableRevision": "2w3e4r5t6y",
        "currentStepIndex": 0,
        "abort": True,
        "abortMessage": "progress deadline exceeded",
        "stepStartedAt": at(minutes=25),
    }
    _put(cluster, _doc(rollout_doc("ledger", "pay/ledger:3.1.0"), PAYMENTS), degraded)
    paused_bg = {
        "phase": "Paused",
        "message": "preview ready: waiting for promote (rollout promote pay)",
        "currentRevision": "4d5f6g7h8j",
        "stableRevision": "0q9w8e7r6t",
        "currentStepIndex": 0,
        "stepStartedAt": at(minutes=9),
        "pauseConditions": [{"reason": "BlueGreenPause", "startTime": at(minutes=4)}],
        "blueGreen": {"activeRevision": "0q9w8e7r6t", "previewRevision": "4d5f6g7h8j"},
        "canary": {
            "weights": {
                "stable": {"revision": "0q9w8e7r6t", "weight": 100},
                "canary": {"revision": "4d5f6g7h8j", "weight": 0},
            }
        },
        "history": [
            {
                "time": at(minutes=9),
                "reason": "NewRevision",
                "message": "revision 4d5f6g7h8j started",
            },
            {
                "time": at(minutes=4),
                "reason": "PreviewReady",
                "message": "preview 4d5f6g7h8j ready",
            },
        ],
    }
    bg = blue_green_doc("pay", "pay/api:7.0.0", blue_green={"autoPromotionEnabled": False})
    _put(cluster, _doc(bg, PAYMENTS), paused_bg)

    for args in (
        ("checkout", "default", "5f6a7b8c4q", 1, "shop/checkout:1.0.0", 4),
        ("checkout", "default", "6b7c8d9f5x", 2, "shop/checkout:1.1.0", 1),
        ("search", "default", "8c9d0f1g7z", 3, "shop/search:4.2.0", 5),
        ("inventory", "default", "1a2b3c4d5e", 1, "shop/inventory:1.9.3", 5),
        ("ledger", PAYMENTS, "2w3e4r5t6y", 4, "pay/ledger:3.0.2", 5),
        ("pay", PAYMENTS, "0q9w8e7r6t", 6, "pay/api:6.9.1", 3),
        ("pay", PAYMENTS, "4d5f6g7h8j", 7, "pay/api:7.0.0", 3),
    ):
        kube.create(DEPLOYMENTS, _deployment(args), namespace=args[1])
    for n, (minutes, reason, message) in enumerate(
        (
            (8, "NewRevision", "revision 6b7c8d9f5x started"),
            (7, "StepCompleted", "step 1/5 setWeight 20 completed"),
            (3, "StepCompleted", "step 2/5 analysis completed"),
        )
    ):
        kube.create(EVENTS, _event("checkout", n, minutes, reason, message), namespace="default")
    _settle(cluster)


def _settle(cluster: Cluster) -> None:
    """Until the sandbox's Deployment controller has made every pod available."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items, _ = cluster.kube.list(DEPLOYMENTS, label_selector=labels.NAME)
        if all(
            (d.get("status") or {}).get("availableReplicas") == d["spec"]["replicas"] for d in items
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the fixed revisions' pods never became available")
