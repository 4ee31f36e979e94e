"""Redrive with AWS's semantics: restart from the failed state, rerun only what failed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from durable_helpers import SLOW, journaled_items, kbflow, log_lines, map_definition
from kbflow.errors import ExecutionNotRedrivable
from kbflow.runtime.durable import DurableEngine
from kbflow.runtime.execution import ExecutionRecord
from kbflow.runtime.redrive import check_redrivable, redrive_status
from kbflow.runtime.store import Store


def _run_items(tmp_path: Path, flow: Path, items: int, fail: int) -> tuple[list[str], Path]:
    log, flag = tmp_path / "calls.log", tmp_path / "flag"
    flag.write_text(str(fail))
    payload = {"items": list(range(items)), "log": str(log), "flag": str(flag), "sleep": 0.05}
    args = ["run", str(flow), "--input", json.dumps(payload), "--store", str(tmp_path / "s"),
            "--name", "redrive-me", "--function", SLOW, "--json"]
    return args, log


@pytest.mark.parametrize("distributed", [False, True], ids=["inline", "distributed"])
def test_cli_redrive_reruns_only_unsuccessful_items(tmp_path: Path, distributed: bool,
                                                    flow_file: Callable[..., Path]) -> None:
    flow = flow_file(map_definition(concurrency=2, distributed=distributed))
    args, log = _run_items(tmp_path, flow, 10, fail=4)
    first = kbflow(*args)
    assert first.returncode == 1
    failed = json.loads(first.stdout)
    assert failed["status"] == "FAILED"
    assert failed["error"] in ("ItemFailed", "States.ExceedToleratedFailureThreshold")
    succeeded = journaled_items(tmp_path / "s")  # aborted in-flight iterations rerun, as on AWS
    assert succeeded and 4 not in succeeded
    described = json.loads(kbflow("executions", "describe", "redrive-me", "--store",
                                  str(tmp_path / "s"), "--json").stdout)
    assert described["Status"] == "FAILED" and described["RedriveStatus"] == "REDRIVABLE"
    (tmp_path / "flag").unlink()  # the cause is fixed
    mark = len(log_lines(log))
    redriven = kbflow("executions", "redrive", "redrive-me", "--store", str(tmp_path / "s"),
                      "--function", SLOW, "--json")
    assert redriven.returncode == 0, redriven.stderr
    result = json.loads(redriven.stdout)
    assert set(result) == {"executionArn", "status", "output", "error", "cause"}
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == [{"item": i, "square": i * i} for i in range(10)]
    rerun = {int(x.split()[1]) for x in log_lines(log)[mark:] if x.startswith("start ")}
    assert 4 in rerun
    assert not rerun & succeeded, f"succeeded items ran again: {rerun & succeeded}"
    assert rerun | succeeded == set(range(10))
    store = Store(tmp_path / "s", readonly=True)
    record = store.find_execution("redrive-me")
    assert record is not None and record.redrive_count == 1 and record.status == "SUCCEEDED"
    types = [e["type"] for e in store.events(record.execution_arn)]
    assert types.count("ExecutionRedriven") == 1
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven")
    assert types[-1] == "ExecutionSucceeded"
    after = types[types.index("ExecutionRedriven"):]
    if not distributed:  # the rerun items show as new events after ExecutionRedriven
        assert after.count("TaskScheduled") == len(rerun)
        assert after.count("MapIterationSucceeded") == len(rerun)
    again = kbflow("executions", "redrive", "redrive-me", "--store", str(tmp_path / "s"),
                   "--function", SLOW)
    assert again.returncode == 1 and "ExecutionNotRedrivable" in again.stderr


# ---------------------------------------------------------------------------- engine API


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[DurableEngine]:
    with DurableEngine(tmp_path / "store") as eng:
        yield eng


class Flaky:
    """A handler failing for the names in ``failing``; counts calls per name."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls.append(event["name"])
        if event["name"] in self.failing:
            raise RuntimeError(f"{event['name']} is broken")
        return {"done": event["name"]}


def _task(name: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
            "Parameters": {"name": name}, **extra}


