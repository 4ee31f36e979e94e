"""The Wait state: Seconds, Timestamp, SecondsPath, TimestampPath (and their JSONata forms)."""

from __future__ import annotations

from typing import Any

from kbflow.errors import StatesError

from .asl import compare
from .asl import model as m
from .asl.jsonpath import compile_path
from .asl.model import Unset
from .dataflow import EvaluationFailed, render_jsonata, resolve_path
from .history import payload
from .interpreter import Frame, Interpreter, Outcome, register_runner
from .plan import StatePlan

__all__ = ["run_wait"]

JSON = Any
_QUERY = "States.QueryEvaluationError"


@register_runner("Wait")
async def run_wait(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                   ctx: dict[str, JSON]) -> Outcome:
    """Wait for a number of seconds or until a timestamp, on the engine's clock."""
    state = plan.state
    assert isinstance(state, m.Wait)
    pipe = plan.pipeline
    variables = frame.variables
    if plan.jsonata:
        states = {"input": data, "context": ctx}
        seconds = _jsonata_seconds(state, states, variables, frame)
        output, assigned = pipe.finish_jsonata(states, data, variables)
        await frame.run.sleep(seconds)
        return Outcome(output, plan.next, assigned)
    effective = pipe.select_input(data, ctx, variables)
    seconds = _jsonpath_seconds(state, effective, ctx, variables, frame)
    assigned = None
    if pipe.has_assign:
        assigned = pipe.assign.render(effective, ctx, variables, field="Assign")
    await frame.run.sleep(seconds)
    return Outcome(pipe.select_output(effective, ctx, variables), plan.next, assigned)


def _jsonpath_seconds(state: m.Wait, data: JSON, ctx: JSON, variables: Any, frame: Frame) -> float:
    if isinstance(state.seconds, int):
        return float(state.seconds)
    if isinstance(state.timestamp, str):
        return _until(state.timestamp, frame, "Timestamp", runtime=True)
    if isinstance(state.seconds_path, str):
        value = resolve_path(compile_path(state.seconds_path), data, ctx, variables)
        shown = f"{state.seconds_path} == {payload(value)}"
        if not isinstance(value, int) or isinstance(value, bool):
            raise StatesError("States.Runtime",
                              "The SecondsPath parameter cannot be parsed as a long value: "
                              f"{shown}")
        if value < 0:
            raise StatesError("States.Runtime",
                              f"The SecondsPath parameter references a negative value: {shown}")
        return float(value)
    assert isinstance(state.timestamp_path, str)
    value = resolve_path(compile_path(state.timestamp_path), data, ctx, variables)
    if not isinstance(value, str) or compare.parse_timestamp(value) is None:
        raise StatesError(
            "States.Runtime",
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {state.timestamp_path} == {payload(value)}")
    return _until(value, frame, "TimestampPath", runtime=True)


def _jsonata_seconds(state: m.Wait, states: Any, variables: Any, frame: Frame) -> float:
    if not isinstance(state.seconds, Unset):
        value = render_jsonata(state.seconds, states, variables, "Seconds")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0 or (
                isinstance(value, float) and not value.is_integer()):
            raise EvaluationFailed(_QUERY, _bad_seconds(state.seconds, value), location="Seconds")
        return float(value)
    value = render_jsonata(state.timestamp, states, variables, "Timestamp")
    if not isinstance(value, str):
        raise EvaluationFailed(
            _QUERY, "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
            f"date-time format string: {payload(value)}", location="Timestamp")
    return _until(value, frame, "Timestamp", runtime=False)


def _bad_seconds(expr: Any, value: Any) -> str:
    return (f"The JSONata expression '{str(expr)[2:-2].strip()}' specified for the field "
            f"'Seconds' returned an unexpected result type. Expected 'integer', but was "
            f"'{type(value).__name__}' for value: {payload(value)}")


def _until(text: str, frame: Frame, field: str, *, runtime: bool) -> float:
    when = compare.parse_timestamp(text)
    if when is None:
        message = ("The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                   f"date-time format string: {text}")
        if runtime:
            raise StatesError("States.Runtime", message)
        raise EvaluationFailed(_QUERY, message, location=field)
    return max(0.0, (when - frame.run.clock.now()).total_seconds())
