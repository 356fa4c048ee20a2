"""The work queue: each key is worked on by one worker at a time, and an event arriving while
it is worked on is not lost (the key comes back once, after)."""

from __future__ import annotations

import threading
import time

from rollout.reconciler.queue import WorkQueue


def test_a_key_added_many_times_is_queued_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("ns/a")
    queue.add("ns/b")
    assert len(queue) == 2
    assert [queue.get(0.1), queue.get(0.1), queue.get(0.01)] == ["ns/a", "ns/b", None]


def test_a_key_added_while_active_comes_back_once_after_done() -> None:
    queue = WorkQueue()
    queue.add("ns/a")
    assert queue.get(0.1) == "ns/a"
    queue.add("ns/a")
    queue.add("ns/a")
    assert queue.get(0.01) is None  # not handed to a second worker while the first has it
    queue.done("ns/a")
    assert queue.get(0.1) == "ns/a"
    queue.done("ns/a")
    assert queue.get(0.01) is None


def test_workers_never_hold_the_same_key_at_once() -> None:
    queue = WorkQueue()
    active: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            key = queue.get(0.05)
            if key is None:
                continue
            with lock:
                if key in active:
                    overlaps.append(key)
                active.add(key)
            time.sleep(0.001)
            with lock:
                active.discard(key)
                processed.append(key)
            queue.done(key)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(2000):
        queue.add(f"ns/{i % 7}")
    deadline = time.monotonic() + 10
    while (len(queue) or any(k for k in active)) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert overlaps == []
    assert set(processed) == {f"ns/{i}" for i in range(7)}


def test_close_wakes_waiting_workers() -> None:
    queue = WorkQueue()
    got: list[str | None] = []
    thread = threading.Thread(target=lambda: got.append(queue.get(5)))
    thread.start()
    time.sleep(0.05)
    queue.close()
    thread.join(timeout=1)
    assert not thread.is_alive() and got == [None]
