"""The controller's Prometheus metrics: what they are, how they are kept, how they are served.

Every controller owns its own `CollectorRegistry` (never prometheus-client's global one), so
several controllers can run in one process, as they do in the tests.

- `instruments`: `ControllerMetrics`, the counters, histogram and gauges the controller's code
  updates as things happen (reconciles, API requests, decisions, measurements, runs).
- `collector`: `StateCollector`, the per-rollout gauges, computed at scrape time from the
  controller's informer caches (so a deleted rollout disappears at the next scrape and a
  phase change leaves no stale series), and the work queue's depth.
- `server`: `MetricsServer`, `/metrics` over HTTP.

Labels are bounded on purpose: never a revision hash, a message or any other unbounded value;
`namespace` and `name` appear only on the per-rollout gauges. Recording never raises: a failure
inside the instrumentation is logged and the controller goes on.
"""

from rollout.metrics.collector import StateCollector
from rollout.metrics.instruments import PREFIX, ControllerMetrics
from rollout.metrics.server import MetricsServer

__all__ = ["PREFIX", "ControllerMetrics", "MetricsServer", "StateCollector"]
