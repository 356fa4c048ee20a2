"""Fuzzing the command line: argv built from the real parser's commands and options (read off
`build_parser()`, so a new command or option is fuzzed the day it is added), mixed with missing
values, wrong types, `--`, junk and text that is not UTF-8.

Property: `main(argv)` returns one of the documented exit codes (0, 1, 2, 3) or argparse exits
with 0 or 2; no other exception, no "Traceback" on stderr, a failure says why, and nothing
connects anywhere but 127.0.0.1. The commands that talk to a cluster run for real against a
sandbox API server with our controller (so get, status, promote, undo ... take their real
paths); the ones that start servers or a UI (LONG_RUNNING) only have their arguments parsed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from kubernetes.config import kube_config

from rollout.cli.main import build_parser, main
from rollout.install import install_crds
from rollout.kube import ROLLOUTS, SERVICES, Kube
from tests.e2e.harness import NS, ControllerProcess, blue_green_doc, rollout_doc

# Commands that start a server, the controller or a terminal UI and run until stopped. Only
# their argument parsing is fuzzed: main() runs them only when parsing fails (exit 2 early).
LONG_RUNNING = frozenset({"controller", "sandbox", "demo", "dashboard"})

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))  # FUZZ_SCALE=20 for a long run by hand
# Random, not derandomized, and without the example database (CI is not stateful); see
# test_spec_fuzz.py. The fixture is module-scoped, so sharing it between examples is fine.
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=max(1, int(examples * SCALE)))


# ---- the parser, as it is today -------------------------------------------------------------


def sub_parsers(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command path (`("get",)`, `("set", "image")`) and its parser."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[(*prefix, name)] = sub
                found.update(sub_parsers(sub, (*prefix, name)))
    return found


PARSER = build_parser()
COMMANDS = sub_parsers(PARSER)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings]


def positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not a.option_strings and not isinstance(a, argparse._SubParsersAction)
    ]


def test_the_parser_has_what_the_fuzzer_expects() -> None:
    """The introspection finds the commands (so the fuzzer is not silently fuzzing nothing),
    and every long-running command it is told to keep away from still exists."""
    top = {path[0] for path in COMMANDS}
    assert {"lint", "get", "status", "promote", "undo"} <= top
    assert ("set", "image") in COMMANDS
    assert top >= LONG_RUNNING
    assert any(a.dest == "kubeconfig" for a in options(COMMANDS[("get",)]))


# ---- tokens ------------------------------------------------------------------------------------

# The files the fuzzer may name (in the working directory, a fresh temporary one): kubeconfigs
# good and bad, specs good and bad. Junk tokens contain no "/" (nor NUL, which no real argv can
# hold): `rollout lint /` would walk the whole disk, and `..` could leave the directory.
# Per argument: values that are right (or at least well formed), and values that are wrong.
KUBECONFIGS = ["sandbox.kubeconfig"] * 3 + ["refused.kubeconfig"]  # the sandbox; a closed port
BAD_KUBECONFIGS = [
    "empty.kubeconfig",
    "garbage.kubeconfig",  # not YAML
    "binary.kubeconfig",  # not text
    "shapeless.kubeconfig",  # YAML, wrong shapes
    "badns.kubeconfig",  # the sandbox, with a context namespace that is not a name
    "badurl.kubeconfig",  # a server that is not a URL
    "missing.kubeconfig",
    "specs",  # a directory
]
GOOD: dict[str, list[str]] = {
    # The broken kubeconfigs count as well formed here: the argument is a file that exists;
    # what is wrong is in it, which is the command's business, not argparse's.
    "kubeconfig": KUBECONFIGS * 2 + BAD_KUBECONFIGS,
    "namespace": [NS, NS, "kube-system", "nope"],
    "lease_namespace": [NS],
    "context": ["sandbox"],
    "timeout": ["0", "1", "1s", "2s", "10m", "1h30m"],
    "name": ["demo", "demo", "bg", "nope", "a.b"],
    "paths": ["valid.yaml", "invalid.yaml", "binary.yaml", "specs", "missing.yaml", "-", "."],
    "assignments": ["app=app:v2", "app=app:v1", "nope=x:1"],
}
BAD: dict[str, list[str]] = {
    "kubeconfig": BAD_KUBECONFIGS,
    "namespace": ["", "Bad_NS", "a/b", "x" * 64],
    "context": ["nope", ""],
    "timeout": ["-1", "abc", "", "1.5s"],
    "name": ["Demo", "a" * 254, "-x", "", "a/b", "?watch=true"],
    "assignments": ["=x", "app=", "app", "app=a b", "APP=x"],
}
junk_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"),
    max_size=12,
)
# Bytes that are not UTF-8 reach Python's argv as lone surrogates (os.fsdecode does the same).
not_utf8 = st.binary(min_size=1, max_size=6).map(os.fsdecode).filter(lambda t: "/" not in t)
flag_like = st.sampled_from(
    ["--", "-", "---", "-x", "--nope", "--=", "-=", "-nx", "-A", "-h", "--help", "-n", "-o"]
)
junk = junk_text | not_utf8 | flag_like | st.sampled_from(["demo", "-1", "1e3", "ünï", "日本"])


# How far from a well-formed command line: CLEAN (right values, each argument once, in order,
# so the command does its real work), WRONG (the same, but one value is a wrong one: where the
# command must check for itself what argparse lets through), JUNKY and WILD (any order,
# missing and extra arguments, junk tokens; WILD also misspells the command).
CLEAN, WRONG, JUNKY, WILD = "clean", "wrong", "junky", "wild"
MODES = [CLEAN, CLEAN, WRONG, WRONG, JUNKY, WILD]


def value_for(action: argparse.Action, *, mode: str) -> st.SearchStrategy[str]:
    """A value for an option or positional: a right one, a wrong one, or junk, by mode."""
    good: st.SearchStrategy[str]
    bad: st.SearchStrategy[str] = st.sampled_from(BAD.get(action.dest, ["", "x"]))
    if action.choices:
        good = st.sampled_from([str(c) for c in action.choices])
    elif action.type is int:
        good = st.integers(0, 10).map(str)
        bad = st.integers().map(str) | st.sampled_from(["-1", " 5", "0x10", "1e3", "10" * 20])
    elif action.type is float:
        good = st.floats(0, 10).map(str)
        bad = st.floats().map(str) | st.sampled_from(["-1", "inf", "nan", "1e308", "x"])
    else:
        good = st.sampled_from(GOOD.get(action.dest, ["x"]))
    return {
        CLEAN: good,
        WRONG: bad,  # the one wrong value (the others are CLEAN)
        JUNKY: st.one_of(good, good, good, bad, junk),
        WILD: good | bad | junk,
    }[mode]


@st.composite
def option_tokens(draw: st.DrawFn, action: argparse.Action, *, mode: str) -> list[str]:
    """One option as it may be typed: any spelling (argparse also takes unique prefixes of
    long options), with its value, `--opt=value`, or (with junk) without its value."""
    longs = [s for s in action.option_strings if s.startswith("--")]
    spellings = list(action.option_strings) + [s[: max(3, len(s) - 2)] for s in longs]
    spelling = draw(st.sampled_from(spellings))
    if action.nargs == 0:
        return [spelling]
    value = draw(value_for(action, mode=mode))
    forms = ["separate", "equals"] + (["missing"] if mode in (JUNKY, WILD) else [])
    form = draw(st.sampled_from(forms))
    if form == "equals" and spelling.startswith("--"):
        return [f"{spelling}={value}"]
    return [spelling] if form == "missing" else [spelling, value]


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    path = draw(st.sampled_from([*sorted(COMMANDS), ()]))  # () : no command at all
    parser = COMMANDS.get(path, PARSER)
    mode = draw(st.sampled_from(MODES))
    formed = mode in (CLEAN, WRONG)
    pieces: list[list[str]] = [[t] for t in draw(st.lists(junk, max_size=2 if mode == WILD else 0))]
    # --help only sometimes: it ends parsing (exit 0), so it would hide everything else.
    usable = [a for a in options(parser) if mode == WILD or not isinstance(a, argparse._HelpAction)]
    chosen = draw(st.lists(st.sampled_from(usable), max_size=3)) if usable else []
    # Which cluster, and how its kubeconfig is broken, matters to every cluster command: given
    # half the time (else the default, the sandbox's), not only when drawn among the options.
    kubeconfig = [a for a in usable if a.dest == "kubeconfig"]
    add_kubeconfig = draw(st.booleans())  # (drawn apart: mypy types `x and draw(...)` oddly)
    if kubeconfig and add_kubeconfig:
        chosen.append(kubeconfig[0])
    slots = [a for a in chosen if a.nargs != 0] + positionals(parser)  # those with values
    wrong = draw(st.sampled_from(slots)) if mode == WRONG and slots else None

    def mode_of(action: argparse.Action) -> str:
        return CLEAN if mode == WRONG and action is not wrong else mode

    for action in chosen:
        pieces.append(draw(option_tokens(action, mode=mode_of(action))))
    in_order: list[list[str]] = []
    for action in positionals(parser):
        times = 1 if formed else draw(st.integers(0, 2))  # else also missing, or one too many
        in_order.extend([draw(value_for(action, mode=mode_of(action)))] for _ in range(times))
    if formed:  # the positionals in order, the options anywhere between them
        ordered = in_order
        for piece in pieces:
            ordered.insert(draw(st.integers(0, len(ordered))), piece)
    else:  # any order, and maybe `--` (after it everything is positional)
        ordered = list(draw(st.permutations(pieces + in_order)))
        separator = draw(st.booleans())
        if ordered and separator:
            ordered.insert(draw(st.integers(0, len(ordered))), ["--"])
    head = list(path)
    if head and mode == WILD and draw(st.booleans()):  # a command misspelt, or abbreviated
        head[0] = draw(st.sampled_from([head[0][:-1], head[0].upper(), head[0] + "x"]))
    return head + [token for piece in ordered for token in piece]


# ---- the sandbox and a guarded network -----------------------------------------------------

LOCAL = {"127.0.0.1", "::1", "localhost"}


@dataclass
class World:
    kube: Kube  # this process's own client of the sandbox, for set-up and checks
    dir: Path
    kubeconfig: Path
    stray: list[Any]  # connections or look-ups that were about to leave the machine


def _write_files(directory: Path, url: str) -> None:
    good = (directory / "sandbox.kubeconfig").read_text()
    (directory / "refused.kubeconfig").write_text(good.replace(url, "http://127.0.0.1:1"))
    (directory / "empty.kubeconfig").write_text("")
    (directory / "garbage.kubeconfig").write_text("clusters: [unclosed\n")
    (directory / "binary.kubeconfig").write_bytes(b"\xff\xfe\x00\x01")
    (directory / "shapeless.kubeconfig").write_text("clusters: 5\ncontexts: [1]\n")
    (directory / "badns.kubeconfig").write_text(
        good.replace("namespace: default", "namespace: a/b")
    )
    (directory / "badurl.kubeconfig").write_text(good.replace(url, "http://[::1"))
    examples = Path(__file__).parents[2] / "examples"
    (directory / "valid.yaml").write_text((examples / "rollout-demo.yaml").read_text())
    (directory / "invalid.yaml").write_text("kind: Rollout\napiVersion: rollout.dev/v1alpha1\n")
    (directory / "binary.yaml").write_bytes(bytes(range(256)))
    (directory / "specs").mkdir()
    (directory / "specs" / "a.yaml").write_text("kind: Service\n")


@contextlib.contextmanager
def local_network_only(stray: list[Any]) -> Iterator[None]:
    """Connections and name look-ups are refused (and recorded) unless they are for this
    machine: the fuzzer must never reach a real cluster, whatever kubeconfig it finds."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL:
            stray.append(address)
            raise OSError(errno.ENETUNREACH, f"the fuzzer refused a connection to {address}")
        real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and str(host) not in LOCAL:
            stray.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"the fuzzer refused to look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@contextlib.contextmanager
