"""The DurableEngine API: recover() after a crash, remaining Wait time, store-backed reads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from durable_helpers import HERE, journaled_items, kill9, log_lines, map_definition, wait_for_ends
from kbflow.runtime.durable import DurableEngine

SCRIPT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    from durable_handlers import slow_item
    from kbflow.runtime.durable import DurableEngine
    engine = DurableEngine(sys.argv[1])
    engine.register_function("slow", slow_item, timeout_seconds=30)
    sm = engine.create_state_machine("flow", json.loads(sys.argv[2]))
    arn = engine.start_execution(sm, json.loads(sys.argv[4]))
    print(arn, flush=True)
    engine.wait(arn)
""")


def _start(store: Path, definition: dict[str, Any], payload: dict[str, Any]) -> Any:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(store), json.dumps(definition),
                             str(HERE), json.dumps(payload)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_recover_resumes_orphans_and_reads_come_from_the_store(tmp_path: Path,
                                                               handlers_on_path: None) -> None:
    from durable_handlers import slow_item

    log, store = tmp_path / "calls.log", tmp_path / "s"
    payload = {"items": list(range(12)), "log": str(log), "flag": "", "sleep": 0.05}
    proc = _start(store, map_definition(concurrency=2), payload)
    assert proc.stdout is not None
    arn = proc.stdout.readline().strip()
    wait_for_ends(log, 4, proc)
    kill9(proc)
    done = journaled_items(store)
    before = len(log_lines(log))
    with DurableEngine(store) as engine:
        engine.register_function("slow", slow_item, timeout_seconds=30)
        sm = engine.create_state_machine("flow", map_definition(concurrency=2))
        assert [e["status"] for e in engine.list_executions(sm)] == ["RUNNING"]
        assert engine.recover() == [arn]
        out = engine.wait(arn, timeout=60)
        assert out["Status"] == "SUCCEEDED"
        assert json.loads(out["Output"]) == [{"item": i, "square": i * i} for i in range(12)]
        assert engine.recover() == []
    rerun = {int(x.split()[1]) for x in log_lines(log)[before:] if x.startswith("start ")}
    assert not rerun & done
    with DurableEngine(store) as engine:  # a later process reads what the store holds
        sm = engine.create_state_machine("flow", map_definition(concurrency=2))
        listed = engine.list_executions(sm)
        assert [(e["executionArn"], e["status"]) for e in listed] == [(arn, "SUCCEEDED")]
        assert engine.describe_execution(arn)["Status"] == "SUCCEEDED"
        page = engine.get_execution_history(arn, max_results=10)
        assert [e["id"] for e in page["events"]] == list(range(1, 11))
        rest = engine.get_execution_history(arn, max_results=1000, next_token=page["nextToken"])
        assert rest["events"][-1]["type"] == "ExecutionSucceeded"
        newest = engine.get_execution_history(arn, reverse_order=True, max_results=1)
        assert newest["events"][0]["type"] == "ExecutionSucceeded"


def test_a_wait_that_elapsed_while_dead_is_not_waited_again(
        tmp_path: Path, flow_file: Callable[..., Path], handlers_on_path: None) -> None:
    from durable_handlers import echo

    definition = {"StartAt": "Hello", "States": {
        "Hello": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow",
                  "Parameters": {"item": 1, "log.$": "$.log", "sleep": 0}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Bye"},
        "Bye": {"Type": "Pass", "End": True}}}
    log, store = tmp_path / "calls.log", tmp_path / "s"
    proc = _start(store, definition, {"log": str(log)})
    assert proc.stdout is not None
    arn = proc.stdout.readline().strip()
    wait_for_ends(log, 1, proc)
    time.sleep(0.5)  # inside the Wait
    kill9(proc)
    time.sleep(3)  # the Wait's time passes while nobody runs the execution
    with DurableEngine(store) as engine:
        engine.register_function("slow", echo)
        engine.create_state_machine("flow", definition)
        start = time.monotonic()
        engine.recover()
        assert engine.wait(arn, timeout=30)["Status"] == "SUCCEEDED"
        assert time.monotonic() - start < 2.0  # not another 3 s
        history = engine.history(arn)
        events = {e["type"]: e for e in history}
    waited = events["WaitStateExited"]["timestamp"] - events["WaitStateEntered"]["timestamp"]
    assert waited.total_seconds() >= 3.0
    # the task before the Wait ran once (echo, registered after the crash, never ran)
    assert [e["type"] for e in history].count("LambdaFunctionScheduled") == 1
    assert json.loads(events["LambdaFunctionSucceeded"]["lambdaFunctionSucceededEventDetails"][
        "output"]) == {"item": 1, "square": 1}


