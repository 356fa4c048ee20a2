"""The one exception tree of the project.

    RolloutError                      every error we raise on purpose
    ├── SpecError                     a document is not a valid spec (carries every problem found)
    ├── KubeError                     the API server refused or failed (carries verb, kind, name)
    │   ├── NotFoundError             404
    │   ├── ConflictError             409: stale resourceVersion or AlreadyExists; re-read and retry
    │   ├── GoneError                 410: a watch's resourceVersion is too old; list again
    │   ├── ForbiddenError            401/403: RBAC said no
    │   └── TransientKubeError        5xx, timeouts, dropped connections: retry with backoff
    ├── FencedError                   a write withheld, never sent: this controller no longer leads
    └── RegistryError                 an adapter (router, strategy, provider) is not installed

User-facing errors carry a message and, where we know one, a hint that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass


class RolloutError(Exception):
    """Base of every error raised on purpose by this project."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


@dataclass(frozen=True)
class SpecProblem:
    """One problem in one document: where (file, document index, field path) and why."""

    path: str  # dotted field path, e.g. "spec.strategy.canary.steps[2].setWeight"
    reason: str
    file: str = ""
    document: int = 0  # 1-based index of the YAML document in a multi-document file; 0 = n/a
    line: int | None = None

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.document:
            where += f" (document {self.document})"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.reason}"


class SpecError(RolloutError):
    """A document is not a valid spec. `problems` lists every problem, not only the first."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.render() for p in problems) or "invalid spec")


class KubeError(RolloutError):
    """The API server refused or failed a request."""

    def __init__(self, message: str, *, status: int = 0, verb: str = "", target: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.verb = verb
        self.target = target


class NotFoundError(KubeError):
    """404: the object (or its namespace) does not exist."""


class ConflictError(KubeError):
    """409: someone else wrote first. Re-read, re-decide, write again; never merge stale data."""


class TransientKubeError(KubeError):
    """5xx, timeouts, dropped connections: nothing is known to have happened; retry with backoff."""


class GoneError(KubeError):
    """410: the watch cannot resume from that resourceVersion; list again and watch from there."""


class ForbiddenError(KubeError):
    """401/403: RBAC refused the request. Retrying will not help until permissions change."""


class FencedError(RolloutError):
    """A write was withheld before it was sent: leader election says this controller no longer
    leads (rollout.reconciler.leader). Not a KubeError: the API server never saw the request,
    and the code that shrugs off a failed write (an Event, a best-effort stop) must not shrug
    this off and go on to the next write; the reconcile ends here and its key waits, queued,
    for leadership to come back."""


class RegistryError(RolloutError):
    """An adapter asked for by name is not installed."""


class ConfigError(RolloutError):
    """Configuration the controller needs at run time is missing or wrong (a Secret, a
    template, an argument). Reported in the status; never a traceback."""
