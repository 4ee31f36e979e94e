"""Requests from the console engineer: TaskTokens.pending() and Engine.update_state_machine."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from engine_helpers import event_types
from kbflow.errors import DefinitionError, StateMachineNotFound
from kbflow.runtime.engine import Engine

ASK = {"StartAt": "Ask", "States": {"Ask": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
    "End": True}}}


def _eventually(predicate: Any) -> None:
    for _ in range(1000):
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition never became true")


def test_pending_lists_open_callbacks_of_running_executions(engine: Engine) -> None:
    tokens: list[str] = []
    engine.register_function("notify", lambda event, ctx: tokens.append(event["token"]))
    sm = engine.create_state_machine("ask", ASK)
    first = engine.start_execution(sm, {}, name="first")
    second = engine.start_execution(sm, {}, name="second")
    _eventually(lambda: len(engine.tokens.pending()) == 2)
    open_tasks = engine.tokens.pending()
    assert {t.execution_arn for t in open_tasks} == {first, second}
    assert {t.token for t in open_tasks} == set(tokens)
    assert all(t.state_name == "Ask" for t in open_tasks)
    entered = {e["stateEnteredEventDetails"]["name"]: e["timestamp"]
               for e in engine.history(first) if e["type"] == "TaskStateEntered"}
    by_arn = {t.execution_arn: t for t in open_tasks}
    assert abs((by_arn[first].entered - entered["Ask"]).total_seconds()) < 1
    assert all(t.token not in repr(t) for t in open_tasks)  # a secret
    token, arn = by_arn[first]  # the console's (token, execution_arn) unpacking
    assert (token, arn) == (by_arn[first].token, first)
    engine.send_task_success(by_arn[first].token, {})
    engine.stop_execution(second)
    engine.wait(first, timeout=10)
    engine.wait(second, timeout=10)
    assert engine.tokens.pending() == []


UPDATED = {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "new", "End": True}}}


def test_update_state_machine_keeps_executions_and_bumps_the_revision(engine: Engine) -> None:
    sm = engine.create_state_machine("m", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": "old", "End": True}}})
    before = engine.start_execution(sm, {})
    engine.wait(before, timeout=10)
    assert "revisionId" not in engine.describe_state_machine(sm)
    created = engine.describe_state_machine(sm)["creationDate"]
    answer = engine.update_state_machine(sm, definition=UPDATED)
    described = engine.describe_state_machine(sm)
    assert described["revisionId"] == answer["revisionId"]
    assert json.loads(described["definition"]) == UPDATED
    assert described["creationDate"] == created
    after = engine.start_execution(sm, {})
    assert json.loads(engine.wait(after, timeout=10)["Output"]) == "new"
    assert [e["executionArn"] for e in engine.list_executions(sm)] == [after, before]
    again = engine.update_state_machine(sm, role_arn="arn:aws:iam::123456789012:role/other")
    assert again["revisionId"] != answer["revisionId"]
    described = engine.describe_state_machine(sm)
    assert described["roleArn"].endswith("role/other")
    assert json.loads(described["definition"]) == UPDATED
    assert event_types(engine.history(before))[-1] == "ExecutionSucceeded"


def test_update_state_machine_errors(engine: Engine) -> None:
    sm = engine.create_state_machine("m", UPDATED)
    with pytest.raises(DefinitionError):
        engine.update_state_machine(sm, definition={"StartAt": "X", "States": {}})
    assert json.loads(engine.describe_state_machine(sm)["definition"]) == UPDATED
    with pytest.raises(StateMachineNotFound):
        engine.update_state_machine(sm + "-nope", definition=UPDATED)
