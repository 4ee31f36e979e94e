"""``emit(parse(asl)) == asl``: on the corpus, the workloads and generated documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kbflow.runtime.asl.emit import emit
from kbflow.runtime.asl.errors import StatesErrorName, error_matches
from kbflow.runtime.asl.parse import parse

SHARED = Path(__file__).resolve().parents[4] / "shared"

names = st.text(alphabet="abcdefghijXYZ_", min_size=1, max_size=8)
paths = st.sampled_from(["$", "$.a", "$.a.b", "$['x y']", "$.items[0]"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(names, c, max_size=3),
    max_leaves=6,
)


@st.composite
def pass_states(draw: st.DrawFn, nxt: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Pass"}
    if draw(st.booleans()):
        state["Result"] = draw(json_values)
    if draw(st.booleans()):
        state["ResultPath"] = draw(st.none() | paths)
    if draw(st.booleans()):
        state["InputPath"] = draw(paths)
    if draw(st.booleans()):
        state["Comment"] = draw(st.text(max_size=10))
    if nxt is None:
        state["End"] = True
    else:
        state["Next"] = nxt
    return state


@st.composite
def machines(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 5))
    state_names = [f"S{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(state_names):
        nxt = state_names[i + 1] if i + 1 < count else None
        kind = draw(st.sampled_from(["pass", "task", "choice", "wait"])) if nxt else "pass"
        if kind == "task":
            states[name] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "MaxAttempts": draw(st.integers(0, 5)),
                        "BackoffRate": draw(st.sampled_from([1, 1.5, 2.0])),
                    }
                ],
                "Next": nxt,
            }
        elif kind == "choice":
            states[name] = {
                "Type": "Choice",
                "Default": nxt,
                "Choices": [
                    {
                        "Variable": draw(paths),
                        "NumericGreaterThan": draw(st.integers()),
                        "Next": nxt,
                    },
                    {
                        "Or": [
                            {"Variable": "$.a", "IsNull": True},
                            {"Not": {"Variable": "$.b", "StringMatches": "x*"}},
                        ],
                        "Next": nxt,
                    },
                ],
            }
        elif kind == "wait":
            states[name] = {"Type": "Wait", "Seconds": draw(st.integers(0, 9)), "Next": nxt}
        else:
            states[name] = draw(pass_states(nxt))
    doc: dict[str, Any] = {"StartAt": state_names[0], "States": states}
    if draw(st.booleans()):
        doc["Comment"] = draw(st.text(max_size=10))
    return doc


@st.composite
def jsonata_machines(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    names_ = [f"J{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(names_):
        state: dict[str, Any] = {"Type": "Pass"}
        if draw(st.booleans()):
            state["Output"] = draw(json_values | st.just("{% $states.input %}"))
        if draw(st.booleans()):
            state["Assign"] = {draw(names): draw(json_values | st.just("{% 1 + 2 %}"))}
        if i + 1 < count:
            state["Next"] = names_[i + 1]
        else:
            state["End"] = True
        states[name] = state
    return {"QueryLanguage": "JSONata", "StartAt": names_[0], "States": states}


@settings(max_examples=150, deadline=None)
@given(machines())
def test_round_trip_property(doc: dict[str, Any]) -> None:
    assert emit(parse(doc)) == doc


@settings(max_examples=60, deadline=None)
@given(jsonata_machines())
def test_round_trip_property_jsonata(doc: dict[str, Any]) -> None:
    assert emit(parse(doc)) == doc


def test_round_trip_on_corpus_and_workloads() -> None:
    files = sorted((SHARED / "conformance" / "cases").glob("*.json"))
    files += sorted((SHARED / "bench" / "workloads").glob("*.json"))
    if not files:
        import pytest

        pytest.skip("../shared is not present")
    for path in files:
        doc = json.loads(path.read_text())["definition"]
        assert emit(parse(doc)) == doc, path.name


def test_error_names_and_matching() -> None:
    assert StatesErrorName.TASK_FAILED == "States.TaskFailed"
    assert error_matches(["States.ALL"], "Lambda.Unknown")
    assert error_matches(["States.ALL"], "States.Timeout")
    assert not error_matches(["States.ALL"], "States.Runtime")
    assert not error_matches(["States.ALL"], "States.DataLimitExceeded")
    assert error_matches(["States.DataLimitExceeded"], "States.DataLimitExceeded")
    assert error_matches(["States.TaskFailed"], "CustomError")
    assert not error_matches(["States.TaskFailed"], "States.Timeout")
    assert error_matches(["A", "B"], "B") and not error_matches(["A"], "a")
