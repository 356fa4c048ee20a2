"""Every router, one contract (rollout/testing/router_contract.py, rules in rollout/routing.py)."""

from __future__ import annotations

import pytest

from rollout.registry import installed
from rollout.testing.router_contract import CHECKS, run_check
from tests.meshes.contract import RouterCase, all_cases

CASES = all_cases()


def test_the_cases_cover_every_router_registered() -> None:
    covered = {c.router.name for c in CASES}
    assert covered >= set(installed("routers")) - {"replicas"}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract(case: RouterCase, check: str) -> None:
    run_check(case, check)
