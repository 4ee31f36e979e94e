"""Time skipping: a VirtualClock skips over callback timers while someone waits on a result."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from engine_helpers import event_types
from kbflow.errors import TaskTimedOut
from kbflow.runtime.clock import RealClock, VirtualClock
from kbflow.runtime.engine import Engine

DAY = 86_400


def _callback(name: str, timeout: int, on_timeout: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "notify",
                       "Payload": {"token.$": "$$.Task.Token", "step": name}},
        "TimeoutSeconds": timeout, "ResultPath": "$.decision",
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout",
                   "Next": on_timeout}],
        **extra}


HUMAN_REVIEW = {"StartAt": "Review", "States": {
    "Review": _callback("review", DAY, "Escalate", End=True),
    "Escalate": _callback("escalate", 3600, "Fallback", End=True),
    "Fallback": {"Type": "Pass", "Result": {"decision": "auto-reject"}, "End": True},
}}


@pytest.fixture
def tokens(engine: Engine) -> list[str]:
    issued: list[str] = []
    engine.register_function("notify", lambda event, ctx: issued.append(event["token"]))
    return issued


def _eventually(predicate: Any) -> None:
    for _ in range(1000):
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition never became true")


def test_waiting_on_a_result_skips_both_review_deadlines(
        engine: Engine, clock: VirtualClock, tokens: list[str]) -> None:
    sm = engine.create_state_machine("review", HUMAN_REVIEW)
    arn = engine.start_execution(sm, {"doc": "d1"})
    started = time.monotonic()
    described = engine.wait(arn, timeout=10)
    assert time.monotonic() - started < 1.0
    assert described["Status"] == "SUCCEEDED"
    assert json.loads(described["Output"]) == {"decision": "auto-reject"}
    history = engine.history(arn)
    timed_out = [e for e in history if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == [
        "States.Timeout", "States.Timeout"]
    assert len(tokens) == 2
    assert clock.monotonic() >= DAY + 3600
    # the history's clock is the virtual one: the escalation started a day after the review
    entered = {e["stateEnteredEventDetails"]["name"]: e["timestamp"] for e in history
               if e["type"] == "TaskStateEntered"}
    assert (entered["Escalate"] - entered["Review"]).total_seconds() >= DAY


def test_a_token_sent_before_anyone_waits_still_counts(
        engine: Engine, clock: VirtualClock, tokens: list[str]) -> None:
    sm = engine.create_state_machine("review", HUMAN_REVIEW)
    arn = engine.start_execution(sm, {"doc": "d1"})
    _eventually(lambda: "TaskSubmitted" in event_types(engine.history(arn)))
    time.sleep(0.05)  # nobody waits: the awaited callback holds virtual time
    assert engine.describe_execution(arn)["Status"] == "RUNNING"
    assert clock.monotonic() < 60
    engine.send_task_success(tokens[0], {"approved": True})
    described = engine.wait(arn, timeout=10)
    assert json.loads(described["Output"]) == {"doc": "d1", "decision": {"approved": True}}
    assert "TaskTimedOut" not in event_types(engine.history(arn))


def test_heartbeat_deadline_is_skipped_too(engine: Engine, tokens: list[str]) -> None:
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 600, "End": True}}}
    arn = engine.start_execution(engine.create_state_machine("hb", definition), {})
    described = engine.wait(arn, timeout=10)
    assert described["Error"] == "States.HeartbeatTimeout"


def test_an_activity_without_a_worker_times_out_while_waited_on(engine: Engine) -> None:
    activity = engine.create_activity("nobody")
    sm = engine.create_state_machine("act", {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": activity, "TimeoutSeconds": 3600, "End": True}}})
    described = engine.wait(engine.start_execution(sm, {}), timeout=10)
    assert described["Error"] == "States.Timeout"
    assert "ActivityTimedOut" in event_types(engine.history(described["ExecutionArn"]))


def test_explicit_auto_skip_while_polling(engine: Engine, tokens: list[str]) -> None:
    arn = engine.start_execution(engine.create_state_machine("review", HUMAN_REVIEW), {})
    with engine.clock.auto_skip():  # type: ignore[attr-defined]
        _eventually(lambda: engine.describe_execution(arn)["Status"] != "RUNNING")
    assert json.loads(engine.describe_execution(arn)["Output"]) == {"decision": "auto-reject"}


def test_a_running_handler_still_holds_time_while_waited_on(engine: Engine) -> None:
    def slow(event: Any, ctx: Any) -> Any:
        time.sleep(0.2)  # real time: 0.2 s, far under the task's 5 s timeout
        return {"done": True}

    engine.register_function("slow", slow)
    sm = engine.create_state_machine("slow", {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 5,
        "Parameters": {"FunctionName": "slow", "Payload": {}},
        "OutputPath": "$.Payload", "End": True}}})
    described = engine.wait(engine.start_execution(sm, {}), timeout=10)
    assert described["Status"] == "SUCCEEDED", described


def test_auto_skip_wakes_a_loop_held_by_a_callback() -> None:
    clock = VirtualClock()
    with Engine(clock=clock) as engine:
        issued: list[str] = []
        engine.register_function("notify", lambda event, ctx: issued.append(event["token"]))
        arn = engine.start_execution(engine.create_state_machine("r", HUMAN_REVIEW), {})
        _eventually(lambda: "TaskSubmitted" in event_types(engine.history(arn)))
        time.sleep(0.05)  # the loop now blocks in real time (the callback holds the clock)
        assert clock.in_flight == 1 and not clock.skipping
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (engine.wait(arn, timeout=10), done.set()))
        waiter.start()
        assert done.wait(2), "engine.wait did not make time skip"
        waiter.join()


def test_real_clock_context_managers_do_nothing() -> None:
    clock = RealClock()
    with clock.awaiting_callback(), clock.auto_skip(), clock.busy():
        pass


ASK = {"StartAt": "Ask", "States": {"Ask": _callback("ask", 3600, "TooLate", End=True),
                                    "TooLate": {"Type": "Fail", "Error": "TooLate"}}}


def test_waiting_on_one_execution_leaves_another_ones_callback_held(
        engine: Engine, clock: VirtualClock, tokens: list[str]) -> None:
    other = engine.start_execution(engine.create_state_machine("ask", ASK), {})
    _eventually(lambda: "TaskSubmitted" in event_types(engine.history(other)))
    pause = engine.create_state_machine("pause", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}})
    started = time.monotonic()
    assert engine.wait(engine.start_execution(pause, {"s": 1}), timeout=10)["Status"] == (
        "SUCCEEDED")
    assert time.monotonic() - started >= 0.5  # held: the one-second Wait ran in real time
    assert engine.describe_execution(other)["Status"] == "RUNNING"
    engine.send_task_success(tokens[0], {"ok": True})
    assert engine.wait(other, timeout=10)["Status"] == "SUCCEEDED"


def test_waiting_on_a_parent_skips_the_callbacks_of_children_it_awaits(
        engine: Engine, tokens: list[str]) -> None:
    child = engine.create_state_machine("ask", ASK)
    parent = engine.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}}})
    described = engine.wait(engine.start_execution(parent, {}), timeout=10)
    assert described["Error"] == "States.TaskFailed"
    assert '"TooLate"' in described["Cause"]


def test_a_fire_and_forget_child_keeps_its_callback_held(
        engine: Engine, tokens: list[str]) -> None:
    child = engine.create_state_machine("ask", ASK)
    parent = engine.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}}})
    assert engine.wait(engine.start_execution(parent, {}), timeout=10)["Status"] == "SUCCEEDED"
    [started] = engine.list_executions(child)
    _eventually(lambda: bool(tokens))
    assert engine.describe_execution(started["executionArn"])["Status"] == "RUNNING"
    engine.send_task_success(tokens[0], {"ok": True})
    assert engine.wait(started["executionArn"], timeout=10)["Status"] == "SUCCEEDED"


def test_a_timeout_while_the_token_is_handed_out_closes_the_token(
        engine: Engine, clock: VirtualClock) -> None:
    release = threading.Event()
    handed: list[str] = []

    def slow_notify(event: Any, ctx: Any) -> Any:
        handed.append(event["token"])
        if len(handed) == 1:
            release.wait(5)  # the first deadline passes while this still runs
        return {}

    engine.register_function("notify", slow_notify)
    arn = engine.start_execution(engine.create_state_machine("late", HUMAN_REVIEW), {})
    _eventually(lambda: bool(handed))
    clock.advance(DAY + 1)
    _eventually(lambda: len(handed) == 2)  # escalated; the execution still runs
    release.set()
    with pytest.raises(TaskTimedOut):
        engine.send_task_success(handed[0], {"late": True})
    engine.send_task_success(handed[1], {"ok": True})
    assert json.loads(engine.wait(arn, timeout=10)["Output"])["decision"] == {"ok": True}
