"""Single Pass-state cases recorded against AWS, replayed through templates and JSONata.

Covers the intrinsic-function suite (Parameters and its JSONata twin, Output) plus every other
corpus case made of one Pass state with only Parameters or only Output.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from asl_corpus import cases, context_object, matches
from kbflow.errors import StatesError
from kbflow.runtime.asl.jsonata import evaluate_template
from kbflow.runtime.asl.templates import compile_template


def _single_pass(field: str) -> list[Any]:
    found = []
    for case in cases("pass"):
        states = case["definition"]["States"]
        if len(states) != 1:
            continue
        ((name, state),) = states.items()
        extra = set(state) - {"Type", "End", "Comment", "QueryLanguage", field}
        if state["Type"] == "Pass" and field in state and not extra:
            found.append(pytest.param(case, name, state, id=case["id"]))
    return found


@pytest.mark.parametrize(("case", "name", "state"), _single_pass("Parameters"))
def test_parameters_match_aws(case: dict[str, Any], name: str, state: dict[str, Any]) -> None:
    template = compile_template(state["Parameters"])
    output = template.render(
        case["input"], context_object(case, name), {}, field="Parameters", rng=random.Random(7)
    )
    assert case["expected"]["status"] == "SUCCEEDED"
    assert matches(case["expected"]["output"], output), output


@pytest.mark.parametrize(("case", "name", "state"), _single_pass("Output"))
def test_jsonata_output_matches_aws(case: dict[str, Any], name: str, state: dict[str, Any]) -> None:
    states = {"input": case["input"], "context": context_object(case, name)}
    expected = case["expected"]
    if expected["status"] != "SUCCEEDED":
        with pytest.raises(StatesError) as info:
            evaluate_template(state["Output"], states, {}, field="Output")
        assert info.value.error == expected["error"]
        prefix = (
            f"An error occurred while executing the state '{name}' (entered at the event id #2). "
        )
        assert expected["cause"] == prefix + str(info.value.cause)
        return
    output = evaluate_template(state["Output"], states, {}, field="Output", rng=random.Random(7))
    assert matches(expected["output"], output), output
