"""The task_handler decorator: validation, error mapping, logging, metrics, tracing."""

from __future__ import annotations

import json
import pickle
from contextlib import nullcontext
from typing import Any

import pytest
from handler_fakes import EXECUTION_ARN, FakeLambdaContext
from kbflow.errors import ConfigurationError
from kbflow.tasks import observability
from kbflow.tasks.core.errors import EmptyDocument, InvalidInput, TaskError
from kbflow.tasks.handler import error_class, task_handler, to_task_error, validate_event


@task_handler(
    "RecordManifest",
    errors={LookupError: "Kbflow.TransientStoreError", ZeroDivisionError: "Custom.Thing"},
)
def _probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "lookup":
        raise KeyError("missing")
    if action == "zero":
        raise ZeroDivisionError("boom")
    if action == "empty":
        raise EmptyDocument("nothing there")
    if action == "runtime":
        raise RuntimeError("unexpected")
    return {"ok": True, "doc_id": event["doc_id"]}


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "source": {"bucket": "b", "prefix": ""},
        "key": "k",
        "doc_id": "d1",
        "sha256": "0" * 64,
        "execution_arn": EXECUTION_ARN,
        **extra,
    }


def test_valid_event_reaches_the_function(context: FakeLambdaContext) -> None:
    assert _probe(_event(), context) == {"ok": True, "doc_id": "d1"}


def test_missing_property_names_its_pointer(context: FakeLambdaContext) -> None:
    event = _event()
    del event["doc_id"]
    with pytest.raises(InvalidInput) as info:
        _probe(event, context)
    assert type(info.value).__name__ == "Kbflow.InvalidInput"
    assert info.value.details["pointer"] == "/doc_id"
    assert "/doc_id" in str(info.value)


def test_wrong_type_reports_pointer_not_value(context: FakeLambdaContext) -> None:
    with pytest.raises(InvalidInput) as info:
        _probe(_event(sha256="SECRET-NOT-A-HASH"), context)
    assert info.value.details["pointer"] == "/sha256"
    assert "SECRET" not in str(info.value)


def test_non_object_event_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        validate_event("RecordManifest", ["not", "an", "object"])


def test_mapped_exception_becomes_named_error_chained(context: FakeLambdaContext) -> None:
    with pytest.raises(TaskError) as info:
        _probe(_event(action="lookup"), context)
    assert type(info.value).__name__ == "Kbflow.TransientStoreError"
    assert isinstance(info.value.__cause__, KeyError)


def test_custom_error_name_gets_a_picklable_class(context: FakeLambdaContext) -> None:
    with pytest.raises(TaskError) as info:
        _probe(_event(action="zero"), context)
    assert type(info.value).__name__ == "Custom.Thing"
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone).__name__ == "Custom.Thing"
    assert error_class("Custom.Thing") is type(info.value)


def test_task_errors_pass_through_unchanged(context: FakeLambdaContext) -> None:
    with pytest.raises(EmptyDocument) as info:
        _probe(_event(action="empty"), context)
    assert type(info.value).__name__ == "Kbflow.EmptyDocument"
    assert info.value.__cause__ is None


def test_unmapped_exception_propagates_under_its_own_name(context: FakeLambdaContext) -> None:
    with pytest.raises(RuntimeError):
        _probe(_event(action="runtime"), context)


def test_states_prefix_is_reserved() -> None:
    with pytest.raises(ConfigurationError):
        error_class("States.Custom")
    assert to_task_error(ValueError("x"), {}).__class__ is ValueError


def test_metrics_are_counted_locally_and_stdout_stays_clean(
    context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    observability.reset_local_metrics()
    _probe(_event(), context)
    with pytest.raises(TaskError):
        _probe(_event(action="lookup"), context)
    metrics = observability.local_metrics()
    assert metrics["RecordManifest.Invocations"] == 2
    assert metrics["RecordManifest.Failures"] == 1
    assert metrics["RecordManifest.DurationMs"] >= 0
    assert capsys.readouterr().out == ""


def test_logs_are_json_with_correlation_id(
    context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = observability.get_logger()
    logger.setLevel("INFO")
    try:
        _probe(_event(), context)
    finally:
        logger.setLevel("WARNING")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    done = [line for line in lines if line["message"] == "task succeeded"]
    assert done and done[0]["correlation_id"] == EXECUTION_ARN
    assert done[0]["task"] == "RecordManifest"


def test_correlation_id_falls_back_to_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    logger = observability.get_logger()
    logger.setLevel("INFO")
    try:
        event = _event()
        del event["execution_arn"]
        _probe(event, FakeLambdaContext(aws_request_id="req-xyz"))
    finally:
        logger.setLevel("WARNING")
    assert '"correlation_id":"req-xyz"' in capsys.readouterr().err.replace(" ", "")


def test_lambda_mode_emits_emf_metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "kbflow-RecordManifest")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    _probe(_event(), FakeLambdaContext())
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf, "expected one EMF document on stdout"
    names = {m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"RecordManifest.Invocations", "RecordManifest.DurationMs"} <= names


def test_stage_is_a_cheap_noop_locally() -> None:
    assert isinstance(observability.stage("X"), nullcontext)


def test_stage_opens_a_subsegment_on_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    class FakeProvider:
        def in_subsegment(self, name: str) -> nullcontext[None]:
            opened.append(name)
            return nullcontext()

    class FakeTracer:
        provider = FakeProvider()

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "kbflow-X")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(observability, "_tracer", lambda: FakeTracer())
    with observability.stage("FetchDocument"):
        pass
    assert opened == ["## FetchDocument"]
