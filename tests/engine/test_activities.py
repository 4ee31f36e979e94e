"""Activities: a worker polls GetActivityTask and answers with the task token."""

from __future__ import annotations

import json
import threading

import pytest
from engine_helpers import event_types
from kbflow.errors import BackendError
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine


def _machine(activity: str, **extra: object) -> dict[str, object]:
    return {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": activity, "Parameters": {"doc.$": "$.doc"},
        "ResultPath": "$.result", "End": True, **extra}}}


def test_worker_polls_and_succeeds(engine: Engine) -> None:
    activity = engine.create_activity("reviewer")
    assert engine.create_activity("reviewer") == activity
    sm = engine.create_state_machine("act", _machine(activity))
    arn = engine.start_execution(sm, {"doc": "d1"})
    task = engine.get_activity_task(activity, worker_name="w1", timeout=5)
    assert json.loads(task["input"]) == {"doc": "d1"}
    engine.send_task_success(task["taskToken"], {"ok": True})
    described = engine.wait(arn, timeout=10)
    assert json.loads(described["Output"]) == {"doc": "d1", "result": {"ok": True}}
    history = engine.history(arn)
    assert event_types(history)[2:5] == ["ActivityScheduled", "ActivityStarted",
                                         "ActivitySucceeded"]
    assert history[3]["activityStartedEventDetails"] == {"workerName": "w1"}


def test_poller_waiting_before_the_task_is_scheduled(engine: Engine) -> None:
    activity = engine.create_activity("early")
    sm = engine.create_state_machine("act", _machine(activity))
    got: list[dict[str, object]] = []
    worker = threading.Thread(target=lambda: got.append(
        engine.get_activity_task(activity, worker_name="w", timeout=5)))
    worker.start()
    arn = engine.start_execution(sm, {"doc": "d"})
    worker.join(5)
    engine.send_task_failure(str(got[0]["taskToken"]), error="Worker.Error", cause="bad")
    described = engine.wait(arn, timeout=10)
    assert (described["Error"], described["Cause"]) == ("Worker.Error", "bad")
    assert "ActivityFailed" in event_types(engine.history(arn))


def test_heartbeat_timeout_and_empty_poll(engine: Engine, clock: VirtualClock) -> None:
    activity = engine.create_activity("slow")
    assert engine.get_activity_task(activity, timeout=0.01) == {}
    sm = engine.create_state_machine("act", _machine(activity, HeartbeatSeconds=30))
    arn = engine.start_execution(sm, {"doc": "d"})
    task = engine.get_activity_task(activity, timeout=5)
    clock.advance(31)
    described = engine.wait(arn, timeout=10)
    assert described["Error"] == "States.HeartbeatTimeout"
    assert "ActivityTimedOut" in event_types(engine.history(arn))
    with pytest.raises(BackendError):
        engine.send_task_success(str(task["taskToken"]), {})


def test_unknown_activity(engine: Engine) -> None:
    with pytest.raises(BackendError) as info:
        engine.get_activity_task("arn:aws:states:us-east-1:123456789012:activity:nope",
                                 timeout=0.01)
    assert info.value.code == "ActivityDoesNotExist"
    sm = engine.create_state_machine("act", _machine(
        "arn:aws:states:us-east-1:123456789012:activity:nope"))
    described = engine.wait(engine.start_execution(sm, {"doc": 1}), timeout=10)
    assert described["Error"] == "States.Runtime"
