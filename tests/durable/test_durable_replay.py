"""Deterministic replay: a store cut at any event replays to the same history, invoking nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kbflow.runtime.durable import DurableEngine

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"
DEFINITION: dict[str, Any] = {"StartAt": "Both", "States": {
    "Both": {"Type": "Parallel", "Next": "Each", "Branches": [
        {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": FN,
                                                "Parameters": {"same": True}, "End": True}}},
        {"StartAt": "Right", "States": {"Right": {"Type": "Task", "Resource": FN,
                                                  "Parameters": {"same": True}, "End": True}}}]},
    "Each": {"Type": "Map", "ItemsPath": "$$.Execution.Input.items", "Next": "Flaky",
             "ItemProcessor": {"StartAt": "Same", "States": {"Same": {
                 "Type": "Task", "Resource": FN, "Parameters": {"same": True}, "Next": "Nap"},
                 "Nap": {"Type": "Wait", "Seconds": 1, "End": True}}}},
    "Flaky": {"Type": "Task", "Resource": FN, "Parameters": {"flaky": True},
              "Retry": [{"ErrorEquals": ["Flake"], "IntervalSeconds": 1}], "End": True}}}


class Flake(Exception):
    """Fails once."""


class Work:
    """Counts calls; ``{"flaky": true}`` fails on its first call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls += 1
        if event.get("flaky") and self.calls < 100 and not getattr(self, "flaked", False):
            self.flaked = True
            raise Flake("once")
        return {"n": 1}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _crash_at(store: Path, arn: str, keep: int) -> None:
    """Make the store look as if the owner died after committing ``keep`` events."""
    with sqlite3.connect(store / "engine.sqlite3") as db:
        number = db.execute("SELECT n FROM executions WHERE arn=?", (arn,)).fetchone()[0]
        db.execute("DELETE FROM events WHERE execution=? AND id>?", (number, keep))
        last = db.execute("SELECT max(id) FROM events WHERE execution=?", (number,)).fetchone()[0]
        db.execute("DELETE FROM task_journal WHERE execution_arn=? AND event_id>?", (arn, last))
        db.execute("UPDATE executions SET status='RUNNING', output=NULL, stop_date=NULL, "
                   "owner_pid=? WHERE arn=?", (_dead_pid(), arn))


def _shape(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps([e["type"], {k: v for k, v in e.items() if k not in (
        "id", "previousEventId", "timestamp", "type")}], sort_keys=True) for e in events)


@pytest.mark.parametrize("cut", [0.3, 0.6, 1.0])
def test_replay_from_a_cut_store_reproduces_the_history(tmp_path: Path, cut: float) -> None:
    store = tmp_path / "s"
    with DurableEngine(store) as engine:
        work = Work()
        engine.register_function("work", work)
        sm = engine.create_state_machine("replay", DEFINITION)
        arn = engine.start_execution(sm, {"items": [1, 2, 3]}, name="r")
        first = engine.wait(arn, timeout=60)
        original = engine.history(arn)
    assert first["Status"] == "SUCCEEDED" and work.calls == 7
    keep = max(2, int(len(original) * cut) - (1 if cut == 1.0 else 0))
    _crash_at(store, arn, keep)
    with DurableEngine(store) as engine:
        again = Work()
        engine.register_function("work", again)
        engine.create_state_machine("replay", DEFINITION)
        assert engine.recover() == [arn]
        second = engine.wait(arn, timeout=60)
        replayed = engine.history(arn)
    assert second["Status"] == "SUCCEEDED" and second["Output"] == first["Output"]
    journaled_before_cut = sum(1 for e in original[:keep] if e["type"] == "LambdaFunctionSucceeded")
    assert again.calls <= 7 - journaled_before_cut + 1  # only tasks not yet journaled ran
    if cut == 1.0:
        assert again.calls == 0
    assert [e["id"] for e in replayed] == list(range(1, len(replayed) + 1))
    assert all(0 <= e["previousEventId"] < e["id"] for e in replayed)
    if again.calls == 0:  # nothing ran again: the very same events, none duplicated
        assert _shape(replayed) == _shape(original)
    assert os.path.exists(store / "engine.sqlite3")
