"""The commands that open the dashboard: `rollout dashboard`'s options; `rollout demo`, which
opens it on a terminal (with the releases going on behind it, and q stopping everything) and
prints the plain lines otherwise."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from rollout.cli.demo_cmd import use_dashboard
from rollout.cli.main import main


def test_dashboard_takes_one_namespace_or_all_of_them_not_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dashboard", "-n", "shop", "-A"]) == 2
    assert capsys.readouterr().err == "error: give -n NAMESPACE or -A, not both\n"


def test_on_a_terminal_the_demo_opens_the_dashboard_and_q_stops_it() -> None:
    terminal, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
    demo = subprocess.Popen(
        [sys.executable, "-m", "rollout.cli.main", "demo"],
        stdin=side,
        stdout=side,
        stderr=side,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(side)
    shown = b""
    try:
        deadline = time.monotonic() + 30
        while b"demo:v2" not in shown:  # the release has started and its row shows it
            assert time.monotonic() < deadline, shown[-2000:]
            if select.select([terminal], [], [], 0.2)[0]:
                shown += os.read(terminal, 65536)
        assert b"rollout dashboard" in shown and b"STABLE IMAGE" in shown
        os.write(terminal, b"q")
        quit_at = time.monotonic()
        while demo.poll() is None and time.monotonic() - quit_at < 10:
            if select.select([terminal], [], [], 0.2)[0]:
                try:
                    shown += os.read(terminal, 65536)
                except OSError:  # the terminal's other side closed
                    break
        assert demo.wait(timeout=10) == 0
        assert time.monotonic() - quit_at < 5  # the releases, controller, sandbox all stopped
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        os.close(terminal)


def test_without_a_terminal_or_with_plain_the_demo_prints_lines() -> None:
    terminal, side = pty.openpty()
    try:
        with open(side, "w", closefd=False) as tty_out, open(side, closefd=False) as tty_in:
            assert use_dashboard(plain=False, stdout=tty_out, stdin=tty_in)
            assert not use_dashboard(plain=True, stdout=tty_out, stdin=tty_in)
            assert not use_dashboard(plain=False, stdout=io.StringIO(), stdin=tty_in)  # a pipe
            assert not use_dashboard(plain=False, stdout=tty_out, stdin=io.StringIO())
    finally:
        os.close(side)
        os.close(terminal)
