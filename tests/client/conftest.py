"""Fixtures for the SDK tests: one harness per backend, so each test runs on all of them.

Adding a backend (``Client.local``) is one more entry in ``BACKENDS`` and one builder.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import kbflow
import pytest
from kbflow import Client, MockBackend, Registry
from sdk_fakes import FakeStepFunctions

ROLE = "arn:aws:iam::123456789012:role/kbflow-test"
# KBFLOW_SDK_BACKENDS=mock,local narrows the run (e.g. while moto is unavailable).
BACKENDS = [b for b in os.environ.get("KBFLOW_SDK_BACKENDS", "mock,aws,local,api").split(",") if b]


class FakeTime:
    """A monotonic clock and a sleeper that only moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)


@dataclass
class Harness:
    """A backend under test plus what a test needs to set it up."""

    kind: str
    create_machine: Callable[[str, Mapping[str, Any]], str]
    make_client: Callable[[Registry], Client]
    fake: FakeStepFunctions | None = None
    time: FakeTime | None = None
    clients: list[Client] = field(default_factory=list)

    def create(self, name: str, definition: Mapping[str, Any]) -> str:
        return self.create_machine(name, definition)

    def client(self, workflows: Mapping[str, str] | None = None, **outputs: str) -> Client:
        client = self.make_client(Registry(workflows or {}, outputs=outputs, environ={}))
        self.clients.append(client)
        return client


def _mock_harness() -> Iterator[Harness]:
    fake = FakeStepFunctions(page_size=100)
    clock = FakeTime()

    def make(registry: Registry) -> Client:
        return Client(
            backend=MockBackend(fake),
            registry=registry,
            monotonic=clock.monotonic,
            sleep=clock.sleep,
        )

    yield Harness("mock", fake.create, make, fake=fake, time=clock)


def _aws_harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    import boto3
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")

        def create(name: str, definition: Mapping[str, Any]) -> str:
            arn: str = sfn.create_state_machine(
                name=name, definition=json.dumps(definition), roleArn=ROLE
            )["stateMachineArn"]
            return arn

        def make(registry: Registry) -> Client:
            return Client.aws(region="us-east-1", registry=registry)

        harness = Harness("aws", create, make)
        try:
            yield harness
        finally:
            _stop_running(sfn)


def _stop_running(sfn: Any) -> None:
    # moto runs executions on threads; stop what a test left running so no thread outlives it.
    for machine in sfn.list_state_machines()["stateMachines"]:
        running = sfn.list_executions(
            stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
        )
        for ex in running["executions"]:
            sfn.stop_execution(executionArn=ex["executionArn"])


def _local_harness() -> Iterator[Harness]:
    from kbflow._backends.local import LocalBackend
    from kbflow.runtime.engine import Engine

    engine = Engine()  # real clock: these tests need long Waits to stay RUNNING
    engine.register_function("review", lambda event, context: {"queued": True})  # CALLBACK's task

    def create(name: str, definition: Mapping[str, Any]) -> str:
        arn: str = engine.create_state_machine(name, definition)
        return arn

    def make(registry: Registry) -> Client:
        return Client(backend=LocalBackend(engine), registry=registry)

    try:
        yield Harness("local", create, make)
    finally:
        engine.close()


@pytest.fixture(autouse=True)
def _no_deployed_stacks(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep Client.aws() from reading the user's deployed-stack registry files."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("KBFLOW_REGISTRY", raising=False)
    for name in ("INGESTION", "REINDEX", "HUMAN_REVIEW"):
        monkeypatch.delenv(f"KBFLOW_WORKFLOW_{name}_ARN", raising=False)


@pytest.fixture(scope="session")
def local_api() -> Iterator[tuple[str, Any]]:
    """kbflow's local Step Functions API (``kbflow console``) on a free loopback port."""
    uvicorn = pytest.importorskip("uvicorn")
    app_module = pytest.importorskip("kbflow.runtime.api.app")
    from kbflow.runtime.api.backend import EngineBackend
    from kbflow.runtime.engine import Engine

    engine = Engine()
    engine.register_function("review", lambda event, context: {"queued": True})
    app = app_module.create_app(EngineBackend(engine))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("kbflow's local API did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        engine.close()


def _api_harness(local_api: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    import boto3

    url, _ = local_api
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(key, value)
    sfn = boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=url)
    suffix = next(_API_NAMES)

    def create(name: str, definition: Mapping[str, Any]) -> str:
        arn: str = sfn.create_state_machine(
            name=f"{name}-{suffix}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        return arn

    def make(registry: Registry) -> Client:
        return Client.aws(endpoint_url=url, region="us-east-1", registry=registry)

    try:
        yield Harness("api", create, make)
    finally:
        _stop_running(sfn)
        sfn.close()


_API_NAMES = itertools.count()


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The backend under test (every test using it runs once per backend)."""
    if request.param == "mock":
        yield from _mock_harness()
    elif request.param == "local":
        yield from _local_harness()
    elif request.param == "api":
        yield from _api_harness(request.getfixturevalue("local_api"), monkeypatch)
    else:
        yield from _aws_harness(monkeypatch)


@pytest.fixture
def fake_sfn() -> FakeStepFunctions:
    return FakeStepFunctions(page_size=100)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mock_client(fake_sfn: FakeStepFunctions, fake_time: FakeTime) -> Client:
    return kbflow.Client(
        backend=MockBackend(fake_sfn),
        registry=Registry({}, environ={}),
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
