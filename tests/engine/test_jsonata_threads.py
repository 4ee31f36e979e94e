"""JSONata expressions are compiled per thread (jsonatapy objects are bound to their thread)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from engine_helpers import run_machine
from kbflow.runtime.asl import jsonata as jx
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine

EXPR = "$states.input.a + $x"


def _on_thread(fn: Callable[[], Any]) -> Any:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_an_expression_compiled_here_evaluates_on_another_thread() -> None:
    expr = jx.compile_expression(EXPR)
    assert expr.evaluate({"input": {"a": 1}}, {"x": 2}) == 3
    assert _on_thread(lambda: expr.evaluate({"input": {"a": 2}}, {"x": 2})) == 4
    other = _on_thread(lambda: jx.compile_expression("$x * 10"))
    assert other.evaluate({}, {"x": 3}) == 30


def test_now_with_a_picture_works_on_any_thread() -> None:
    # $now(picture) used module-level compiled objects bound to the importing thread.
    text = "$now('[Y0001]')"
    value = _on_thread(lambda: jx.compile_expression(text).evaluate({}, {}, now_millis=0))
    assert value == "1970"


def test_the_per_thread_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jx, "THREAD_CACHE_SIZE", 3)

    def fill() -> int:
        for i in range(10):
            jx.compile_expression(f"{i} + 100").evaluate({}, {})
        return len(jx._THREAD_CACHE.compiled)

    assert _on_thread(fill) == 3


MACHINE = {
    "QueryLanguage": "JSONata",
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Assign": {"x": 2}, "Next": "B"},
        "B": {"Type": "Pass", "Output": {"sum": "{% " + EXPR + " %}",
                                        "year": "{% $now('[Y0001]') %}"}, "End": True},
    },
}


def test_the_same_expression_runs_on_two_engines_and_the_test_thread() -> None:
    assert jx.compile_expression(EXPR).evaluate({"input": {"a": 0}}, {"x": 1}) == 1
    for _ in range(2):  # two engines, one thread each, and the same expressions
        with Engine(clock=VirtualClock()) as engine:
            described, _ = run_machine(engine, MACHINE, {"a": 1})
            assert described["Status"] == "SUCCEEDED", described
            assert json.loads(described["Output"])["sum"] == 3


DROP_SCRIPT = """
import threading
from kbflow.runtime.asl import jsonata as jx
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine
expr = jx.compile_expression("$x + 1")
t = threading.Thread(target=lambda: expr.evaluate({}, {"x": 1}))
t.start(); t.join()
open_engine = Engine(clock=VirtualClock())   # never closed: its daemon thread keeps its cache
sm = open_engine.create_state_machine("m", {"QueryLanguage": "JSONata", "StartAt": "A",
    "States": {"A": {"Type": "Pass", "Output": "{% $x + 1 %}", "Assign": {}, "End": True}}})
open_engine.wait(open_engine.start_execution(sm, {}), timeout=10)
with Engine(clock=VirtualClock()) as closed:
    sm = closed.create_state_machine("m", {"QueryLanguage": "JSONata", "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Output": "{% 1 + 1 %}", "End": True}}})
    closed.wait(closed.start_execution(sm, {}), timeout=10)
print(expr.evaluate({}, {"x": 2}))
"""


def test_no_expression_is_dropped_on_another_thread_at_exit() -> None:
    done = subprocess.run([sys.executable, "-c", DROP_SCRIPT], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert "dropped on another thread" not in done.stderr
    assert done.stderr == ""


def test_now_and_millis_read_the_engine_clock() -> None:
    from datetime import UTC, datetime

    clock = VirtualClock(datetime(2020, 2, 2, 12, 0, tzinfo=UTC))
    clock.advance(3600 * 24 * 400)  # virtual time, far from the real time
    with Engine(clock=clock) as engine:
        described, _ = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "A",
                                            "States": {"A": {"Type": "Pass", "Output": {
                                                "now": "{% $now() %}", "ms": "{% $millis() %}"},
                                                "End": True}}})
    out = json.loads(described["Output"])
    assert out["now"].startswith("2021-03-08T12:00:00")
    assert out["ms"] == int(clock.now().timestamp() * 1000)