def process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped (SIGTERM, then SIGKILL) however the block ends."""
    with log.open("ab") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _wait_for(what: str, ready: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The sandbox API server and the controller, each in a process of its own. In this
    process, hypothesis seeds the global `random` for every example (for reproducibility),
    and the sandbox names objects with it (`generateName`): in-process, its names would
    repeat, and its threads drawing random numbers while hypothesis generates data would be
    taken for a strategy misusing `random`."""
    directory = tmp_path_factory.mktemp("cli-fuzz")
    kubeconfig = directory / "sandbox.kubeconfig"
    stray: list[Any] = []
    sandbox = [sys.executable, "-m", "rollout.sandbox", "--port", "0", "--kubeconfig"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(local_network_only(stray))
        stack.enter_context(process([*sandbox, str(kubeconfig)], directory / "sandbox.log"))
        _wait_for("the sandbox's kubeconfig", kubeconfig.exists)
        kube = Kube.from_config(kubeconfig=str(kubeconfig))
        stack.callback(kube.close)
        install_crds(kube)
        controller = ControllerProcess(kubeconfig, identity="fuzz")
        controller.start()
        stack.callback(controller.kill)
        _populate(kube)
        _write_files(directory, _server(kubeconfig))
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        # Without --kubeconfig the client reads this (it read $KUBECONFIG once, at import),
        # and in-cluster config needs these variables: so, the sandbox.
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        patch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        patch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
        patch.chdir(directory)
        yield World(kube, directory, kubeconfig, stray)


def _populate(kube: Kube) -> None:
    """A canary Rollout `demo` and a blue-green `bg`, with their Services."""
    for name in ("demo-stable", "demo-canary", "bg-active", "bg-preview"):
        selector = {"app": name.split("-")[0]}
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}}
        kube.create(SERVICES, {**service, "spec": {"selector": selector}}, namespace=NS)
    steps: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "1s"}}]
    kube.create(ROLLOUTS, rollout_doc("demo", "app:v1", steps=steps), namespace=NS)
    kube.create(ROLLOUTS, blue_green_doc("bg", "app:v1"), namespace=NS)


