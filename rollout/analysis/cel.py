"""CEL, the Common Expression Language Kubernetes uses for validation rules, via `cel-python`.

A sandboxed, side-effect-free interpreter (never Python's `eval`). Expressions see one variable,
`result`. Programs are compiled once per expression text and cached.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

# cel-python raises the interpreter's recursion limit to 2,500 (for CEL's minimum nesting)
# each time an Environment is built, which we do on first use. Raised here, at import, the
# process-wide change happens once and up front, not in the middle of whatever first
# evaluates CEL (a reconcile; a test, which hypothesis then fails for changing it).
CEL_RECURSION_LIMIT = 2500
if sys.getrecursionlimit() < CEL_RECURSION_LIMIT:
    sys.setrecursionlimit(CEL_RECURSION_LIMIT)


@lru_cache(maxsize=1)
def _env() -> Any:
    # Built on first use, not at import: cel-python builds its parser then (a quarter of a
    # second), and most commands (`rollout list`, `get`, the dashboard) never evaluate CEL.
    import celpy  # noqa: PLC0415

    return celpy.Environment()


class ConditionError(ValueError):
    """A CEL expression that does not parse."""


@lru_cache(maxsize=512)
def _program(expression: str) -> Any:
    from celpy.celparser import CELParseError  # noqa: PLC0415

    env = _env()
    try:
        return env.program(env.compile(expression))
    except CELParseError as error:
        first = str(error).splitlines()[0] if str(error) else "syntax error"
        raise ConditionError(f"not a valid CEL expression: {first}") from None


def check_syntax(expression: str) -> None:
    """Raise ConditionError when the expression does not parse (used when specs are read)."""
    _program(expression)


def _short(error: BaseException) -> str:
    # cel-python's messages embed the whole activation; the first argument is the useful part.
    text = str(error.args[0]) if error.args else str(error)
    return text[:200]


def evaluate(expression: str, value: Any) -> bool:
    """Evaluate a condition against `result`. Raises ConditionError when it cannot be evaluated
    or does not give a boolean."""
    import celpy  # noqa: PLC0415
    from celpy.adapter import json_to_cel  # noqa: PLC0415
    from celpy.evaluation import CELEvalError  # noqa: PLC0415

    program = _program(expression)
    try:
        outcome = program.evaluate({"result": json_to_cel(value)})
    except CELEvalError as error:
        raise ConditionError(f"{expression!r} cannot be evaluated: {_short(error)}") from None
    if isinstance(outcome, CELEvalError):
        raise ConditionError(f"{expression!r} cannot be evaluated: {_short(outcome)}")
    if not isinstance(outcome, bool | celpy.celtypes.BoolType):
        raise ConditionError(f"{expression!r} gives {outcome!r}, not true or false")
    return bool(outcome)
