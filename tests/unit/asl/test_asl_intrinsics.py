"""Intrinsic functions: parser, every function, errors, property tests of the parser."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kbflow.errors import StatesError
from kbflow.runtime.asl.intrinsics import (
    IntrinsicCall,
    IntrinsicSyntaxError,
    JavaRandom,
    Literal,
    PathArg,
    StringLit,
    argument_kinds,
    evaluate,
    is_intrinsic,
    java_round,
    java_string,
    json_equal,
    parse_intrinsic,
)

DATA: dict[str, Any] = {
    "arr": [1, 2, 3, 4, 5],
    "s": "Hello World",
    "o": {"a": 1, "b": [1, "x"]},
    "n": 2,
    "f": 1.5,
}
CONTEXT = {"StateMachine": {"Name": "my-state-machine"}}


def run(text: str, data: Any = DATA, variables: dict[str, Any] | None = None) -> Any:
    return evaluate(text, data, CONTEXT, variables or {}, rng=random.Random(3))


# --------------------------------------------------------------------------- parser


def test_parse_builds_an_ast() -> None:
    call = parse_intrinsic("States.Format('a\\'{}', $.x, 1, -2.5, true, null, States.UUID())")
    assert call.name == "States.Format"
    first, path, one, neg, true, null, inner = call.args
    assert first == StringLit("a'{}", "a\\'{}")
    assert isinstance(path, PathArg) and path.path.text == "$.x"
    assert [one, neg, true, null] == [Literal(1), Literal(-2.5), Literal(True), Literal(None)]
    assert isinstance(inner, IntrinsicCall) and inner.name == "States.UUID"
    assert inner.text == "States.UUID()"


def test_parse_accepts_paths_with_brackets_commas_and_spaces() -> None:
    call = parse_intrinsic("States.Array( $['a,b'] , $.l[0,1] ,$$.Execution.Id,$var.y )")
    texts = [a.path.text for a in call.args if isinstance(a, PathArg)]
    assert texts == ["$['a,b']", "$.l[0,1]", "$$.Execution.Id", "$var.y"]


def test_parse_is_cached() -> None:
    assert parse_intrinsic("States.UUID()") is parse_intrinsic("States.UUID()")


@pytest.mark.parametrize(
    "text",
    [
        "States.Nope(1)",
        "States.Format(",
        "States.Format('x'",
        "States.Format('unterminated)",
        "States.Array(1 2)",
        "States.Array(1,)",
        "States.Array(foo)",
        "States.Array($.a[)",
        "States.UUID(1)",
        "States.MathAdd(1)",
        "States.MathRandom(1, 2, 3, 4)",
        "States.Format()",
        "States.Array() extra",
        "Format('x')",
        "States.Array(" * 11 + ")" * 11,
    ],
)
def test_parse_rejects_bad_calls(text: str) -> None:
    with pytest.raises(IntrinsicSyntaxError):
        parse_intrinsic(text)


def test_ten_nested_calls_are_allowed() -> None:
    text = "States.Array(" * 10 + ")" * 10
    assert run(text) == [[[[[[[[[[]]]]]]]]]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("States.Array()", True),
        ("States.Format('{}', $.a)", True),
        ("$.a", False),
        (1, False),
        ("States.Array", False),
    ],
)
def test_is_intrinsic(value: Any, expected: bool) -> None:
    assert is_intrinsic(value) is expected


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('Hello {}, {}!', $.s, $.n)", "Hello Hello World, 2!"),
        (
            "States.Format('{} {} {} {}', $.o, $.arr, null, true)",
            "{a=1, b=[1, x]} [1, 2, 3, 4, 5] null true",
        ),
        ("States.Format('{}', $.f)", "1.5"),
        ("States.Format('{}', 1.0)", "1.0"),
        ("States.Format('esc \\{\\} {} \\\\ \\'q\\'', 1)", "esc {} 1 \\ 'q'"),
        ("States.Format($tpl, 'x')", "It's x!"),
        ("States.StringToJson('{\"a\": [1]}')", {"a": [1]}),
        ("States.StringToJson('')", None),
        ("States.StringToJson('-0')", 0),
        ("States.JsonToString($.o)", '{"a":1,"b":[1,"x"]}'),
        ("States.JsonToString('é')", '"é"'),
        ("States.Array(1, 'two', $.n, States.Array())", [1, "two", 2, []]),
        ("States.ArrayPartition($.arr, 2)", [[1, 2], [3, 4], [5]]),
        ("States.ArrayPartition($.arr, 9)", [[1, 2, 3, 4, 5]]),
        ("States.ArrayContains($.arr, 3)", True),
        ("States.ArrayContains(States.Array(1, true), 1.0)", True),
        ("States.ArrayContains(States.Array(true), 1)", False),
        ("States.ArrayContains(States.Array($.o), $.o)", True),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(0, 10, 3)", [0, 3, 6, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.arr, 4)", 5),
        ("States.ArrayLength($.arr)", 5),
        (
            "States.ArrayUnique(States.Array(1, 1, true, 1.0, 'a', 'a', $.o, $.o))",
            [1, True, "a", {"a": 1, "b": [1, "x"]}],
        ),
        ("States.Base64Encode($.s)", "SGVsbG8gV29ybGQ="),
        ("States.Base64Decode('SGVsbG8gV29ybGQ=')", "Hello World"),
        ("States.Base64Decode('SGk')", "Hi"),
        ("States.Base64Encode('héllo ✓')", "aMOpbGxvIOKckw=="),
        ("States.Base64Decode(States.Base64Encode('héllo ✓'))", "héllo ✓"),
        ("States.Hash('abc', 'MD5')", "900150983cd24fb0d6963f7d28e17f72"),
        ("States.Hash('abc', 'SHA-1')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "States.Hash('abc', 'SHA-256')",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            'States.JsonMerge(States.StringToJson(\'{"a": {"x": 1}, "b": 2}\'), '
            'States.StringToJson(\'{"a": {"y": 2}}\'), false)',
            {"a": {"y": 2}, "b": 2},
        ),
        ("States.ArrayRange(0.6, 3.4, 1.5)", [1, 3]),
        ("States.MathRandom(1.4, 1.6, 5)", 1),
        ("States.MathAdd(1.49, 1.5)", 3),
        ("States.MathAdd(-1.5, 0)", -1),
        ("States.MathAdd(-1.51, 0)", -2),
        ("States.MathAdd($.n, -7)", -5),
        ("States.StringSplit('a, b,,c', ', ')", ["a", "b", "c"]),
        ("States.StringSplit(',,,', ',')", []),
        ("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 1)", "state"),
    ],
)
def test_functions(text: str, expected: Any) -> None:
    result = run(text, variables={"tpl": "It's {}!"})
    assert json_equal(result, expected) and type(result) is type(expected), result


def test_uuid_is_a_v4_uuid_drawn_from_the_rng() -> None:
    first = evaluate("States.UUID()", {}, {}, {}, rng=random.Random(1))
    again = evaluate("States.UUID()", {}, {}, {}, rng=random.Random(1))
    other = evaluate("States.UUID()", {}, {}, {}, rng=random.Random(2))
    assert first == again != other
    assert len(first) == 36 and first[14] == "4" and first[19] in "89ab"


def test_math_random_stays_in_range_and_seed_is_deterministic() -> None:
    values = {run("States.MathRandom(1, 4)") for _ in range(5)}
    rng = random.Random(0)
    values |= {evaluate("States.MathRandom(1, 4)", {}, {}, rng=rng) for _ in range(50)}
    assert values == {1, 2, 3}
    seeded = run("States.MathRandom(0, 100, 42)")
    assert seeded == run("States.MathRandom(0, 100, 42)") == JavaRandom(42).next_int(100)


def test_java_random_matches_the_jdk() -> None:
    # Known values of java.util.Random: new Random(42).nextInt() and .nextInt(10).
    assert JavaRandom(42)._next(32) == -1170105035
    assert JavaRandom(42).next_int(10) == 0
    assert JavaRandom(42).next_int(16) == JavaRandom(42).next_int(16)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("States.Format('{} {}', 1)", "does not match the number of placeholders"),
        ("States.Format(1)", "must be of type string"),
        ("States.ArrayGetItem($.arr, 5)", "Index 5 out of bounds for length 5"),
        ("States.ArrayGetItem($.o, 0)", "must be of type array"),
        ("States.ArrayGetItem($.arr, 1.5)", "must be an integer"),
        ("States.ArrayPartition($.arr, 0)", "positive integer"),
        ("States.ArrayRange(1, 2, 0)", "cannot be zero"),
        ("States.ArrayRange(0, 2000, 1)", "more than 1000"),
        ("States.ArrayLength('x')", "must be of type array"),
        ("States.Base64Decode('%%%')", "not a valid Base64"),
        ("States.Base64Decode('SGVsb')", "not a valid Base64"),
        ("States.Base64Decode('/w==')", "not a valid Base64"),
        ("States.Hash('a', 'SHA-2')", "not supported"),
        ("States.JsonMerge($.o, $.arr, false)", "must be of type object"),
        ("States.JsonMerge($.o, $.o, 'no')", "must be of type boolean"),
        ("States.JsonMerge($.o, $.o, true)", "only supports the shallow merging mode"),
        ("States.Hash($.arr, 'MD5')", "must be of type string"),
        ("States.ArrayRange('1', 2, 1)", "must be of type number"),
        ("States.MathAdd(2147483648, 1)", "outside the integer range"),
        ("States.MathAdd('1', 1)", "must be of type number"),
        ("States.MathRandom(5, 5)", "must be greater than"),
        ("States.StringToJson('{bad')", "is not valid JSON"),
        ("States.StringToJson('NaN')", "is not valid JSON"),
        ("States.StringToJson('[Infinity]')", "is not valid JSON"),
        ("States.StringSplit(1, ',')", "must be of type string"),
    ],
)
def test_runtime_errors_are_states_runtime(text: str, fragment: str) -> None:
    with pytest.raises(StatesError) as info:
        run(text)
    assert info.value.error == "States.Runtime"
    assert info.value.cause is not None
    assert info.value.cause.startswith(f"The function '{text}' had the following error: ")
    assert fragment in info.value.cause


def test_missing_path_argument_names_the_path_and_input() -> None:
    with pytest.raises(StatesError) as info:
        run("States.Format('{}', $.nope)", data={"a": 1})
    assert info.value.cause == (
        "The function 'States.Format('{}', $.nope)' had the following error: The JsonPath "
        "argument for the field '$.nope' could not be found in the input '{\"a\":1}'"
    )


def test_nested_failure_reports_the_outermost_call() -> None:
    text = "States.ArrayLength(States.StringSplit($.n, ','))"
    with pytest.raises(StatesError) as info:
        run(text)
    assert info.value.cause is not None and f"'{text}'" in info.value.cause


def test_too_long_input_is_rejected() -> None:
    with pytest.raises(StatesError, match="10000"):
        run("States.Base64Encode($.s)", data={"s": "x" * 10001})


def test_java_string_numbers() -> None:
    values = (1, 1.5, 2.0, 1e20, -0.5, 1e-5, 123456789.0, 0.001, -1.25e-7, 0.0)
    assert [java_string(v) for v in values] == [
        "1",
        "1.5",
        "2.0",
        "1.0E20",
        "-0.5",
        "1.0E-5",
        "1.23456789E8",
        "0.001",
        "-1.25E-7",
        "0.0",
    ]


# --------------------------------------------------------------------------- properties

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def _quote(value: str) -> str:
    escaped = "".join("\\" + c if c in "'{}\\" else c for c in value)
    return f"'{escaped}'"


@given(_text)
def test_string_literal_round_trips_through_escapes(value: str) -> None:
    call = parse_intrinsic(f"States.Array({_quote(value)})")
    assert call.args == (StringLit(value, _quote(value)[1:-1]),)
    assert run(f"States.JsonToString({_quote(value)})") == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    )


@given(_text.filter(lambda s: "{}" not in s))
def test_format_keeps_escaped_braces_literal(value: str) -> None:
    template = _quote(value)[:-1] + "{}'"  # escaped text, then one real placeholder
    assert run(f"States.Format({template}, 'X')") == value + "X"


_json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text
_args = st.lists(
    st.one_of(
        _json_scalars.map(lambda v: (v, _quote(v) if isinstance(v, str) else json.dumps(v))),
        st.sampled_from([(DATA["arr"], "$.arr"), (DATA["o"], "$.o"), (2, "$.n")]),
    ),
    max_size=6,
)


@given(_args, st.sampled_from([", ", ",", " ,  "]))
def test_generated_argument_lists_evaluate_in_order(
    args: list[tuple[Any, str]], separator: str
) -> None:
    text = "States.Array(" + separator.join(source for _, source in args) + ")"
    assert run(text) == [value for value, _ in args]


@given(st.lists(st.integers(-100, 100), max_size=20), st.integers(1, 7))
def test_partition_concatenates_back(items: list[int], size: int) -> None:
    chunks = run(f"States.ArrayPartition(States.StringToJson('{json.dumps(items)}'), {size})")
    assert [x for chunk in chunks for x in chunk] == items
    assert all(len(c) == size for c in chunks[:-1])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.5, 2), (2.5, 3), (-1.5, -1), (-2.5, -2), (-0.5, 0), (0.49999, 0), (7, 7), (-7, -7)],
)
def test_java_round_is_half_up(value: float, expected: int) -> None:
    assert java_round(value) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (None, None, True),
        ([1, [2]], [1, [2.0]], True),
        ([1, 2], [2, 1], False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ("1", 1, False),
    ],
)
def test_json_equal(a: Any, b: Any, expected: bool) -> None:
    assert json_equal(a, b) is expected


def test_argument_kinds() -> None:
    call = parse_intrinsic("States.Array('s', 1, $.p, States.UUID())")
    assert argument_kinds(call) == ["string", "literal", "path", "call"]
