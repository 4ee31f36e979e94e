"""Task states: Lambda semantics, Retry back-off on the virtual clock, Catch, timeouts."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from engine_helpers import event_types, run_machine
from kbflow.runtime.engine import Engine

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


class OutOfStock(Exception):
    pass


def test_lambda_context_and_json_boundary(engine: Engine) -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, ctx: Any) -> Any:
        seen.update(request=ctx.aws_request_id, name=ctx.function_name,
                    remaining=ctx.get_remaining_time_in_millis(), event=event)
        event["mutated"] = True  # a copy: must not leak back into the state data
        return {"when": "now", "t": (1, 2)}

    engine.register_function("ctxfn", handler, timeout_seconds=30)
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": FN + "ctxfn", "ResultPath": "$.r", "End": True}}}, {"a": 1})
    assert seen["name"] == "ctxfn" and len(seen["request"]) == 36
    assert 25_000 < seen["remaining"] <= 30_000
    assert json.loads(described["Output"]) == {"a": 1, "r": {"when": "now", "t": [1, 2]}}


def test_lambda_invoke_response_shape(engine: Engine) -> None:
    engine.register_function("echo", lambda event, ctx: event)
    described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FN + "echo", "Payload": {"x.$": "$.x"}}, "End": True}}},
        {"x": 5})
    out = json.loads(described["Output"])
    assert set(out) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata",
                        "StatusCode"}
    assert out["Payload"] == {"x": 5} and out["StatusCode"] == 200
    assert event_types(history)[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    scheduled = history[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"


def test_custom_exception_name_is_the_error_and_catchable(engine: Engine) -> None:
    def handler(event: Any, ctx: Any) -> Any:
        raise OutOfStock("no more widgets")

    engine.register_function("reserve", handler)
    described, history = run_machine(engine, {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN + "reserve",
              "Catch": [{"ErrorEquals": ["OutOfStock"], "ResultPath": "$.err", "Next": "Done"}],
              "End": True},
        "Done": {"Type": "Succeed"}}}, {"id": 1})
    out = json.loads(described["Output"])
    assert out["err"]["Error"] == "OutOfStock"
    cause = json.loads(out["err"]["Cause"])
    assert cause["errorType"] == "OutOfStock" and cause["errorMessage"] == "no more widgets"
    assert any("raise OutOfStock" in line for line in cause["stackTrace"])
    assert "LambdaFunctionFailed" in event_types(history)
    assert "TaskStateExited:T" in event_types(history)


def test_retry_backoff_with_max_delay_on_virtual_clock(engine: Engine) -> None:
    calls: list[int] = []

    def flaky(event: Any, ctx: Any) -> Any:
        calls.append(1)
        if len(calls) < 5:
            raise TimeoutError("try again")
        return "ok"

    engine.register_function("flaky", flaky)
    described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": FN + "flaky", "End": True,
        "Retry": [{"ErrorEquals": ["ValueError"], "MaxAttempts": 9},
                  {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 3,
                   "MaxAttempts": 4, "MaxDelaySeconds": 60}]}}})
    assert described["Status"] == "SUCCEEDED" and len(calls) == 5
    scheduled = [e["timestamp"] for e in history if e["type"] == "LambdaFunctionScheduled"]
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:], strict=False)]
    # 10, 30, 90 capped at 60, 270 capped at 60 (+ the real time the handler ran, which
    # virtual time follows while it is in flight)
    expected = [10, 30, 60, 60]
    assert all(e <= g < e + 1 for g, e in zip(gaps, expected, strict=True)), gaps


def test_retry_exhausted_then_fails_and_jitter(engine: Engine) -> None:
    engine.register_function("bad", lambda e, c: 1 / 0)
    described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": FN + "bad", "End": True,
        "Retry": [{"ErrorEquals": ["ZeroDivisionError"], "IntervalSeconds": 100,
                   "MaxAttempts": 3, "JitterStrategy": "FULL"}]}}})
    assert described["Error"] == "ZeroDivisionError"
    scheduled = [e["timestamp"] for e in history if e["type"] == "LambdaFunctionScheduled"]
    assert len(scheduled) == 4
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:], strict=False)]
    assert all(0 <= g <= cap + 1 for g, cap in zip(gaps, [100, 200, 400], strict=True))


def test_states_all_does_not_catch_runtime(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "T", "States": {
        "T": {"Type": "Pass", "InputPath": "$.nope", "Next": "End"},
        "End": {"Type": "Succeed"}}})
    assert described["Error"] == "States.Runtime"
    engine.register_function("ok", lambda e, c: e)
    described, _ = run_machine(engine, {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN + "ok", "OutputPath": "$.missing",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": True},
        "C": {"Type": "Succeed"}}}, machine_name="m2")
    assert described["Status"] == "FAILED" and described["Error"] == "States.Runtime"


def test_task_timeout(engine: Engine) -> None:
    release = threading.Event()

    def slow(event: Any, ctx: Any) -> Any:
        release.wait(5)
        return "late"

    engine.register_function("slow", slow, timeout_seconds=60)
    try:
        sm = engine.create_state_machine("timeout", {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": FN + "slow", "TimeoutSeconds": 2,
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "C"}], "End": True},
            "C": {"Type": "Pass", "End": True}}})
        arn = engine.start_execution(sm, {})
        # The handler runs in a thread, which holds virtual time; a real 2 s wait is avoided
        # by moving the clock by hand.
        import time

        for _ in range(200):
            if any(e["type"] == "LambdaFunctionStarted" for e in engine.history(arn)):
                break
            time.sleep(0.01)
        engine.clock.advance(3)  # type: ignore[attr-defined]
        described = engine.wait(arn, timeout=10)
    finally:
        release.set()
    assert json.loads(described["Output"])["Error"] == "States.Timeout"
    assert "LambdaFunctionTimedOut" in event_types(engine.history(arn))


def test_unknown_function_is_a_task_error(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "missing"}, "End": True}}})
    assert described["Error"] == "Lambda.ResourceNotFoundException"


def test_unsupported_resource(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}}})
    assert described["Error"] == "States.Runtime"
    assert "not supported" in described["Cause"]


def test_registered_integration(engine: Engine) -> None:
    async def put_item(call: Any) -> Any:
        return {"stored": call.parameters["Item"]}

    engine.register_integration("dynamodb:putItem", put_item)
    described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"Item": {"k.$": "$.k"}}, "End": True}}}, {"k": "v"})
    assert json.loads(described["Output"]) == {"stored": {"k": "v"}}


def test_nested_start_execution_sync(engine: Engine) -> None:
    child = engine.create_state_machine("child", {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}})
    described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}},
        "OutputPath": "$.Output", "End": True}}}, {"n": 21}, machine_name="parent")
    assert json.loads(described["Output"]) == {"doubled": 42}
    failing = engine.create_state_machine("failing", {"StartAt": "F", "States": {"F": {
        "Type": "Fail", "Error": "Child.Failed"}}})
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": failing}, "End": True}}}, machine_name="parent2")
    assert described["Error"] == "States.TaskFailed"
    assert json.loads(described["Cause"])["Error"] == "Child.Failed"


@pytest.mark.parametrize("name", ["fn", "arn:aws:lambda:us-east-1:123456789012:function:fn",
                                  "arn:aws:lambda:us-east-1:123456789012:function:fn:live"])
def test_function_name_resolution(name: str) -> None:
    from kbflow.runtime.invoke import function_name_of

    assert function_name_of(name) == "fn"


def test_function_timeout_is_sandbox_timedout(engine: Engine) -> None:
    release = threading.Event()
    engine.register_function("stuck", lambda e, c: release.wait(5), timeout_seconds=0.05)
    try:
        described, history = run_machine(engine, {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "stuck"}, "End": True}}})
    finally:
        release.set()
    assert described["Error"] == "Sandbox.Timedout"
    assert "Task timed out after 0.05 seconds" in described["Cause"]


def test_lambda_invoke_event_invocation_type(engine: Engine) -> None:
    seen = threading.Event()
    engine.register_function("bg", lambda e, c: seen.set())
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "bg", "InvocationType": "Event"}, "End": True}}})
    out = json.loads(described["Output"])
    assert out["StatusCode"] == 202 and out["Payload"] == ""
    assert seen.wait(5)


def test_per_function_invoker(engine: Engine) -> None:
    from kbflow.runtime.invoke import Invocation, LambdaFunction

    class Recording:
        def __init__(self) -> None:
            self.events: list[str] = []

        async def invoke(self, function: LambdaFunction, event_json: str) -> Invocation:
            self.events.append(event_json)
            return Invocation("req-1", payload={"via": "recording"})

    recording = Recording()
    engine.register_function("remote", lambda e, c: {"via": "thread"}, invoker=recording)
    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": FN + "remote", "End": True}}}, {"k": 1})
    assert json.loads(described["Output"]) == {"via": "recording"}
    assert json.loads(recording.events[0]) == {"k": 1}
