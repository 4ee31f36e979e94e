"""The Client's behaviour, on every backend (``harness`` runs each test on mock and moto)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import kbflow
import pytest
from conftest import Harness
from kbflow import Execution, ExecutionStatus, HistoryEvent, _validation
from sdk_fakes import CALLBACK, ECHO, FAIL, PASS, WAIT

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["source"],
    "properties": {
        "source": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": {"type": "string", "pattern": "^(s3|file)://"}},
        }
    },
}


@pytest.fixture
def ingestion_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use SCHEMA as ``ingestion.input`` (independent of the generated file's details)."""
    monkeypatch.setattr(
        _validation, "_schema", lambda flow: SCHEMA if flow == "ingestion" else None
    )


def test_start_describe_wait_success(harness: Harness) -> None:
    arn = harness.create("pass", PASS)
    client = harness.client({"ingestion": arn})
    run = client.start("ingestion", {"source": {"uri": "s3://docs-bucket/inbox/"}}, name="run-1")
    assert isinstance(run, Execution)
    assert (run.name, run.workflow, run.state_machine_arn) == ("run-1", "ingestion", arn)
    assert run.input == {"source": {"uri": "s3://docs-bucket/inbox/"}}
    assert client.wait(run, timeout=5) == {"ok": True}
    done = client.describe(run.arn)
    assert done.status is ExecutionStatus.SUCCEEDED and done.status.terminal
    assert done.output == {"ok": True} and done.workflow == "ingestion"
    assert done.stopped_at is not None and done.started_at.tzinfo is not None


def test_wait_raises_execution_failed_with_error_and_cause(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("fail", FAIL), {})
    with pytest.raises(kbflow.ExecutionFailed) as info:
        client.wait(run, timeout=5)
    assert (info.value.error, info.value.cause, info.value.execution_arn) == (
        "Kbflow.Boom",
        "it broke",
        run.arn,
    )


@pytest.mark.usefixtures("ingestion_schema")
def test_invalid_input_is_refused_before_any_execution_starts(harness: Harness) -> None:
    arn = harness.create("ingest", ECHO)
    client = harness.client({"ingestion": arn})
    with pytest.raises(kbflow.ValidationError) as info:
        client.start("ingestion", {"source": {"uri": "ftp://nope"}})
    assert info.value.pointer == "/source/uri"
    assert info.value.schema == "ingestion.input"
    with pytest.raises(kbflow.ValidationError) as missing:
        client.start("ingestion", {"options": {}})
    assert missing.value.pointer == "/source" and "'source' is a required property" in str(
        missing.value
    )
    assert client.list("ingestion") == []
    ok = client.start("ingestion", {"source": {"uri": "file:///data"}})
    assert [e.arn for e in client.list("ingestion")] == [ok.arn]


def test_the_generated_ingestion_schema_is_enforced(harness: Harness) -> None:
    arn = harness.create("ingest", ECHO)
    client = harness.client({"ingestion": arn})
    cases: dict[str, dict[str, Any]] = {
        "/source/uri": {"source": {"uri": "ftp://example.com/x"}},
        "/extra": {"source": {"uri": "s3://docs-bucket/inbox/"}, "extra": 1},
        "/source": {},
    }
    for pointer, payload in cases.items():
        with pytest.raises(kbflow.ValidationError) as info:
            client.start("ingestion", payload)
        assert info.value.pointer == pointer, payload
    assert client.list("ingestion") == []


def test_oversized_input_and_bad_names_are_refused(harness: Harness) -> None:
    arn = harness.create("echo", ECHO)
    client = harness.client()
    with pytest.raises(kbflow.ValidationError, match="262144"):
        client.start(arn, {"blob": "x" * 262_144})
    for bad in ("has space", "a" * 81, "", "x:y"):
        with pytest.raises(kbflow.ValidationError):
            client.start(arn, {}, name=bad)
    assert client.list(arn) == []


def test_wait_timeout_on_a_running_execution_raises_within_a_second(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("wait", WAIT), {})
    began = time.monotonic()
    with pytest.raises(kbflow.WaitTimeout) as info:
        client.wait(run, timeout=0.5)
    assert time.monotonic() - began < 1.0
    assert info.value.execution_arn == run.arn and info.value.timeout == 0.5
    if harness.time is not None:  # the fake clock shows the wait never overshot its budget
        assert sum(harness.time.sleeps) == pytest.approx(0.5)
    assert client.describe(run).status is ExecutionStatus.RUNNING


def test_stop_then_wait_raises_aborted(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("wait", WAIT), {})
    client.stop(run, error="Ops.Cancel", cause="not needed")
    with pytest.raises(kbflow.ExecutionAborted) as info:
        client.wait(run, timeout=1)
    assert info.value.execution_arn == run.arn
    assert client.describe(run).status is ExecutionStatus.ABORTED


