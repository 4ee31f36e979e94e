"""Payload templates (Parameters, ResultSelector, ItemSelector, Assign) in JSONPath mode."""

from __future__ import annotations

import random
from typing import Any

import pytest
from kbflow.errors import StatesError
from kbflow.runtime.asl.templates import (
    TemplateError,
    TemplateSyntaxError,
    compile_template,
)

INPUT = {"flagged": 7, "vals": [0, 10, 20], "name": "doc", "nested": {"k": "v"}, "u": "é"}
CONTEXT = {"Execution": {"Id": "arn:exec"}, "Map": {"Item": {"Value": 3}}}
VARS = {"x": {"y": 42}}


def render(template: Any, data: Any = INPUT, field: str = "Parameters") -> Any:
    return compile_template(template).render(data, CONTEXT, VARS, field=field, rng=random.Random(0))


def test_aws_docs_example() -> None:
    # "Parameters" example from the Step Functions developer guide (InputPath/Parameters).
    template = {
        "flagged": True,
        "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-1:]"},
        "weekday.$": "$$.Execution.Id",
        "formattedOutput.$": "States.Format('Hello, {}', $.name)",
    }
    assert render(template) == {
        "flagged": True,
        "parts": {"first": 0, "last3": [20]},
        "weekday": "arn:exec",
        "formattedOutput": "Hello, doc",
    }


def test_expands_inside_arrays_and_keeps_literals() -> None:
    template = {"list": [1, {"a.$": "$.name"}, [{"b.$": "$x.y"}], "$.not_a_path"], "n": None}
    assert render(template) == {"list": [1, {"a": "doc"}, [{"b": 42}], "$.not_a_path"], "n": None}


def test_static_template_is_returned_as_is() -> None:
    template = {"a": [1, {"b": "$.c"}]}
    compiled = compile_template(template)
    assert compiled.is_static
    assert compiled.render({}, {}, field="Parameters") is template


def test_non_object_templates() -> None:
    assert render([{"a.$": "$.flagged"}, 2]) == [{"a": 7}, 2]
    assert render("plain") == "plain"


def test_dynamic_values_from_all_roots_and_intrinsics() -> None:
    template = {
        "whole.$": "$",
        "ctx.$": "$$.Map.Item.Value",
        "var.$": "$x",
        "uuid.$": "States.UUID()",
        "sum.$": "States.MathAdd($.flagged, $x.y)",
        "wild.$": "$.vals[*]",
    }
    out = render(template)
    assert out["whole"] == INPUT and out["ctx"] == 3 and out["var"] == {"y": 42}
    assert out["sum"] == 49 and out["wild"] == [0, 10, 20] and len(out["uuid"]) == 36


def test_render_does_not_share_dynamic_results_between_calls() -> None:
    compiled = compile_template({"a": {"b.$": "$.name"}})
    first = compiled.render({"name": 1}, {}, field="Parameters")
    second = compiled.render({"name": 2}, {}, field="Parameters")
    assert first == {"a": {"b": 1}} and second == {"a": {"b": 2}}


def test_missing_path_error_is_worded_as_aws() -> None:
    with pytest.raises(TemplateError) as info:
        render({"outer": {"x.$": "$.missing"}}, data={"a": 1, "s": "é"})
    error = info.value
    assert isinstance(error, StatesError)
    assert error.error == "States.Runtime"
    assert error.cause == (
        "The JSONPath '$.missing' specified for the field 'x.$' could not be found in the "
        'input \'{"a":1,"s":"é"}\''
    )
    assert error.location == "Parameters/outer/x.$"


def test_missing_context_path_prints_the_context() -> None:
    with pytest.raises(TemplateError) as info:
        render({"x.$": "$$.Nope"}, field="ItemSelector")
    assert info.value.cause is not None and "'$$.Nope'" in info.value.cause
    assert info.value.location == "ItemSelector/x.$"


def test_intrinsic_errors_keep_their_name_and_gain_a_location() -> None:
    with pytest.raises(TemplateError) as info:
        render({"l": [{"x.$": "States.ArrayGetItem($.vals, 9)"}]}, field="ResultSelector")
    assert info.value.error == "States.Runtime"
    assert info.value.location == "ResultSelector/l[0]/x.$"
    assert info.value.cause is not None and "out of bounds" in info.value.cause


@pytest.mark.parametrize(
    "template",
    [
        {"x.$": 1},
        {"x.$": "no path"},
        {"x.$": "$.a["},
        {"a": [{"x.$": "States.Nope()"}]},
        {"x.$": "States.Format('{}'"},
    ],
)
def test_invalid_templates_fail_at_compile_time(template: Any) -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_template(template)
