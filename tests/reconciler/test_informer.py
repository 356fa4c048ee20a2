"""The informer (list, then watch) against the sandbox: it resumes a dropped watch from the
last resourceVersion it saw without listing again, lists again when that version has expired
(410), catching up on what it missed, deletions included, and a write-through of our own
write is never replaced by an older version arriving late on the watch, and the echo of a write
marked quiet is stored without being announced."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from rollout.kube import SERVICES, Kube
from rollout.kube.client import Obj
from rollout.reconciler.informer import Informer
from rollout.sandbox import Sandbox, start_sandbox

NS = "default"


@dataclass
class Seen:
    """What the informer announced, in order: (name, resourceVersion)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, obj: Obj) -> None:
        with self.lock:
            self.calls.append((obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))

    def names(self) -> list[str]:
        with self.lock:
            return [name for name, _ in self.calls]


@dataclass
class Env:
    sandbox: Sandbox
    kube: Kube
    informer: Informer
    seen: Seen

    def service(self, name: str) -> Obj:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        }
        return self.kube.create(SERVICES, body, namespace=NS)

    def annotate(self, name: str, value: str) -> Obj:
        patch = {"metadata": {"annotations": {"v": value}}}
        return self.kube.patch(SERVICES, name, patch, namespace=NS)

    def requests(self, verb: str) -> list[str]:
        """The query strings of the informer's requests of `verb` on services."""
        return [
            r.query
            for r in self.sandbox.requests.entries()
            if r.verb == verb and r.resource == "services"
        ]

    def hold_watches(self, failures: int) -> None:
        """Close the informer's watch and fail its next `failures` attempts (it backs off
        0.1 s, 0.2 s, 0.4 s ... between them): a window in which it sees nothing."""
        self.sandbox.faults.add(verb="watch", resource="services", code=500, count=failures)
        assert self.sandbox.drop_watches() >= 1


def eventually(check: Callable[[], bool], *, timeout: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


HISTORY = 5  # events per kind the sandbox keeps for resuming watches


@pytest.fixture
def env() -> Iterator[Env]:
    """A sandbox and a started informer of its Services."""
    sandbox = start_sandbox(watch_history=HISTORY)
    kube = Kube(sandbox.api_client())
    seen = Seen()
    informer = Informer(kube, SERVICES, namespace=NS, on_change=seen, watch_timeout=30)
    informer.start()
    try:
        assert informer.synced.wait(10)
        yield Env(sandbox, kube, informer, seen)
    finally:
        informer.stop()
        sandbox.stop()
        kube.close()


@pytest.mark.parametrize("abrupt", [False, True], ids=["closed", "reset"])
def test_a_dropped_watch_resumes_from_the_last_version_without_listing_again(
    env: Env, abrupt: bool
) -> None:
    first = env.service("a")
    eventually(lambda: env.informer.get(NS, "a") is not None, what="a")
    assert env.sandbox.drop_watches(abrupt=abrupt) >= 1
    env.service("b")
    changed = env.annotate("a", "2")
    eventually(lambda: env.informer.get(NS, "b") is not None, what="b after the drop")
    eventually(lambda: env.informer.get(NS, "a") == changed, what="a's change after the drop")
    assert len(env.requests("list")) == 1
    watches = env.requests("watch")
    assert len(watches) >= 2
    # The second watch starts where the first left off, not from scratch.
    resumed = watches[1]
    assert "resourceVersion=" in resumed
    version = int(resumed.split("resourceVersion=")[1].split("&")[0])
    assert version >= int(first["metadata"]["resourceVersion"])
    assert env.seen.names().count("a") == 2


@pytest.mark.parametrize("how", ["expired", "injected"])
def test_a_410_lists_again_and_catches_up_on_deletions(env: Env, how: str) -> None:
    for name in ("keep", "gone"):
        env.service(name)
    eventually(lambda: env.informer.get(NS, "gone") is not None, what="both services")
    env.hold_watches(failures=4)
    if how == "expired":
        # More changes than the sandbox keeps: resuming from the last version seen fails.
        for i in range(HISTORY + 3):
            env.annotate("keep", str(i))
    else:
        # Few enough to resume from; the API server answers 410 anyway.
        env.sandbox.faults.add(verb="watch", resource="services", code=410, count=1)
        env.annotate("keep", "1")
    env.kube.delete(SERVICES, "gone", namespace=NS)
    env.service("new")

    eventually(lambda: env.informer.get(NS, "new") is not None, what="the relist")
    assert env.informer.get(NS, "gone") is None
    assert env.informer.get(NS, "keep") == env.kube.get(SERVICES, "keep", namespace=NS)
    assert len(env.requests("list")) == 2
    # The deletion is announced (so the controller looks at what depended on it).
    assert env.seen.names().count("gone") == 2
    assert sorted(o["metadata"]["name"] for o in env.informer.all()) == ["keep", "new"]


def test_a_write_through_is_not_replaced_by_an_older_version(env: Env) -> None:
    env.service("a")
    eventually(lambda: env.informer.get(NS, "a") is not None, what="a")
    env.hold_watches(failures=3)
    older = env.annotate("a", "1")
    newer = env.annotate("a", "2")
    env.informer.write_through(newer)
    assert env.informer.get(NS, "a") == newer
    # The watch comes back and delivers both versions, the older one first.
    eventually(
        lambda: ("a", newer["metadata"]["resourceVersion"]) in env.seen.calls,
        what="the watch catching up",
    )
    assert env.informer.get(NS, "a") == newer
    assert ("a", older["metadata"]["resourceVersion"]) not in env.seen.calls


def test_the_echo_of_a_quiet_write_through_is_not_announced(env: Env) -> None:
    """The reconciler marks a status write quiet when it needs no further decision: that
    version's watch event is stored but not announced; the next version is."""
    env.service("a")
    eventually(lambda: env.informer.get(NS, "a") is not None, what="a")
    env.hold_watches(failures=3)
    quiet = env.annotate("a", "1")
    env.informer.write_through(quiet, quiet=True)
    later = env.annotate("a", "2")  # someone else's write, after ours
    eventually(
        lambda: ("a", later["metadata"]["resourceVersion"]) in env.seen.calls,
        what="the watch catching up",
    )
    assert ("a", quiet["metadata"]["resourceVersion"]) not in env.seen.calls
    assert env.informer.get(NS, "a") == later
    # The mark was for that one version: a write after it, ours or not, is announced.
    third = env.annotate("a", "3")
    eventually(lambda: ("a", third["metadata"]["resourceVersion"]) in env.seen.calls, what="third")


def test_write_through_keeps_the_newest_of_two_versions() -> None:
    """The same rule without a server: versions compare as numbers, not as strings."""
    informer = Informer(Kube(object()), SERVICES, on_change=lambda _: None)

    def version(rv: str) -> Obj:
        return {"metadata": {"name": "a", "namespace": NS, "resourceVersion": rv}}

    informer.write_through(version("10"))
    informer.write_through(version("9"))
    assert informer.get(NS, "a") == version("10")
    informer.write_through(version("11"))
    assert informer.get(NS, "a") == version("11")
