"""Task tokens (.waitForTaskToken) and MockConfigFile test cases."""

from __future__ import annotations

import json
import time

import pytest
from engine_helpers import event_types
from kbflow.errors import ConfigurationError, InvalidToken, TaskDoesNotExist, TaskTimedOut
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine

CALLBACK = {"StartAt": "Ask", "States": {"Ask": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "Parameters": {"FunctionName": "notify",
                   "Payload": {"token.$": "$$.Task.Token", "doc.$": "$.doc"}},
    "HeartbeatSeconds": 600, "ResultPath": "$.decision", "End": True}}}


def _token(engine: Engine, tokens: list[str]) -> str:
    for _ in range(500):
        if tokens:
            return tokens[0]
        time.sleep(0.005)
    raise AssertionError("the callback handler was never invoked")


def _wait_for(engine: Engine, arn: str, event: str) -> None:
    for _ in range(500):
        if event in event_types(engine.history(arn)):
            return
        time.sleep(0.005)
    raise AssertionError(f"{event} never happened")


@pytest.fixture
def notify(engine: Engine) -> list[str]:
    tokens: list[str] = []
    engine.register_function("notify", lambda event, ctx: tokens.append(event["token"]))
    return tokens


def test_send_task_success(engine: Engine, notify: list[str]) -> None:
    sm = engine.create_state_machine("cb", CALLBACK)
    arn = engine.start_execution(sm, {"doc": "d1"})
    token = _token(engine, notify)
    _wait_for(engine, arn, "TaskSubmitted")
    engine.send_task_heartbeat(token)
    engine.send_task_success(token, {"approved": True})
    described = engine.wait(arn, timeout=10)
    assert json.loads(described["Output"]) == {"doc": "d1", "decision": {"approved": True}}
    assert event_types(engine.history(arn))[2:6] == [
        "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    with pytest.raises(TaskTimedOut):
        engine.send_task_success(token, {})


def test_send_task_failure_is_catchable(engine: Engine, notify: list[str]) -> None:
    definition = json.loads(json.dumps(CALLBACK))
    definition["States"]["Ask"]["Catch"] = [{"ErrorEquals": ["Review.Rejected"],
                                             "Next": "Rejected"}]
    definition["States"]["Rejected"] = {"Type": "Pass", "End": True}
    sm = engine.create_state_machine("cbf", definition)
    arn = engine.start_execution(sm, {"doc": "d"})
    token = _token(engine, notify)
    _wait_for(engine, arn, "TaskSubmitted")
    engine.send_task_failure(token, error="Review.Rejected", cause="nope")
    described = engine.wait(arn, timeout=10)
    assert json.loads(described["Output"]) == {"Error": "Review.Rejected", "Cause": "nope"}
    assert "TaskFailed" in event_types(engine.history(arn))


def test_heartbeat_timeout_by_advancing_the_clock(engine: Engine, clock: VirtualClock,
                                                  notify: list[str]) -> None:
    sm = engine.create_state_machine("hb", CALLBACK)
    arn = engine.start_execution(sm, {"doc": "d"})
    token = _token(engine, notify)
    _wait_for(engine, arn, "TaskSubmitted")
    clock.advance(601)
    described = engine.wait(arn, timeout=10)
    assert described["Error"] == "States.HeartbeatTimeout"
    assert "TaskTimedOut" in event_types(engine.history(arn))
    with pytest.raises(TaskTimedOut):
        engine.send_task_success(token, {})


def test_token_errors(engine: Engine) -> None:
    with pytest.raises(InvalidToken):
        engine.send_task_success("short", {})
    with pytest.raises(TaskDoesNotExist):
        engine.send_task_success("x" * 64, {})


MOCKS = {
    "StateMachines": {"Orders": {"TestCases": {
        "HappyPath": {"Charge": "ChargeOk"},
        "RetryPath": {"Charge": "ChargeFlaky"}}}},
    "MockedResponses": {
        "ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": 10}}}},
        "ChargeFlaky": {
            "0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "slow"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"charged": 20}}}}}}

ORDERS = {"StartAt": "Charge", "States": {"Charge": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
    "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 3}],
    "OutputPath": "$.Payload", "End": True}}}


def test_mock_config_test_cases(clock: VirtualClock) -> None:
    with Engine(clock=clock, mock_config=MOCKS) as engine:
        sm = engine.create_state_machine("Orders", ORDERS)
        happy = engine.start_execution(sm, {}, test_case="HappyPath")
        assert json.loads(engine.wait(happy, timeout=10)["Output"]) == {"charged": 10}
        flaky = engine.start_execution(sm + "#RetryPath", {})
        described = engine.wait(flaky, timeout=10)
        assert json.loads(described["Output"]) == {"charged": 20}
        types = event_types(engine.history(flaky))
        assert types.count("TaskFailed") == 2 and types.count("TaskSucceeded") == 1
        with pytest.raises(ConfigurationError):
            engine.start_execution(sm, {}, test_case="Nope")


def test_mock_config_validation() -> None:
    from kbflow.runtime.mocks import MockConfig

    with pytest.raises(ConfigurationError, match="unknown mocked response"):
        MockConfig.from_document({"StateMachines": {"A": {"TestCases": {"T": {"S": "X"}}}}})
    with pytest.raises(ConfigurationError, match="exactly one of Return or Throw"):
        MockConfig.from_document({"MockedResponses": {"X": {"0": {}}}})
    with pytest.raises(ConfigurationError, match="bad invocation key"):
        MockConfig.from_document({"MockedResponses": {"X": {"a-b": {"Return": 1}}}})



def test_nested_execution_calls_back_with_the_parent_token(engine: Engine) -> None:
    engine.register_function("approve", lambda event, ctx: engine.send_task_success(
        event["token"], {"approved_by": "child"}))
    child = engine.create_state_machine("review", {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "approve", "Payload.$": "$"}, "End": True}}})
    parent = engine.create_state_machine("ingest", {"StartAt": "Review", "States": {"Review": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
        "Parameters": {"StateMachineArn": child, "Input": {"token.$": "$$.Task.Token"}},
        "End": True}}})
    arn = engine.start_execution(parent, {})
    described = engine.wait(arn, timeout=10)
    assert json.loads(described["Output"]) == {"approved_by": "child"}
    [child_run] = engine.list_executions(child)
    # the child ends after its callback returned, possibly after the parent
    assert engine.wait(child_run["executionArn"], timeout=10)["Status"] == "SUCCEEDED"


def test_timeout_seconds_path_must_be_a_positive_integer(engine: Engine) -> None:
    from engine_helpers import run_machine

    described, _ = run_machine(engine, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "TimeoutSecondsPath": "$.t", "Parameters": {"FunctionName": "f"}, "End": True}}},
        {"t": "soon"})
    assert described["Error"] == "States.Runtime"
    assert "TimeoutSecondsPath" in described["Cause"]
