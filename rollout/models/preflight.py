"""`spec.preflight`: what is checked before any pod of a new revision is created.

A rollout that would start pods which cannot run (a missing ConfigMap, a Secret without the key,
a PVC that does not exist) or whose gates cannot be evaluated (a missing AnalysisTemplate, an
unreachable Prometheus) is better held before its first step than half-deployed. The checks
themselves live in rollout/analysis/preflight.py; this is only what the user can choose.
"""

from __future__ import annotations

from pydantic import field_validator

from rollout.models.base import Duration, SpecModel


class Preflight(SpecModel):
    """Checks made before any pod of a new revision is created. While a check fails the rollout
    waits (nothing is deployed); after `timeout` it is marked Degraded."""

    enabled: bool = True
    """Run the checks. Off: a new revision starts at once, as without preflight."""
    timeout: Duration = 600
    """How long failing checks may hold the rollout before it is marked Degraded. It never
    half-deploys meanwhile: no pod of the new revision is created until every check passes."""
    require_resources: bool = False
    """Every container must have cpu and memory requests and a memory limit."""
    allowed_registries: list[str] = []
    """Registries images may come from, e.g. `ghcr.io`, `registry.example.com:5000`, `docker.io`.
    Empty: any. An image's registry is the part before its first `/` when that part contains a
    `.` or `:` or is `localhost`; otherwise it is `docker.io`."""
    forbid_latest_tag: bool = False
    """Refuse images without a tag or tagged `latest`, unless pinned by digest (`@sha256:...`)."""
    check_providers: bool = True
    """Ask each Prometheus the analysis uses to answer a trivial query before starting."""

    @field_validator("allowed_registries")
    @classmethod
    def _registries(cls, value: list[str]) -> list[str]:
        # Registries are host names: compared lower-case, so `GHCR.io` means what it says.
        cleaned = [r.strip().lower() for r in value]
        if any(not r or "/" in r for r in cleaned):
            raise ValueError("each entry is a registry host (e.g. ghcr.io), without a path or '/'")
        return cleaned
