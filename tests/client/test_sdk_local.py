"""Client.local: the three flows on the embedded engine, human review end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kbflow
import pytest
from kbflow import Client, Execution, ExecutionStatus, Review, StoreReviewSource
from kbflow._local import LazyHandler
from kbflow.runtime.clock import VirtualClock


@pytest.fixture(scope="module")
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, clock: VirtualClock) -> Iterator[Client]:
    # One engine for the module: compiled JSONata expressions are bound to the engine thread
    # that compiled them but cached process-wide (runtime/asl/jsonata.py), so engines on other
    # threads must not run the same flows in this process.
    from kbflow.tasks.adapters import config

    installed = list(config._installed)  # Client.local installs the store's adapters process-wide
    try:
        with Client.local(store=tmp_path_factory.mktemp("store"), clock=clock) as client:
            yield client
    finally:
        config._installed[:] = installed  # leave other test modules the adapters they had


@pytest.fixture
def reviewer(clock: VirtualClock) -> Iterator[None]:
    """A human at work holds virtual time, as work in flight does: no deadline passes unless
    the test moves the clock with ``clock.advance``."""
    with clock.busy():
        yield


def _pending(client: Client, run: Execution, *, escalated: bool = False) -> Review:
    """The run's review once its RequestReview task has stored it (real time, < 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [
            r
            for r in client.reviews.pending()
            if r.execution_arn == run.arn and r.escalated == escalated
        ]
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError("no review was requested")


def test_the_three_flows_are_registered(local: Client) -> None:
    for flow in ("ingestion", "reindex", "human-review"):
        arn = local.registry.arn(flow)
        assert arn.endswith(f":stateMachine:kbflow-{flow}")
        assert local.registry.workflow_for(arn) == flow
    assert isinstance(local.reviews.source, StoreReviewSource)


def test_console_url_points_at_the_local_console(local: Client) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:kbflow-ingestion:run-1"
    assert local.console_url(arn) == f"http://127.0.0.1:8083/#/execution/{quote(arn, safe='')}"


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"item": {"id": ""}, "reason": "pii"}, "/item/id"),
        ({"item": {"id": "d"}, "reason": "pii", "deadline_seconds": 0}, "/deadline_seconds"),
        ({"item": {"id": "d"}}, "/reason"),
    ],
)
def test_invalid_review_input_is_refused_before_starting(
    local: Client, payload: Any, pointer: str
) -> None:
    before = local.list("human-review")
    with pytest.raises(kbflow.ValidationError) as info:
        local.start("human-review", payload)
    assert info.value.pointer == pointer and info.value.schema == "human-review.input"
    assert local.list("human-review") == before


@pytest.mark.parametrize(
    ("decision", "kwargs", "applied"),
    [
        ("approve", {}, "kept"),
        ("reject", {"comment": "contains PII"}, "removed"),
        ("edit", {"edits": {"text": "The redacted text."}}, "reindexed"),
    ],
)
@pytest.mark.usefixtures("reviewer")
def test_human_review_decisions_through_client_reviews(
    local: Client, decision: Any, kwargs: dict[str, Any], applied: str
) -> None:
    run = local.start(
        "human-review", {"item": {"id": f"doc-{decision}"}, "reason": "pii"}, name=decision
    )
    review = _pending(local, run)
    assert (review.execution_arn, review.item, review.reason) == (
        run.arn,
        {"id": f"doc-{decision}"},
        "pii",
    )
    local.reviews.decide(review, decision=decision, reviewer="ana", **kwargs)
    output = local.wait(run, timeout=30)
    assert isinstance(output, dict)
    assert output["decision"] == decision and output["reviewer"] == "ana"
    assert output["applied"]["applied"] == applied
    assert [r for r in local.reviews.pending() if r.execution_arn == run.arn] == []
    with pytest.raises((kbflow.TaskDoesNotExist, kbflow.TaskTimedOut)):  # a token works once
        local.reviews.decide(review, decision="approve", reviewer="eve")


def _until_waiting(client: Client, run: Execution, submitted: int) -> None:
    """Until the run's ``submitted``-th callback task waits for its token (TaskSubmitted)."""
    for event in client.events(run, timeout=5):
        if event.type == "TaskSubmitted":
            submitted -= 1
            if submitted == 0:
                return
    raise AssertionError("the run ended before its callback task waited")


