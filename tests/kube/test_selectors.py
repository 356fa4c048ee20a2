"""Label selectors in query syntax (rollout.selectors): the grammar and the key and value
checks of k8s.io/apimachinery/pkg/labels. The sandbox answers 400 with these messages
(tests/sandbox/test_lists.py); the CLI refuses a bad `--rollout-selector` with them."""

from __future__ import annotations

import pytest

from rollout.selectors import Requirement, SelectorError, parse_label_selector


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("shard=a", [Requirement("shard", "=", ("a",))]),
        (
            "shard==a,tier!=db",
            [Requirement("shard", "=", ("a",)), Requirement("tier", "!=", ("db",))],
        ),
        ("tier in (web, api)", [Requirement("tier", "in", ("web", "api"))]),
        ("tier notin (db)", [Requirement("tier", "notin", ("db",))]),
        ("rollout.dev/shard", [Requirement("rollout.dev/shard", "exists")]),
        ("!canary", [Requirement("canary", "!")]),
        ("gen>3", [Requirement("gen", ">", ("3",))]),
        ("team=", [Requirement("team", "=", ("",))]),  # an empty value is a value
        ("a-b_c.d=x" + "y" * 62, [Requirement("a-b_c.d", "=", ("x" + "y" * 62,))]),
        ("", []),
    ],
)
def test_selectors_the_api_server_accepts(text: str, parsed: list[Requirement]) -> None:
    assert parse_label_selector(text) == parsed


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("env in prod", "found no '(', expected: '('"),
        ("gen>x", "for '>' operator, the value must be an integer"),
        ("shard=a,", "unexpected end of selector"),
        ("a@b=c", "key: Invalid value: 'a@b': name part must consist of alphanumeric"),
        ("-a=c", "key: Invalid value: '-a': name part must"),
        ("x" * 64, "name part must be no more than 63 characters"),
        ("/a=b", "prefix part must be non-empty"),
        ("a/=b", "name part must be non-empty"),
        ("Rollout.Dev/shard=a", "prefix part a lowercase RFC 1123 subdomain"),
        ("shard=a/b", "values[0][shard]: Invalid value: 'a/b': a valid label must be an empty"),
        ("shard=" + "v" * 64, "must be no more than 63 characters"),
        ("tier in (web,-api)", "values[1][tier]: Invalid value: '-api'"),
    ],
)
def test_selectors_the_api_server_refuses_and_why(text: str, why: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert why in str(err.value)
    assert str(err.value).startswith("unable to parse requirement: ")
