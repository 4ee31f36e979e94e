"""Definition-time checks: every expression compiles at CreateStateMachine, or the definition
is rejected with every problem located by a JSON pointer."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import pytest
from kbflow.errors import DefinitionError
from kbflow.runtime.asl.parse import parse
from kbflow.runtime.engine import Engine


def _pointers(definition: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DefinitionError) as info:
        parse(definition)
    return {p.pointer: p.message for p in info.value.problems}


def _pass(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, **fields}}}


def test_every_bad_jsonpath_expression_is_reported_at_its_field() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.a[", "ResultPath": "$.a[*]",
              "Parameters": {"ok.$": "$.x", "bad.$": "$..[", "nested": {"fn.$": "States.Nope(1)"},
                             "list": [{"v.$": "States.Format('{}'"}]},
              "Next": "C"},
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.x[", "StringEquals": "a", "Next": "F"},
            {"And": [{"Variable": "$.y", "NumericEqualsPath": "$.z["}],
             "Next": "F"}],
            "Default": "F"},
        "F": {"Type": "Fail", "ErrorPath": "States.Format(", "CausePath": "$.c"},
    }}
    problems = _pointers(definition)
    assert set(problems) == {
        "/States/A/InputPath", "/States/A/ResultPath", "/States/A/Parameters/bad.$",
        "/States/A/Parameters/nested/fn.$", "/States/A/Parameters/list/0/v.$",
        "/States/C/Choices/0/Variable", "/States/C/Choices/1/And/0/NumericEqualsPath",
        "/States/F/ErrorPath",
    }, problems
    assert "Reference Path" in problems["/States/A/ResultPath"]
    assert "Nope" in problems["/States/A/Parameters/nested/fn.$"]


def test_nested_scopes_and_templates_of_map_parallel_and_catch() -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items[", "ItemSelector": {"v.$": "$$.Map.Item.Value["},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {
            "Type": "Parallel", "End": True, "Branches": [{"StartAt": "X", "States": {
                "X": {"Type": "Pass", "Parameters": {"r.$": "$.["}, "End": True}}}]}}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err[", "Next": "D"}],
        "Next": "D"}, "D": {"Type": "Succeed"}}}
    assert set(_pointers(definition)) == {
        "/States/M/ItemsPath", "/States/M/ItemSelector/v.$",
        "/States/M/ItemProcessor/States/P/Branches/0/States/X/Parameters/r.$",
        "/States/M/Catch/0/ResultPath"}


def test_literal_fields_are_not_compiled() -> None:
    parse(_pass(Result={"InputPath": "not a path", "x.$": "nor this"}, Comment="$[",
                Parameters={"OutputPath": "literal in a payload"}))


def test_jsonata_expressions_are_compiled() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"ok": "{% 1 + 1 %}", "bad": "{% 1 + %}",
                                         "list": ["{% ( %}"]},
              "Assign": {"v": "{% $states.input. %}"}, "Comment": "{% not compiled ( %}",
              "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = %}", "Next": "E"}],
              "Default": "E"},
        "E": {"Type": "Pass", "QueryLanguage": "JSONPath", "Parameters": {"x.$": "$["},
              "End": True},
    }}
    problems = _pointers(definition)
    assert set(problems) == {"/States/A/Output/bad", "/States/A/Output/list/0",
                             "/States/A/Assign/v", "/States/C/Choices/0/Condition",
                             "/States/E/Parameters/x.$"}
    assert problems["/States/A/Output/bad"].startswith("invalid JSONata expression '1 +': ")


def test_states_is_a_reserved_variable_name() -> None:
    assert set(_pointers(_pass(Assign={"states.$": "$.a", "ok": 1}))) == {
        "/States/A/Assign/states.$"}
    jsonata = {"QueryLanguage": "JSONata", **_pass(Assign={"states": 1})}
    assert set(_pointers(jsonata)) == {"/States/A/Assign/states"}


def test_create_state_machine_raises_one_error_with_every_problem() -> None:
    with Engine() as engine, pytest.raises(DefinitionError) as info:
        engine.create_state_machine("bad", _pass(InputPath="$[", OutputPath="$.]"))
    assert [p.pointer for p in info.value.problems] == ["/States/A/InputPath",
                                                         "/States/A/OutputPath"]


def test_all_conformance_and_project_definitions_still_parse() -> None:
    here = Path(__file__).resolve()
    corpus = here.parents[3] / "shared" / "conformance" / "cases"
    files = sorted(glob.glob(str(corpus / "*.json")))
    for name in files:
        definition = json.loads(Path(name).read_text())["definition"]
        parse(json.loads(definition) if isinstance(definition, str) else definition)
    for name in sorted(glob.glob(str(here.parents[2] / "definitions" / "*.asl.json"))):
        parse(json.loads(Path(name).read_text()))
    assert len(files) in (0, 695)