@pytest.mark.usefixtures("reviewer")
def test_review_timeout_escalates_on_the_virtual_clock(local: Client, clock: VirtualClock) -> None:
    run = local.start(
        "human-review",
        {"item": {"id": "doc-late"}, "reason": "low_ocr_confidence", "deadline_seconds": 3600},
    )
    first = _pending(local, run)
    assert not first.escalated
    _until_waiting(local, run, 1)
    clock.advance(3601)  # nobody decided within the deadline: no real time passes
    escalated = _pending(local, run, escalated=True)
    assert escalated.review_id == first.review_id
    local.reviews.decide(escalated, decision="approve", reviewer="lead")
    output = local.wait(run, timeout=30)
    assert isinstance(output, dict) and output["level"] == "escalation"
    assert output["reviewer"] == "lead"
    types = [e.type for e in local.history(run)]
    assert "TaskTimedOut" in types and types.count("TaskSubmitted") == 2
    assert types[-1] == "ExecutionSucceeded"


def test_lazy_handler_imports_on_first_call() -> None:
    handler = LazyHandler("kbflow.tasks.handlers.nope:missing")
    with pytest.raises(kbflow.ConfigurationError):
        handler({}, None)
    getitem = LazyHandler("operator:getitem")
    assert getitem._handler is None  # nothing resolved before the first invocation
    assert getitem({"a": 1}, "a") == 1


def test_history_of_30000_events_from_the_engine_is_paged() -> None:
    from kbflow import LocalBackend
    from kbflow.runtime.engine import Engine

    class Counting(LocalBackend):
        pages = 0

        def get_execution_history(self, execution_arn: str, **kw: Any) -> Any:
            self.pages += 1
            return super().get_execution_history(execution_arn, **kw)

    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 40,
                "End": True,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            }
        },
    }
    with Engine(clock=VirtualClock(), history_limit=100_000) as engine:
        backend = Counting(engine)
        client = Client(backend=backend)
        run = client.start(
            engine.create_state_machine("many", definition), {"items": list(range(7_600))}
        )
        assert client.wait(run, timeout=120) == list(range(7_600))
        events = client.history(run)
    assert len(events) > 30_000
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert backend.pages == -(-len(events) // 1000)
    assert events[-1].type == "ExecutionSucceeded"


FLAKY = {
    "StartAt": "Fetch",
    "States": {
        "Fetch": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "OutputPath": "$.Payload",
            "Parameters": {"FunctionName": "flaky-source", "Payload.$": "$"},
            "End": True,
        }
    },
}


@pytest.fixture
def durable_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from kbflow.tasks.adapters import config

    installed = list(config._installed)
    try:
        yield tmp_path_factory.mktemp("durable")
    finally:
        config._installed[:] = installed


def test_redrive_and_reopen_on_the_durable_local_engine(durable_store: Path) -> None:
    broken = [True]

    def flaky(event: Any, context: Any) -> Any:
        if broken[0]:
            raise ConnectionError("source offline")
        return {"fetched": event}

    with Client.local(store=durable_store) as client:
        engine = client.backend.engine  # type: ignore[attr-defined]
        if getattr(engine, "store", None) is None:
            pytest.skip("the runtime has no durable engine")
        engine.register_function("flaky-source", flaky)
        run = client.start(engine.create_state_machine("flaky", FLAKY), {"n": 1}, name="flaky-1")
        with pytest.raises(kbflow.ExecutionFailed) as info:
            client.wait(run, timeout=30)
        assert info.value.error == "ConnectionError"
        broken[0] = False  # the cause is fixed
        assert client.redrive(run).redrive_count == 1
        assert client.wait(run, timeout=30) == {"fetched": {"n": 1}}
        assert "ExecutionRedriven" in [e.type for e in client.history(run)]
    with Client.local(store=durable_store) as reopened:  # a new process would see the same
        again = reopened.describe(run.arn)
        assert (again.status, again.redrive_count, again.output) == (
            ExecutionStatus.SUCCEEDED,
            1,
            {"fetched": {"n": 1}},
        )
