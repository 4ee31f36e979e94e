"""Crash-safe resume: SIGKILL a `kbflow run` mid-Map and run it again with the same name."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from durable_helpers import (
    SLOW,
    journaled_items,
    kbflow,
    kill9,
    log_lines,
    map_definition,
    start_kbflow,
    wait_for_ends,
)
from kbflow.runtime.store import Store

ITEMS = 30


def _input(tmp_path: Path, log: Path, *, sleep: float = 0.1) -> str:
    return json.dumps({"items": list(range(ITEMS)), "log": str(log),
                       "flag": str(tmp_path / "no-flag"), "sleep": sleep})


def _kill_and_resume(tmp_path: Path, flow: Path, *, done_before_kill: int) -> tuple[
        dict[str, Any], list[str], list[str], set[int]]:
    log, store = tmp_path / "calls.log", tmp_path / "store"
    args = ["run", str(flow), "--input", _input(tmp_path, log), "--store", str(store),
            "--name", "resume-me", "--function", SLOW, "--json"]
    proc = start_kbflow(*args)
    wait_for_ends(log, done_before_kill, proc)
    kill9(proc)
    before = log_lines(log)
    journaled = journaled_items(tmp_path / "store")
    again = kbflow(*args)
    assert again.returncode == 0, again.stderr
    return json.loads(again.stdout), before, log_lines(log), journaled


def _check_no_completed_rerun(before: list[str], after: list[str], journaled: set[int],
                              in_flight: int) -> None:
    """No item the engine had recorded as completed runs again; only in-flight ones may.

    An item is in flight from its invocation until the engine commits its result; the handler
    may have logged ``end`` just before the kill without the result being committed, so those
    (at most ``in_flight`` of them) may run again, as Lambda's at-least-once retries do.
    """
    finished = {int(line.split()[1]) for line in before if line.startswith("end ")}
    started = {int(line.split()[1]) for line in before if line.startswith("start ")}
    rerun = Counter(int(line.split()[1]) for line in after[len(before):]
                    if line.startswith("start "))
    assert len(journaled) >= 3, "the kill came before anything was recorded"
    assert journaled <= finished
    assert not journaled & set(rerun), f"completed items invoked again: {journaled & set(rerun)}"
    assert set(rerun) | journaled == set(range(ITEMS))
    again = {i for i in rerun if i in started}
    assert again <= started - journaled
    assert len(again) <= in_flight, f"more items ran twice than were in flight: {again}"
    assert all(n == 1 for n in rerun.values())


@pytest.mark.parametrize("distributed", [False, True], ids=["inline", "distributed"])
def test_sigkill_mid_map_then_rerun_resumes(tmp_path: Path, flow_file: Callable[..., Path],
                                            distributed: bool) -> None:
    flow = flow_file(map_definition(concurrency=3, distributed=distributed))
    result, before, after, journaled = _kill_and_resume(tmp_path, flow, done_before_kill=6)
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == [{"item": i, "square": i * i} for i in range(ITEMS)]
    assert result["error"] is None and result["cause"] is None
    assert set(result) == {"executionArn", "status", "output", "error", "cause"}
    _check_no_completed_rerun(before, after, journaled, in_flight=3)
    store = Store(tmp_path / "store", readonly=True)
    events = store.events(result["executionArn"])
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"
    types = Counter(e["type"] for e in events)
    if not distributed:  # one of each per item: the history reads as one execution
        assert types["TaskSucceeded"] == ITEMS and types["TaskStarted"] == ITEMS
        assert types["MapIterationSucceeded"] == ITEMS
    else:
        assert types["MapRunStarted"] == 1
        map_runs = store.map_runs(result["executionArn"])
        assert len(map_runs) == 1  # the replayed Map Run kept its ARN
        assert map_runs[0]["status"] == "SUCCEEDED"
        assert map_runs[0]["counts"]["succeeded"] == ITEMS


def test_parallel_with_nested_map_resumes(tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    inner = map_definition(concurrency=2)["States"]["Items"]
    half = ITEMS // 2
    definition = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {**inner, "ItemsPath": "$.a"}}},
            {"StartAt": "B", "States": {"B": {**inner, "ItemsPath": "$.b"}}}]}}}
    flow = flow_file(definition)
    log, store = tmp_path / "calls.log", tmp_path / "store"
    payload = {"a": list(range(half)), "b": list(range(half, ITEMS)), "log": str(log),
               "flag": str(tmp_path / "no-flag"), "sleep": 0.1, "items": []}
    args = ["run", str(flow), "--input", json.dumps(payload), "--store", str(store),
            "--name", "par", "--function", SLOW, "--json"]
    proc = start_kbflow(*args)
    wait_for_ends(log, 5, proc)
    kill9(proc)
    before = log_lines(log)
    journaled = journaled_items(store)
    again = kbflow(*args)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)["output"]
    assert out == [[{"item": i, "square": i * i} for i in range(half)],
                   [{"item": i, "square": i * i} for i in range(half, ITEMS)]]
    _check_no_completed_rerun(before, log_lines(log), journaled, in_flight=4)


def test_rerun_of_a_live_execution_is_refused(tmp_path: Path,
                                              flow_file: Callable[..., Path]) -> None:
    flow = flow_file(map_definition(concurrency=1))
    log, store = tmp_path / "calls.log", tmp_path / "store"
    args = ["run", str(flow), "--input", _input(tmp_path, log), "--store", str(store),
            "--name", "busy", "--function", SLOW]
    proc = start_kbflow(*args)
    try:
        wait_for_ends(log, 1, proc)
        second = kbflow(*args)
        assert second.returncode == 1
        assert "ExecutionAlreadyExists" in second.stderr or "Already Exists" in second.stderr
        assert "live process" in second.stderr
    finally:
        kill9(proc)
