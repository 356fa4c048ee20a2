"""Fixtures for the sandbox contract tests.

One sandbox serves the whole session (starting one is cheap, but sharing it
keeps the suite fast); tests stay independent by working in a fresh
namespace each and using unique names. Faults are cleared after every test
so one test's injected failures cannot leak into the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from rollout.sandbox import Sandbox, start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(tick=0.02, bookmark_interval=0.3)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").faults.clear()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[client.ApiClient]:
    api_client = sandbox.api_client()
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def ext(api: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ns(core: client.CoreV1Api) -> str:
    name = unique("t")
    core.create_namespace({"metadata": {"name": name}})
    return name
