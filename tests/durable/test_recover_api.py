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

from conftest import HERE, journaled_items, kill9, log_lines, map_definition, wait_for_ends

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
