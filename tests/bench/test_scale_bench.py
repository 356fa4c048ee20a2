"""Keeps tests/bench/scale_bench.py from rotting: the whole benchmark at 20 Rollouts, 5 updating."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import scale_bench as bench

pytestmark = [pytest.mark.e2e, pytest.mark.alone]


def test_the_scale_benchmark_at_a_tiny_size_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    argv = ["--rollouts", "20", "--concurrent", "5", "--list-runs", "1", "--idle-seconds", "1"]
    argv += ["--ready-delay", "0.2"]
    assert bench.main([*argv, "--timeout", "60", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["command"].startswith("python -m tests.bench.scale_bench --rollouts 20")
    assert report["machine"]["nproc"] >= 1 and report["machine"]["python"]
    assert report["when"] and report["definitions"]
    (result,) = report["results"]

    assert result["create"]["services"] == 40 and result["create"]["rollouts_seconds"] > 0
    sync = result["sync"]
    assert 0 < sync["caches_synced_seconds"] <= sync["all_reconciled_once_seconds"]
    assert sync["all_reconciled_once_seconds"] <= sync["all_healthy_seconds"]
    assert sync["all_healthy_seconds"] <= sync["controller_quiet_seconds"]
    assert 30 < result["idle"]["controller_rss_mib"] < 1024
    assert result["idle"]["sandbox_rss_mib"] > 0
    calibration = result["calibration_seconds"]
    assert 0 < calibration["before"] < 60 and 0 < calibration["after"] < 60

    phase = result["concurrent"]
    assert phase["finished"] == 5
    # 4 steps and the promotion, 5 rollouts: each at least one reconcile and a status write.
    assert phase["reconciles"] >= 5 * bench.TRANSITIONS
    assert phase["reconciles_per_second"] > 0
    assert phase["writes_per_step_by_resource"]["rollouts/status"] >= 1
    assert phase["api_requests_per_step_by_verb"]["update"] > 0
    assert phase["peak_in_flight"] == 5 and phase["stagger_seconds"] == 0  # all started at once
    latency = phase["step_latency"]
    assert latency["not_seen"] == 0
    assert latency["count"] + latency["done_on_entry"] == 5 * bench.TRANSITIONS
    assert latency["p99_seconds"] >= latency["p50_seconds"] > 0
    assert set(latency["by_step_kind"]) == {"setWeight", "pause", "promotion"}
    idle_rss = result["idle"]["controller_rss_min_max_mib"]
    assert phase["controller_peak_rss_sampled_mib"] >= idle_rss[0]
    assert result["sync"]["reconciles_per_rollout"] >= 1

    listing = result["list"]
    assert len(listing["list_all_seconds"]) == len(listing["list_all_json_seconds"]) == 1
    assert all(s > 0 for s in listing["list_all_seconds"])
    assert set(result["targets"]) == set(bench.TARGETS)
    assert result["targets"]["list_all_seconds"]["measured"] == listing["list_all_seconds"][0]


def test_step_latency_takes_due_from_the_last_deployment_change_and_the_pause_length() -> None:
    tracker = bench.Tracker.__new__(bench.Tracker)
    tracker.followed = {"a": "old"}

    def seen(t: float, rv: int, step: int, stable: str = "old") -> bench.Seen:
        return bench.Seen(t, rv, 2, 2, "Progressing", step, "new", stable)

    # setWeight (0): started at 10.0, pods ready at 10.6 (rv 3), done at 10.9;
    # pause 1s (1): started at 10.9, done at 12.4; setWeight (2) done in the same write as the
    # pause; the rest never seen.
    tracker.timeline = {"a": [seen(10.0, 1, 0), seen(10.9, 5, 1), seen(12.4, 7, 3)]}
    tracker.deployment_events = {"a": [(10.1, 2), (10.6, 3), (11.0, 6)]}
    result = bench.step_latencies(tracker)
    assert result["by_step_kind"]["setWeight"]["count"] == 1
    assert result["by_step_kind"]["setWeight"]["p50_seconds"] == pytest.approx(0.3)
    assert result["by_step_kind"]["pause"]["p50_seconds"] == pytest.approx(0.5)
    assert result["done_on_entry"] == 1  # step 2 started and finished in the rv-7 write
    assert result["not_seen"] == bench.TRANSITIONS - 3


def test_peak_in_flight_counts_the_updates_under_way_at_one_moment() -> None:
    tracker = bench.Tracker.__new__(bench.Tracker)
    tracker.followed = {"a": "old", "b": "old", "c": "old"}

    def seen(t: float, stable: str) -> bench.Seen:
        return bench.Seen(t, int(t * 10), 2, 2, "Progressing", 0, "new", stable)

    # a: 1 -> 5, b: 2 -> 3, c: 4 -> 6 (its first event is still on the old stable)
    tracker.timeline = {
        "a": [seen(1, "old"), seen(5, "new")],
        "b": [seen(2, "old"), seen(3, "new")],
        "c": [seen(4, "old"), seen(6, "new")],
    }
    assert bench.peak_in_flight(tracker) == 2
    tracker.timeline["c"] = [seen(2.5, "old"), seen(6, "new")]
    assert bench.peak_in_flight(tracker) == 3