def test_close_releases_running_executions_for_another_engine(tmp_path: Path) -> None:
    import threading

    gate = threading.Event()
    calls: list[str] = []

    def blocked(event: Any, context: Any) -> Any:
        calls.append("blocked")
        gate.wait(10)
        return "late"

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:t",
        "End": True}}}
    engine = DurableEngine(tmp_path / "s")
    engine.register_function("t", blocked, timeout_seconds=30)
    sm = engine.create_state_machine("flow", definition)
    arn = engine.start_execution(sm, {}, name="handover")
    deadline = time.monotonic() + 10
    while not calls:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    engine.close()  # the task is still running: the execution is abandoned, not finished
    gate.set()
    with DurableEngine(tmp_path / "s") as second:
        second.register_function("t", lambda event, context: "fresh")
        sm = second.create_state_machine("flow", definition)
        assert second.start_execution(sm, {}, name="handover") == arn  # resumed, not refused
        out = second.wait(arn, timeout=30)
    assert out["Status"] == "SUCCEEDED" and json.loads(out["Output"]) == "fresh"


def test_a_resumed_execution_keeps_its_definition_version(tmp_path: Path,
                                                          handlers_on_path: None) -> None:
    from durable_handlers import slow_item

    log, store = tmp_path / "calls.log", tmp_path / "s"
    payload = {"items": list(range(6)), "log": str(log), "flag": "", "sleep": 0.1}
    proc = _start(store, map_definition(concurrency=1), payload)
    assert proc.stdout is not None
    arn = proc.stdout.readline().strip()
    wait_for_ends(log, 2, proc)
    kill9(proc)
    changed = map_definition(concurrency=1)
    changed["States"]["Items"]["ResultSelector"] = {"changed": True}  # version 2
    with DurableEngine(store) as engine:
        engine.register_function("slow", slow_item, timeout_seconds=30)
        sm = engine.create_state_machine("flow", changed)
        assert engine.store.state_machine(sm)["version"] == 2
        engine.recover()
        out = engine.wait(arn, timeout=60)
        assert json.loads(out["Output"]) == [{"item": i, "square": i * i} for i in range(6)]
        fresh = engine.start_execution(sm, payload)
        assert json.loads(engine.wait(fresh, timeout=60)["Output"]) == {"changed": True}


def test_wait_and_stop_reach_executions_of_another_process(tmp_path: Path) -> None:
    log, store = tmp_path / "calls.log", tmp_path / "s"
    payload = {"items": list(range(40)), "log": str(log), "flag": "", "sleep": 0.1}
    proc = _start(store, map_definition(concurrency=1), payload)
    assert proc.stdout is not None
    arn = proc.stdout.readline().strip()
    try:
        wait_for_ends(log, 1, proc)
        with DurableEngine(store) as engine:
            with pytest.raises(TimeoutError):
                engine.wait(arn, timeout=0.3)
            engine.stop_execution(arn, cause="from elsewhere")
            out = engine.wait(arn, timeout=30)
        assert out["Status"] == "ABORTED" and out["Cause"] == "from elsewhere"
    finally:
        proc.kill()
        proc.communicate(timeout=30)


NESTED = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[2])
    from durable_handlers import slow_item
    from kbflow.runtime.durable import DurableEngine
    engine = DurableEngine(sys.argv[1])
    engine.register_function("slow", slow_item, timeout_seconds=30)
    child = engine.create_state_machine("child", json.loads(sys.argv[3]))
    parent = engine.create_state_machine("parent", json.loads(sys.argv[4]))
    arn = engine.start_execution(parent, json.loads(sys.argv[5]), name="outer")
    print(arn, flush=True)
    engine.wait(arn)
""")


def test_nested_sync_execution_resumes_with_its_parent(tmp_path: Path,
                                                       handlers_on_path: None) -> None:
    from durable_handlers import slow_item

    child = map_definition(concurrency=1)
    parent = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn":
                       "arn:aws:states:us-east-1:123456789012:stateMachine:child",
                       "Input.$": "$"},
        "OutputPath": "$.Output", "End": True}}}
    log, store = tmp_path / "calls.log", tmp_path / "s"
    payload = {"items": list(range(8)), "log": str(log), "flag": "", "sleep": 0.1}
    proc = subprocess.Popen([sys.executable, "-c", NESTED, str(store), str(HERE),
                             json.dumps(child), json.dumps(parent), json.dumps(payload)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    arn = proc.stdout.readline().strip()
    wait_for_ends(log, 3, proc)
    kill9(proc)
    done = journaled_items(store)
    before = len(log_lines(log))
    with DurableEngine(store) as engine:
        engine.register_function("slow", slow_item, timeout_seconds=30)
        engine.create_state_machine("child", child)
        sm = engine.create_state_machine("parent", parent)
        assert engine.start_execution(sm, payload, name="outer") == arn
        out = engine.wait(arn, timeout=60)
        assert out["Status"] == "SUCCEEDED", out
        assert json.loads(out["Output"]) == [{"item": i, "square": i * i} for i in range(8)]
        children = engine.store.executions(state_machine_arn=(
            "arn:aws:states:us-east-1:123456789012:stateMachine:child"))
    assert [c.status for c in children] == ["SUCCEEDED"]  # the same child, resumed
    rerun = {int(x.split()[1]) for x in log_lines(log)[before:] if x.startswith("start ")}
    assert done and not rerun & done
