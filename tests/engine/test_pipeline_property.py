"""Property: chains of Pass states follow the JSONPath pipeline as the ASL spec defines it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine

values = st.integers(-3, 3) | st.text(alphabet="xyz", max_size=2)
objects = st.fixed_dictionaries({"a": st.dictionaries(st.sampled_from("abc"), values,
                                                       max_size=2)},
                                optional={"b": values})


@st.composite
def pass_states(draw: st.DrawFn) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Pass"}
    if draw(st.booleans()):
        state["InputPath"] = draw(st.sampled_from(["$", "$.a"]))
    if draw(st.booleans()):
        state["Result"] = draw(objects)
    choice = draw(st.sampled_from(["absent", "$", "$.r", "null"]))
    if choice != "absent":
        state["ResultPath"] = None if choice == "null" else choice
    return state


def reference(state: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The spec: InputPath selects, Result replaces, ResultPath places into the raw input."""
    effective = data["a"] if state.get("InputPath") == "$.a" else data
    result = state.get("Result", effective)
    if "ResultPath" not in state or state["ResultPath"] == "$":
        return result  # type: ignore[no-any-return]
    if state["ResultPath"] is None:
        return data
    return {**data, "r": result}


@pytest.fixture(scope="module")
def shared_engine() -> Iterator[Engine]:
    with Engine(clock=VirtualClock()) as engine:
        yield engine


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=objects, states=st.lists(pass_states(), min_size=1, max_size=5))
def test_pass_chain_matches_the_spec(shared_engine: Engine, start: dict[str, Any],
                                     states: list[dict[str, Any]]) -> None:
    expected: Any = start
    for state in states:
        if not isinstance(expected, dict) or "a" not in expected:
            return  # the reference would need a path the data lacks; covered elsewhere
        expected = reference(state, expected)
    names = [f"S{i}" for i in range(len(states))]
    body = {name: {**state, **({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})}
            for i, (name, state) in enumerate(zip(names, states, strict=True))}
    sm = shared_engine.create_state_machine("prop", {"StartAt": "S0", "States": body})
    described = shared_engine.wait(shared_engine.start_execution(sm, start), timeout=10)
    assert described["Status"] == "SUCCEEDED", described
    assert json.loads(described["Output"]) == expected