def _server(kubeconfig: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    return str(config["clusters"][0]["cluster"]["server"])


# ---- running the CLI -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: object  # main's return value, or SystemExit's code
    exited: bool  # SystemExit (argparse)
    interrupted: bool  # still running when its time was up (Ctrl-C, in effect)
    out: str
    err: str


def parse(argv: list[str]) -> argparse.Namespace | None:
    """The parser's verdict alone (None: it exits, for an error or for --help)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return build_parser().parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code in (0, 2), exit_.code
            return None


def run(argv: list[str], *, budget: float, stdin: bytes = b"") -> Outcome:
    """main(argv) as a terminal would run it: stdout UTF-8 and strict (as under most locales),
    stderr with backslashreplace (as Python's own), standard input given. After `budget`
    seconds it gets a KeyboardInterrupt, as from Ctrl-C.

    The interrupt comes from a timer thread as SIGUSR2 sent to the main thread (so a blocking
    read there is interrupted too), handled here: SIGALRM belongs to pytest-timeout, and a
    real SIGINT arriving a moment too late would stop the whole pytest session."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(
        io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    state = {"inside": False, "fired": False}
    code: object = None
    exited = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        state["fired"] = True
        if state["inside"]:
            raise KeyboardInterrupt

    main_thread = threading.main_thread().ident
    assert main_thread is not None and threading.get_ident() == main_thread
    timer = threading.Timer(budget, signal.pthread_kill, (main_thread, signal.SIGUSR2))
    previous = signal.signal(signal.SIGUSR2, on_signal)
    saved_stdin, sys.stdin = sys.stdin, io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                state["inside"] = True
                timer.start()
                try:
                    code = main(argv)
                except SystemExit as exit_:
                    exited, code = True, exit_.code
                finally:
                    state["inside"] = False
            except KeyboardInterrupt:  # the one signal, outside main's own handler
                if not state["fired"]:
                    raise
                code = 130
    finally:
        timer.cancel()
        timer.join()  # the timer is done: no signal can come after this
        signal.signal(signal.SIGUSR2, previous)
        sys.stdin = saved_stdin
    return Outcome(code, exited, bool(state["fired"]), _text(out), _text(err))


def _text(stream: io.TextIOWrapper) -> str:
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8")


def waits_by_design(args: argparse.Namespace | None) -> bool:
    """`status --watch` waits for the rollout to finish (up to --timeout): the one command run
    here that may rightly still be running when its time is up."""
    return args is not None and args.command == "status" and bool(args.watch)


def check(outcome: Outcome, args: argparse.Namespace | None, stray: list[Any]) -> None:
    note(f"exit {outcome.code}; stdout {outcome.out[-300:]!r}; stderr {outcome.err[-600:]!r}")
    assert "Traceback" not in outcome.err
    assert not stray, f"left 127.0.0.1: {stray}"
    if outcome.exited:
        assert outcome.code in (0, 2)
    elif outcome.interrupted:
        assert waits_by_design(args), "still running when its time was up: a hang"
        assert outcome.code == 130
    else:
        assert outcome.code in (0, 1, 2, 3)
    if outcome.code not in (0, None) and not outcome.interrupted:
        assert outcome.err.strip() or outcome.out.strip(), "failed without saying why"


stdin_bytes = st.sampled_from(
    [
        b"",
        b"kind: Rollout\n",
        b"\xff\xfe",
        b"[unclosed",
        (Path(__file__).parents[2] / "examples" / "rollout-demo.yaml").read_bytes(),
    ]
)


@fuzz(500)
@given(argv=argvs(), stdin=stdin_bytes)
@example(argv=["status", "demo", "--timeout", "abc"], stdin=b"")  # was: ValueError
@example(argv=["get", ""], stdin=b"")  # was: KeyError (GET .../rollouts/ lists them)
@example(argv=["get", "?watch=true"], stdin=b"")  # was: a 30 s hang on a watch
@example(argv=["set", "image", "demo", "app=\udcff"], stdin=b"")  # was: set, then a crash
@example(argv=["list", "-n", "\udcff"], stdin=b"")  # was: UnicodeEncodeError
@example(argv=["lint", "\udcff.yaml"], stdin=b"")  # was: UnicodeEncodeError
@example(argv=["get", "demo", "--kubeconfig", "garbage.kubeconfig"], stdin=b"")  # YAMLError
@example(argv=["get", "demo", "--kubeconfig", "specs"], stdin=b"")  # was: IsADirectoryError
@example(argv=["get", "demo", "--kubeconfig", "badurl.kubeconfig"], stdin=b"")  # ValueError
def test_the_cli_never_ends_in_a_traceback(world: World, argv: list[str], stdin: bytes) -> None:
    note(f"argv {argv!r}")
    args = parse(argv)
    if args is not None and args.command in LONG_RUNNING:
        event(f"{args.command}: parsed only")
        return  # it would start a server or a UI: its arguments parsed, that is all
    outcome = run(argv, budget=1.0 if waits_by_design(args) else 20.0, stdin=stdin)
    # --hypothesis-show-statistics tells how often each command got how far.
    how = "interrupted" if outcome.interrupted else "usage" if outcome.exited else outcome.code
    event(f"{args.command if args else 'unparsed'}: {how}")
    check(outcome, args, world.stray)


@fuzz(200)
@given(argv=argvs())
def test_every_command_parses_or_exits_cleanly(argv: list[str]) -> None:
    """The parser alone, for every command (the long-running ones included): a Namespace, or
    SystemExit 0 (--help) or 2, and nothing else."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code in (0, 2)
    assert "Traceback" not in err.getvalue()


# ---- regressions: what this fuzzer found, pinned ---------------------------------------------


@contextlib.contextmanager
def no_connection() -> Iterator[None]:
    """Fails if the command makes a client at all: refused before any request. (The sandbox's
    request log cannot tell: the controller keeps making requests of its own.)"""

    def refuse(*args: Any, **kwargs: Any) -> Kube:
        raise AssertionError("a client was made")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Kube, "from_config", refuse)
        yield


@pytest.mark.parametrize(
    "argv",
    [
        ["get", ""],
        ["get", "?watch=true"],
        ["pause", "a/b"],
        ["get", "demo", "-n", "../.."],
        ["status", "\udcff"],
        ["promote", "demo", "--skip-gates", "--reason", "\udcff"],
        ["status", "demo", "--watch", "--timeout", "-5"],
    ],
)
def test_arguments_that_cannot_be_sent_are_usage_errors(world: World, argv: list[str]) -> None:
    with no_connection():
        outcome = run(argv, budget=20.0)
    assert (outcome.exited, outcome.code) == (True, 2)
    assert "error: argument" in outcome.err


def test_a_bad_image_is_refused_before_anything_is_set(world: World) -> None:
    image = world.kube.get(ROLLOUTS, "demo", namespace=NS)["spec"]["template"]
    outcome = run(["set", "image", "demo", "app=app:v9", "app=\udcff"], budget=20.0)
    assert outcome.code == 2 and "is not CONTAINER=IMAGE" in outcome.err
    assert world.kube.get(ROLLOUTS, "demo", namespace=NS)["spec"]["template"] == image


@pytest.mark.parametrize(
    "kubeconfig", ["garbage.kubeconfig", "binary.kubeconfig", "specs", "badurl.kubeconfig"]
)
def test_an_unreadable_kubeconfig_is_an_error_line(world: World, kubeconfig: str) -> None:
    outcome = run(["list", "--kubeconfig", kubeconfig], budget=20.0)
    assert (outcome.exited, outcome.code) == (False, 2)
    assert outcome.err.startswith(f"error: cannot load kubeconfig {kubeconfig}: ")
    assert outcome.err.count("\n") == 1


def test_a_context_namespace_that_is_not_a_name_is_not_sent(world: World) -> None:
    outcome = run(["get", "demo", "--kubeconfig", "badns.kubeconfig"], budget=20.0)
    assert outcome.code == 2 and "is not a valid name" in outcome.err
    assert "not found" not in outcome.err  # refused, not asked about


def test_a_file_name_that_is_not_utf8_is_printed_escaped(world: World) -> None:
    name = os.fsdecode(b"bad-\xff.yaml")
    (world.dir / name).write_text("kind: Rollout\n")
    outcome = run(["lint", name], budget=20.0)
    assert outcome.code == 1
    assert outcome.out.startswith("bad-\\xff.yaml:")
