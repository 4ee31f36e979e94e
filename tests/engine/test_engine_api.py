"""The Engine API: registration, idempotent start, stop, listing, history paging."""

from __future__ import annotations

import json

import pytest
from engine_helpers import event_types
from kbflow.errors import (
    DefinitionError,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    StateMachineNotFound,
    ValidationError,
)
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine

WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}}


def test_definition_substitutions(engine: Engine) -> None:
    engine.register_function("kbflow-Fetch", lambda e, c: {"fetched": e["k"]})
    sm = engine.create_state_machine("subst", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${FetchFunctionArn}", "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": True}}},
        substitutions={"FetchFunctionArn":
                       "arn:aws:lambda:us-east-1:123456789012:function:kbflow-Fetch"})
    assert "kbflow-Fetch" in engine.describe_state_machine(sm)["definition"]
    arn = engine.start_execution(sm, {"k": 1})
    assert json.loads(engine.wait(arn, timeout=10)["Output"]) == {"fetched": 1}


def test_invalid_definition_is_rejected(engine: Engine) -> None:
    with pytest.raises(DefinitionError):
        engine.create_state_machine("bad", {"StartAt": "X", "States": {}})


def test_idempotent_start_by_name(engine: Engine, clock: VirtualClock) -> None:
    sm = engine.create_state_machine("idem", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "f", "Payload.$": "$$.Task.Token"}, "End": True}}})
    engine.register_function("f", lambda e, c: None)
    first = engine.start_execution(sm, {"a": 1}, name="run-1")
    assert engine.start_execution(sm, {"a": 1}, name="run-1") == first
    with pytest.raises(ExecutionAlreadyExists):
        engine.start_execution(sm, {"a": 2}, name="run-1")
    engine.stop_execution(first)
    described = engine.wait(first, timeout=10)
    assert described["Status"] == "ABORTED"
    assert event_types(engine.history(first))[-1] == "ExecutionAborted"
    with pytest.raises(ExecutionAlreadyExists):  # a finished execution's name stays taken
        engine.start_execution(sm, {"a": 1}, name="run-1")


def test_bad_requests(engine: Engine) -> None:
    sm = engine.create_state_machine("w", WAIT)
    with pytest.raises(StateMachineNotFound):
        engine.start_execution(sm + "x", {})
    with pytest.raises(ExecutionNotFound):
        engine.describe_execution("arn:aws:states:us-east-1:123456789012:execution:w:none")
    with pytest.raises(ValidationError):
        engine.start_execution(sm, "{not json")
    with pytest.raises(ValidationError):
        engine.start_execution(sm, {}, name="bad name with spaces")
    with pytest.raises(ValidationError):
        engine.start_execution(sm, {"big": "x" * 300_000})


def test_list_and_history_paging(engine: Engine) -> None:
    sm = engine.create_state_machine("w", WAIT)
    arns = [engine.start_execution(sm, {"i": i}) for i in range(3)]
    for arn in arns:
        engine.wait(arn, timeout=10)
    listed = engine.list_executions(sm)
    assert [e["executionArn"] for e in listed] == arns[::-1]
    assert {e["status"] for e in listed} == {"SUCCEEDED"}
    page = engine.get_execution_history(arns[0], max_results=2)
    assert [e["id"] for e in page["events"]] == [1, 2]
    rest = engine.get_execution_history(arns[0], max_results=2, next_token=page["nextToken"])
    assert [e["id"] for e in rest["events"]] == [3, 4] and "nextToken" not in rest
    newest = engine.get_execution_history(arns[0], reverse_order=True, max_results=1)
    assert newest["events"][0]["type"] == "ExecutionSucceeded"
    assert engine.list_state_machines()[0]["name"] == "w"


def test_machine_timeout(engine: Engine) -> None:
    sm = engine.create_state_machine("slow", {"TimeoutSeconds": 5, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    described = engine.wait(engine.start_execution(sm, {}), timeout=10)
    assert described["Status"] == "TIMED_OUT" and described["Error"] == "States.Timeout"


def test_history_listener_sees_every_event(clock: VirtualClock) -> None:
    seen: list[tuple[str, str]] = []
    with Engine(clock=clock, history_listener=lambda arn, e: seen.append((arn, e["type"]))) as eng:
        sm = eng.create_state_machine("w", WAIT)
        arn = eng.start_execution(sm, {})
        eng.wait(arn, timeout=10)
        assert [t for a, t in seen if a == arn] == [e["type"] for e in eng.history(arn)]


@pytest.mark.parametrize("parameters", [
    {"a.$": "$..[bad"},
    {"a.$": "States.Format("},
    {"a.$": "States.NoSuchFunction(1)"},
])
def test_uncompilable_expressions_are_definition_errors(engine: Engine,
                                                        parameters: dict[str, str]) -> None:
    with pytest.raises(DefinitionError):
        engine.create_state_machine("bad", {"StartAt": "P", "States": {"P": {
            "Type": "Pass", "Parameters": parameters, "End": True}}})


def test_wait_gives_up_after_its_real_timeout(engine: Engine) -> None:
    engine.register_function("never", lambda e, c: None)
    sm = engine.create_state_machine("cb", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "never", "Payload.$": "$$.Task.Token"}, "End": True}}})
    arn = engine.start_execution(sm, {})
    with pytest.raises(TimeoutError):
        engine.wait(arn, timeout=0.05)
    assert engine.describe_execution(arn)["Status"] == "RUNNING"
    engine.stop_execution(arn, error="Stopped.ByTest", cause="done")
    described = engine.wait(arn, timeout=10)
    assert (described["Status"], described["Error"]) == ("ABORTED", "Stopped.ByTest")


def test_express_rejects_callback_and_sync_patterns(engine: Engine) -> None:
    with pytest.raises(DefinitionError, match="Express state machines do not support"):
        engine.create_state_machine("x", {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f"}, "End": True}}}, type="EXPRESS")


def test_stop_right_after_start(engine: Engine) -> None:
    sm = engine.create_state_machine("w", WAIT)
    for _ in range(20):
        arn = engine.start_execution(sm, {})
        engine.stop_execution(arn)
        described = engine.wait(arn, timeout=10)
        assert described["Status"] in ("ABORTED", "SUCCEEDED")
        types = event_types(engine.history(arn))
        assert types[0] == "ExecutionStarted" and types[-1] in ("ExecutionAborted",
                                                                "ExecutionSucceeded")


def test_add_history_listener_chains(clock: VirtualClock) -> None:
    first: list[str] = []
    second: list[str] = []
    with Engine(clock=clock, history_listener=lambda arn, e: first.append(e["type"])) as eng:
        eng.add_history_listener(lambda arn, e: second.append(e["type"]))
        sm = eng.create_state_machine("w", WAIT)
        eng.wait(eng.start_execution(sm, {}), timeout=10)
    assert first == second and first[0] == "ExecutionStarted"


def test_engine_methods_refuse_the_engine_thread(engine: Engine) -> None:
    from typing import Any

    from kbflow.errors import ConfigurationError

    async def nosy(call: Any) -> Any:
        try:
            engine.list_state_machines()
            engine.describe_state_machine(call.run.record.state_machine_arn)
            engine.list_executions(call.run.record.state_machine_arn)
        except ConfigurationError as exc:
            return {"refused": str(exc)[:20]}
        return {"refused": None}

    engine.register_integration("nosy:call", nosy)
    sm = engine.create_state_machine("n", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::nosy:call", "End": True}}})
    described = engine.wait(engine.start_execution(sm, {}), timeout=10)
    assert json.loads(described["Output"]) == {"refused": "Engine methods block"}
