"""rollout.jsonwire gives the standard library's answers, faster: every case where orjson alone
would differ (or refuse) is checked against `json` itself."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout import jsonwire

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=())),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_what_it_encodes_json_decodes_to_the_same_value_and_back(value: Any) -> None:
    encoded = jsonwire.dumps(value)
    assert json.loads(encoded) == value
    assert jsonwire.loads(encoded) == value
    assert jsonwire.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        '{"replicas": 123456789012345678901234567890}',
        "[9223372036854775808, -9223372036854775809]",  # just past 64 bits
        '{"a": "1234567890123456789012", "b": 1}',  # a long digit run inside a string
    ],
)
def test_integers_beyond_64_bits_stay_exact(text: str) -> None:
    decoded = jsonwire.loads(text)
    assert decoded == json.loads(text)
    assert jsonwire.loads(jsonwire.dumps(decoded)) == decoded


def test_what_only_the_standard_library_accepts_is_still_accepted() -> None:
    assert math.isnan(jsonwire.loads("[NaN]")[0])
    assert jsonwire.loads('["\\ud800"]') == ["\ud800"]
    assert jsonwire.loads('{"a": 1, "a": 2}') == {"a": 2}
    assert jsonwire.loads(b'{"name": "caf\xc3\xa9"}') == {"name": "café"}
    assert json.loads(jsonwire.dumps({1: "x"})) == {"1": "x"}
    assert json.loads(jsonwire.dumps(["\ud800"])) == ["\ud800"]


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "[1,]", b"\xff"])
def test_text_that_is_not_json_raises_the_standard_error(text: str | bytes) -> None:
    with pytest.raises(ValueError) as standard:
        json.loads(text)
    with pytest.raises(ValueError) as ours:
        jsonwire.loads(text)
    assert type(ours.value) is type(standard.value)  # JSONDecodeError, or UnicodeDecodeError


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_indented_text_is_what_the_standard_library_writes_with_indent_2(value: Any) -> None:
    """`-o json`: the same text as json.dumps(indent=2, ensure_ascii=False), orjson or not
    (an integer beyond 64 bits or a lone surrogate takes the standard library's path).
    Floats are compared as values: both write the shortest text that reads back the same."""
    text = jsonwire.dumps_indented(value)
    expected = json.dumps(value, indent=2, ensure_ascii=False)
    assert json.loads(text) == json.loads(expected)
    if not _has_float(value):
        assert text == expected


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False
