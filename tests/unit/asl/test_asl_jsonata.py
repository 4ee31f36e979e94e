"""JSONata glue: bindings, undefined/null, AWS functions, templates and AWS error texts."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from kbflow.errors import StatesError
from kbflow.runtime.asl.jsonata import (
    UNDEFINED,
    JsonataError,
    JsonataSyntaxError,
    QueryEvaluationError,
    compile_expression,
    evaluate_template,
    expect_type,
    is_jsonata,
    strip_jsonata,
)

STATES: dict[str, Any] = {
    "input": {"input_value": "string literal", "input_values": [1, 2, 3]},
    "context": {"Execution": {"Name": "exec"}},
    "result": {"r": 1},
}
VARS = {"var_constant_1": 1, "obj": {"k": [1, 2]}}


def ev(text: str, **kw: Any) -> Any:
    return compile_expression(text).evaluate(STATES, VARS, **kw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $x %}", True),
        ("{%%}", True),
        (" {% $x %}", False),
        ("{% $x %} ", False),
        ("{% $x", False),
        ("$.x", False),
        (5, False),
        (None, False),
    ],
)
def test_is_jsonata(value: Any, expected: bool) -> None:
    assert is_jsonata(value) is expected


def test_strip_jsonata() -> None:
    assert strip_jsonata("{%  $states.input \n%}") == "$states.input"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$sum($states.input.input_values) + $var_constant_1", 7),
        ("$states.input.input_value", "string literal"),
        ("$states.context.Execution.Name", "exec"),
        ("$states.result.r", 1),
        ("$obj.k[1]", 2),
        ("1.5 * 2", 3),
        ("10 / 4", 2.5),
        ("null", None),
        ("[0]", [0]),
        ('$contains("hello$world", /^hello\\$/)', True),
        ("$partition([0, 1, 2, 3], 3)", [[0, 1, 2], [3]]),
        ("$partition([0], 2)", [[0]]),
        ("$range(0, 10, 3)", [0, 3, 6, 9]),
        ("$range(1, 9, 9)", 1),  # a one-item sequence collapses, as on AWS
        ("$range(5, 1, -2)", [5, 3, 1]),
        (
            '$hash("Hash this string", "SHA-256")',
            "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e",
        ),
        ('$hash("abc", "MD5")', "900150983cd24fb0d6963f7d28e17f72"),
        ('$parse("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ('$parse("-0")', 0),
    ],
)
def test_evaluate(text: str, expected: Any) -> None:
    result = ev(text)
    assert result == expected and type(result) is type(expected)


def test_undefined_is_distinct_from_null() -> None:
    assert ev("$doesNotExist") is UNDEFINED
    assert ev("$states.input.nope") is UNDEFINED
    assert ev("null") is None
    assert ev('{"a": $states.input.nope}') == {}


def test_random_and_uuid_use_the_given_rng() -> None:
    first = ev("[$random(), $uuid()]", rng=random.Random(5))
    again = ev("[$random(), $uuid()]", rng=random.Random(5))
    assert first == again
    assert 0 <= first[0] < 1 and uuid.UUID(first[1]).version == 4
    assert ev("$random(7)") == ev("$random(7)")


def test_time_comes_from_now_millis() -> None:
    assert ev("$millis()", now_millis=1_700_000_000_123) == 1_700_000_000_123
    assert ev("$now()", now_millis=1_000) == "1970-01-01T00:00:01.000Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"a" + 1', "T2001: The left side of the + operator must evaluate to a number"),
        ('$eval("1 + 1")', "T1006: Attempted to invoke a non-function"),
        ("$partition([1], 0)", "D3101: The chunk size argument of $partition must be positive"),
        ("$range(0, 5000, 1)", "D3102: $range cannot produce more than 1000 items"),
        ('$hash("a", "SHA-2")', "D3103: The hashing algorithm 'SHA-2' is not supported"),
        ('$parse("{bad")', "D3104: The string '{bad' is not valid JSON"),
        ('$parse("NaN")', "D3104: The string 'NaN' is not valid JSON"),
        ("$range(1)", 'T0410: Argument 1 of function "range" does not match function signature'),
        ("$uuid(1)", 'T0410: Argument 1 of function "uuid" does not match function signature'),
    ],
)
def test_evaluation_errors_carry_jsonata_text(text: str, message: str) -> None:
    with pytest.raises(JsonataError) as info:
        ev(text)
    assert info.value.message.startswith(message)


def test_syntax_errors_are_raised_when_compiling() -> None:
    with pytest.raises(JsonataSyntaxError):
        compile_expression("1 +")


def test_compile_is_cached() -> None:
    assert compile_expression("$x") is compile_expression("$x")


# --------------------------------------------------------------------------- AWS messages


def test_undefined_field_message() -> None:
    with pytest.raises(QueryEvaluationError) as info:
        compile_expression("$doesNotExist").evaluate_field(STATES, VARS, field="Assign/result")
    error = info.value
    assert isinstance(error, StatesError) and error.error == "States.QueryEvaluationError"
    assert error.location == "Assign/result"
    assert error.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' "
        "returned nothing (undefined)."
    )


def test_function_result_is_unsupported() -> None:
    with pytest.raises(QueryEvaluationError) as info:
        compile_expression("$fn := function($x){$x}").evaluate_field(STATES, {}, field="Items")
    assert info.value.cause == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
        "returned an unsupported result type."
    )


def test_coded_error_message_follows_a_full_stop() -> None:
    with pytest.raises(QueryEvaluationError) as info:
        compile_expression('"a" + 1').evaluate_field(STATES, {}, field="Output")
    assert info.value.cause == (
        "The JSONata expression '\"a\" + 1' specified for the field 'Output' threw an error "
        "during evaluation. T2001: The left side of the + operator must evaluate to a number"
    )


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (True, "boolean", "true"),
        (None, "null", "null"),
        (1, "number", "1"),
        ({"foo": "bar"}, "object", '{"foo":"bar"}'),
        ("string", "string", '"string"'),
    ],
)
def test_expect_type_message(value: Any, kind: str, shown: str) -> None:
    with pytest.raises(QueryEvaluationError) as info:
        expect_type(value, "array", "expr", field="Items")
    assert info.value.cause == (
        "The JSONata expression 'expr' specified for the field 'Items' returned an unexpected "
        f"result type. Expected 'array', but was '{kind}' for value: {shown}"
    )
    assert expect_type([1], "array", "expr", field="Items") == [1]
    assert expect_type(2.0, "integer", "expr", field="MaxConcurrency") == 2.0


# --------------------------------------------------------------------------- templates


def test_evaluate_template_walks_objects_and_arrays() -> None:
    template = {
        "a": "{% $states.input.input_value %}",
        "lst": [None, 0, 0.1, True, " {% states.input %} ", "$states.input", "{% [1, 2] %}"],
        "nested": {"b": "{% $var_constant_1 + 1 %}"},
        "plain": "$.x",
    }
    assert evaluate_template(template, STATES, VARS, field="Output") == {
        "a": "string literal",
        "lst": [None, 0, 0.1, True, " {% states.input %} ", "$states.input", [1, 2]],
        "nested": {"b": 2},
        "plain": "$.x",
    }


def test_evaluate_template_locations() -> None:
    with pytest.raises(QueryEvaluationError) as info:
        evaluate_template({"a": [1, {"b": "{% $nope %}"}]}, STATES, VARS, field="Arguments")
    assert info.value.location == "Arguments/a[1]/b"
    with pytest.raises(QueryEvaluationError) as info:
        evaluate_template("{% $nope %}", STATES, VARS, field="Output")
    assert info.value.location == "Output"


def test_literal_template_is_returned_unchanged() -> None:
    assert evaluate_template(5, STATES, VARS, field="Output") == 5
    assert evaluate_template("text", STATES, VARS, field="Output") == "text"


def test_now_with_a_picture_formats_the_injected_time() -> None:
    day = 86_400_000 * 365
    assert ev('$now("[Y0001]-[M01]")', now_millis=day) == "1971-01"
    assert ev('$now("[H01]:[m01]", "+0100")', now_millis=day) == "01:00"


@pytest.mark.parametrize("text", ["1/0", "[1, {'a': -1/0}]"])
def test_non_finite_numbers_are_out_of_range(text: str) -> None:
    with pytest.raises(JsonataError, match="D1001"):
        ev(text)