def test_parallel_redrive_reruns_only_the_failed_branch(engine: DurableEngine) -> None:
    flaky = Flaky()
    engine.register_function("flaky", flaky)
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "After", "Branches": [
            {"StartAt": "A", "States": {"A": _task("a", End=True)}},
            {"StartAt": "B", "States": {"B": _task("b", End=True)}}]},
        "After": {"Type": "Pass", "Parameters": {"results.$": "$",
                                                 "redrives.$": "$$.Execution.RedriveCount"},
                  "End": True}}}
    sm = engine.create_state_machine("par", definition)
    flaky.failing = {"b"}
    arn = engine.start_execution(sm, {}, name="p1")
    assert engine.wait(arn, timeout=30)["Status"] == "FAILED"
    assert sorted(flaky.calls) == ["a", "b"]
    flaky.failing = set()
    engine.redrive_execution(arn)
    described = engine.wait(arn, timeout=30)
    assert described["Status"] == "SUCCEEDED"
    assert described["RedriveCount"] == 1
    assert json.loads(described["Output"]) == {
        "results": [{"done": "a"}, {"done": "b"}], "redrives": 1}
    assert sorted(flaky.calls) == ["a", "b", "b"]
    events = engine.history(arn)
    redriven = [e for e in events if e["type"] == "ExecutionRedriven"]
    assert redriven and redriven[0]["executionRedrivenEventDetails"] == {"redriveCount": 1}


def test_caught_failures_are_not_rerun(engine: DurableEngine) -> None:
    flaky = Flaky()
    engine.register_function("flaky", flaky)
    definition = {"StartAt": "Try", "States": {
        "Try": _task("try", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Then"}],
                     Next="Then"),
        "Then": _task("then", End=True)}}
    sm = engine.create_state_machine("caught", definition)
    flaky.failing = {"try", "then"}
    arn = engine.start_execution(sm, {}, name="c1")
    assert engine.wait(arn, timeout=30)["Status"] == "FAILED"
    flaky.failing = set()
    engine.redrive_execution(arn)
    assert engine.wait(arn, timeout=30)["Status"] == "SUCCEEDED"
    assert flaky.calls == ["try", "then", "then"]  # the caught failure path is kept


def test_not_redrivable(engine: DurableEngine, tmp_path: Path) -> None:
    engine.register_function("flaky", Flaky())
    sm = engine.create_state_machine("ok", {"StartAt": "A", "States": {"A": _task("a", End=True)}})
    arn = engine.start_execution(sm, {}, name="fine")
    assert engine.wait(arn, timeout=30)["Status"] == "SUCCEEDED"
    with pytest.raises(ExecutionNotRedrivable, match="SUCCEEDED"):
        engine.redrive_execution(arn)
    fail = engine.create_state_machine("bad", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "Boom"}}})
    old = engine.start_execution(fail, {}, name="old")
    assert engine.wait(old, timeout=30)["Status"] == "FAILED"
    stopped = engine.clock.now() - timedelta(days=15)
    engine.store._write("UPDATE executions SET stop_date=? WHERE arn=?",
                        (stopped.timestamp(), old))
    with pytest.raises(ExecutionNotRedrivable, match="redrivable period exceeded"):
        engine.redrive_execution(old)
    with pytest.raises(ExecutionNotRedrivable) as info:
        engine.redrive_execution(old)
    assert info.value.code == "ExecutionNotRedrivable"


@pytest.mark.parametrize(("changes", "sm_type", "reason"), [
    ({"status": "RUNNING"}, "STANDARD", "Execution is RUNNING and cannot be redriven"),
    ({"status": "SUCCEEDED"}, "STANDARD", "Execution is SUCCEEDED and cannot be redriven"),
    ({}, "EXPRESS", "Express executions cannot be redriven"),
    ({"map_run_arn": "arn:mr", "parent_arn": "arn:p"}, "STANDARD", "redriven with their parent"),
    ({"stop_date": datetime(2020, 1, 1, tzinfo=UTC)}, "STANDARD",
     "Execution redrivable period exceeded"),
    ({"error": "States.Runtime",
      "cause": "The execution reached the maximum number of history events (25000)."},
     "STANDARD", "Execution history event limit exceeded"),
])
def test_redrive_restrictions(changes: dict[str, Any], sm_type: str, reason: str) -> None:
    now = datetime(2026, 1, 20, tzinfo=UTC)
    record = ExecutionRecord("arn:e", "arn:sm", "e", "{}", now - timedelta(days=1),
                             status="FAILED", stop_date=now - timedelta(hours=1))
    for key, value in changes.items():
        setattr(record, key, value)
    with pytest.raises(ExecutionNotRedrivable, match=reason):
        check_redrivable(record, sm_type, now)
    assert redrive_status(record, sm_type, now)[0] == "NOT_REDRIVABLE"


def test_timed_out_and_aborted_are_redrivable() -> None:
    now = datetime(2026, 1, 20, tzinfo=UTC)
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        record = ExecutionRecord("arn:e", "arn:sm", "e", "{}", now, status=status,
                                 stop_date=now - timedelta(days=13))
        assert redrive_status(record, "STANDARD", now) == ("REDRIVABLE", None)