def test_start_is_idempotent_by_name(harness: Harness) -> None:
    client = harness.client()
    waiting = harness.create("wait", WAIT)
    first = client.start(waiting, {"n": 1}, name="same")
    again = client.start(waiting, {"n": 1}, name="same")
    assert again.arn == first.arn
    with pytest.raises(kbflow.ExecutionAlreadyExists):
        client.start(waiting, {"n": 2}, name="same")
    # A closed execution with the same name and input is returned too, so retries are safe.
    done = harness.create("pass", PASS)
    ran = client.start(done, {"n": 1}, name="once")
    client.wait(ran, timeout=5)
    assert client.start(done, {"n": 1}, name="once").status is ExecutionStatus.SUCCEEDED
    with pytest.raises(kbflow.ExecutionAlreadyExists):
        client.start(done, {"n": 9}, name="once")


def test_history_is_aws_shaped_and_ordered(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("pass", PASS), {"a": 1})
    client.wait(run, timeout=5)
    events = client.history(run)
    assert all(isinstance(e, HistoryEvent) for e in events)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "ExecutionStarted" and events[-1].type == "ExecutionSucceeded"
    assert events[0].details_key == "executionStartedEventDetails"
    assert events[-1].terminal and not events[0].terminal
    assert events[0].to_aws()["executionStartedEventDetails"] == dict(events[0].details)


def test_events_follow_a_running_execution_in_order(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("wait", WAIT), {})
    stream = client.events(run)
    first = [next(stream), next(stream)]
    assert [e.type for e in first] == ["ExecutionStarted", "WaitStateEntered"]
    client.stop(run)
    rest = list(stream)
    assert [e.type for e in rest] == ["ExecutionAborted"]
    assert [e.id for e in first + rest] == [1, 2, 3]


def test_events_without_follow_stop_at_the_current_end(harness: Harness) -> None:
    client = harness.client()
    run = client.start(harness.create("wait", WAIT), {})
    following = client.events(run, timeout=2)
    seen = [next(following), next(following)]  # backends run asynchronously: wait for both
    assert [e.type for e in client.events(run, follow=False)] == [
        "ExecutionStarted",
        "WaitStateEntered",
    ]
    assert client.history(run) == seen


def test_list_filters_by_status(harness: Harness) -> None:
    client = harness.client()
    arn = harness.create("pass", PASS)
    runs = [client.start(arn, {"i": i}) for i in range(3)]
    for run in runs:
        client.wait(run, timeout=5)
    listed = client.list(arn, status="SUCCEEDED")
    assert sorted(e.arn for e in listed) == sorted(r.arn for r in runs)
    assert client.list(arn, status=ExecutionStatus.FAILED) == []


def test_unknown_execution_and_state_machine_are_typed_errors(harness: Harness) -> None:
    client = harness.client()
    arn = harness.create("pass", PASS)
    missing = arn.replace(":stateMachine:", ":execution:") + ":nope"
    with pytest.raises(kbflow.ExecutionNotFound):
        client.describe(missing)
    with pytest.raises(kbflow.StateMachineNotFound):
        client.start(arn + "-missing", {})


def test_unknown_workflow_name_is_a_configuration_error(harness: Harness) -> None:
    with pytest.raises(kbflow.ConfigurationError, match="KBFLOW_WORKFLOW_REINDEX_ARN"):
        harness.client().start("reindex", {})


def test_bogus_task_token_is_invalid(harness: Harness) -> None:
    client = harness.client()
    with pytest.raises(kbflow.InvalidToken) as info:
        client.send_task_success("garbage", {"ok": True})
    assert info.value.code == "InvalidToken"
    with pytest.raises(kbflow.InvalidToken):
        client.send_task_heartbeat("garbage")


def _task_token(client: kbflow.Client, run: Execution) -> str:
    """The token a .waitForTaskToken task handed out, read from its TaskScheduled event."""
    for event in client.events(run, timeout=5):
        if event.type == "TaskScheduled":
            token: str = json.loads(event.details["parameters"])["Payload"]["token"]
            return token
    raise AssertionError("no task was scheduled")


def test_task_token_callbacks(harness: Harness) -> None:
    if harness.kind == "aws":
        pytest.skip("moto cannot run the Lambda function of a .waitForTaskToken task")
    client = harness.client()
    machine = harness.create("callback", CALLBACK)
    ok = client.start(machine, {})
    token = _task_token(client, ok)
    client.send_task_heartbeat(token)
    client.send_task_success(token, {"done": True})
    assert client.wait(ok, timeout=5) == {"done": True}
    with pytest.raises((kbflow.TaskDoesNotExist, kbflow.TaskTimedOut)):  # a token works once
        client.send_task_success(token, {"again": True})
    bad = client.start(machine, {})
    client.send_task_failure(_task_token(client, bad), "Review.Rejected", "not publishable")
    with pytest.raises(kbflow.ExecutionFailed) as info:
        client.wait(bad, timeout=5)
    assert (info.value.error, info.value.cause) == ("Review.Rejected", "not publishable")


def test_console_url_opens_the_kbflow_console(
    local_api: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    url, engine = local_api
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    client = kbflow.Client.aws(endpoint_url=url, region="us-east-1")
    run = client.start(engine.create_state_machine("console-page", PASS), {})
    page, fragment = client.console_url(run).split("#", 1)
    assert page == url + "/"
    assert fragment == "/execution/" + quote(run.arn, safe="")  # the console's own route
    response = httpx.get(page, timeout=5)
    assert response.status_code == 200 and "<html" in response.text.lower()
