"""kbflow.runtime.asl.validate: schema, statelint and semantic checks, each with its pointer."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kbflow.errors import DefinitionError, Problem
from kbflow.runtime.asl.validate import (
    check,
    format_problem,
    load_text,
    schema,
    statelint_problems,
    validate,
    validate_file,
    validate_text,
)
from kbflow.runtime.asl.validate_checks import semantic_problems

LAMBDA = "arn:aws:states:::lambda:invoke"


def _base() -> dict[str, Any]:
    return {
        "Comment": "base",
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": {"FunctionName": "${FnFunctionArn}", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "B",
            },
            "B": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "StringEquals": "y", "Next": "Done"}],
                "Default": "Failed",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "E"},
        },
    }


def test_base_definition_is_valid() -> None:
    assert validate(_base()) == []


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = d
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _drop(path: str) -> Mutation:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = d
        for part in parents:
            node = node[part]
        del node[last]

    return apply


def _jsonata_a(d: dict[str, Any]) -> None:
    d["States"]["A"]["QueryLanguage"] = "JSONata"


def _jsonpath_under_jsonata(d: dict[str, Any]) -> None:
    d["QueryLanguage"] = "JSONata"
    d["States"]["B"]["QueryLanguage"] = "JSONPath"


def _add_state(name: str, state: dict[str, Any]) -> Mutation:
    return lambda d: d["States"].__setitem__(name, state)


CASES: list[tuple[str, Mutation, str, str]] = [
    ("missing Next target", _set("/States/A/Next", "Nope"), "/States/A/Next", "kbflow"),
    ("missing Default target", _set("/States/B/Default", "Nope"), "/States/B/Default", "kbflow"),
    (
        "missing choice target",
        _set("/States/B/Choices/0/Next", "Nope"),
        "/States/B/Choices/0/Next",
        "kbflow",
    ),
    (
        "missing Catch target",
        _set("/States/A/Catch/0/Next", "Nope"),
        "/States/A/Catch/0/Next",
        "kbflow",
    ),
    ("StartAt unknown", _set("/StartAt", "Nope"), "/StartAt", "kbflow"),
    ("unreachable state", _add_state("Orphan", {"Type": "Succeed"}), "/States/Orphan", "kbflow"),
    (
        "States.ALL not alone",
        _set("/States/A/Retry/0/ErrorEquals", ["States.ALL", "X"]),
        "/States/A/Retry/0/ErrorEquals",
        "kbflow",
    ),
    (
        "States.ALL not last",
        _set(
            "/States/A/Catch",
            [
                {"ErrorEquals": ["States.ALL"], "Next": "Failed"},
                {"ErrorEquals": ["X"], "Next": "Done"},
            ],
        ),
        "/States/A/Catch/0/ErrorEquals",
        "kbflow",
    ),
    (
        "malformed placeholder",
        _set("/States/A/Parameters/FunctionName", "${Fn-Arn}"),
        "/States/A/Parameters/FunctionName",
        "kbflow",
    ),
    (
        "unclosed placeholder",
        _set("/States/A/Parameters/FunctionName", "${FnArn"),
        "/States/A/Parameters/FunctionName",
        "kbflow",
    ),
    ("Parameters in a JSONata state", _jsonata_a, "/States/A/Parameters", "kbflow"),
    (
        "Arguments in a JSONPath state",
        _set("/States/A/Arguments", {"a": 1}),
        "/States/A/Arguments",
        "kbflow",
    ),
    ("End with Next", _set("/States/A/End", True), "/States/A/End", "kbflow"),
    ("neither Next nor End", _drop("/States/A/Next"), "/States/A", "kbflow"),
    ("unknown field", _set("/States/A/Retries", []), "/States/A/Retries", "schema"),
    ("wrong type", _set("/States/A/TimeoutSeconds", -5), "/States/A/TimeoutSeconds", "schema"),
    ("unknown state type", _set("/States/Done/Type", "Sucess"), "/States/Done/Type", "schema"),
    ("Next in a Succeed state", _set("/States/Done/Next", "A"), "/States/Done/Next", "schema"),
    (
        "timeout and timeout path",
        lambda d: d["States"]["A"].update(TimeoutSeconds=5, TimeoutSecondsPath="$.t"),
        "/States/A/TimeoutSecondsPath",
        "kbflow",
    ),
    (
        "wait without duration",
        _add_state("W", {"Type": "Wait", "End": True}),
        "/States/W",
        "kbflow",
    ),
    (
        "heartbeat not below timeout",
        lambda d: d["States"]["A"].update(TimeoutSeconds=10, HeartbeatSeconds=10),
        "/States/A/HeartbeatSeconds",
        "kbflow",
    ),
    (
        "choice rule without comparison",
        _set("/States/B/Choices/0", {"Variable": "$.x", "Next": "Done"}),
        "/States/B/Choices/0",
        "kbflow",
    ),
    (
        "choice rule with two comparisons",
        _set(
            "/States/B/Choices/0",
            {"Variable": "$.x", "StringEquals": "a", "IsPresent": True, "Next": "Done"},
        ),
        "/States/B/Choices/0",
        "kbflow",
    ),
    (
        "Condition in a JSONPath choice",
        _set("/States/B/Choices/0", {"Condition": "{% true %}", "Next": "Done"}),
        "/States/B/Choices/0/Condition",
        "kbflow",
    ),
    (
        "JSONPath state under a JSONata machine",
        lambda d: _jsonpath_under_jsonata(d),
        "/States/B/QueryLanguage",
        "kbflow",
    ),
    (
        "JSONPath TimeoutSeconds as expression",
        _set("/States/A/TimeoutSeconds", "{% 5 %}"),
        "/States/A/TimeoutSeconds",
        "kbflow",
    ),
    (
        "no terminal state",
        lambda d: d.update(StartAt="Loop", States={"Loop": {"Type": "Pass", "Next": "Loop"}}),
        "/States",
        "kbflow",
    ),
]


@pytest.mark.parametrize("name, mutate, pointer, source", CASES, ids=[c[0] for c in CASES])
def test_broken_definition_is_reported_at_its_pointer(
    name: str, mutate: Mutation, pointer: str, source: str
) -> None:
    definition = _base()
    mutate(definition)
    problems = validate(definition)
    assert any(p.pointer == pointer and p.source == source for p in problems), problems


def _map_state(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Comment": "m",
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}},
    }


def _inner(name: str = "Inner", **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}
    if config:
        body["ProcessorConfig"] = config
    return body


def test_map_checks() -> None:
    ok = _map_state(
        _inner(Mode="DISTRIBUTED", ExecutionType="EXPRESS"),
        ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
    )
    assert validate(ok) == []
    inline = _map_state(_inner(), ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2"})
    assert any(p.pointer == "/States/M/ItemReader" for p in semantic_problems(inline))
    no_type = _map_state(_inner(Mode="DISTRIBUTED"))
    assert any(
        p.pointer == "/States/M/ItemProcessor/ProcessorConfig" for p in semantic_problems(no_type)
    )
    both = _map_state(_inner(), Iterator=_inner("Other"))
    assert any(
        p.pointer == "/States/M" and "exactly one" in p.message for p in semantic_problems(both)
    )
    nested_bad = _map_state({"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Nope"}}})
    assert any(p.pointer == "/States/M/ItemProcessor/States/X/Next" for p in validate(nested_bad))


def test_duplicate_state_names_across_scopes() -> None:
    d = _map_state(_inner("M"))
    assert any(p.pointer == "/States/M/ItemProcessor/States/M" for p in semantic_problems(d))


def test_catch_result_path_in_jsonata_state() -> None:
    d = _base()
    d["States"]["A"] = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": LAMBDA,
        "Arguments": {"FunctionName": "x"},
        "Next": "B",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Failed"}],
    }
    assert any(p.pointer == "/States/A/Catch/0/ResultPath" for p in validate(d))


def test_statelint_locations_become_pointers_even_with_spaces_and_dots() -> None:
    d = {
        "StartAt": "Fetch v1.2 Page",
        "States": {
            "Fetch v1.2 Page": {"Type": "Pass", "Next": "Nowhere"},
            "Done": {"Type": "Succeed"},
        },
    }
    problems = statelint_problems(d)
    assert any(p.pointer == "/States/Fetch v1.2 Page/Next" for p in problems), problems
    assert all(p.source == "statelint" for p in problems)


def test_statelint_duplicates_are_not_repeated() -> None:
    d = _base()
    d["States"]["A"]["Next"] = "Nope"
    problems = validate(d)
    assert [p.source for p in problems if p.pointer == "/States/A/Next"] == ["kbflow"]


def test_non_object_document() -> None:
    assert validate([]) and validate([])[0].source == "schema"


def test_pointer_escaping() -> None:
    d = _base()
    d["States"]["A"]["Next"] = "a/b~c"
    assert any(p.pointer == "/States/A/Next" for p in validate(d))
    d = _base()
    d["States"]["x/y"] = {"Type": "Succeed"}
    assert any(p.pointer == "/States/x~1y" for p in semantic_problems(d))


def test_bad_json_names_line_and_column() -> None:
    (problem,) = validate_text('{\n  "StartAt": "A",\n  "States": {,}\n}')
    assert problem.source == "json"
    assert "line 3, column 14" in problem.message


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(DefinitionError, match="duplicate key"):
        load_text('{"StartAt": "A", "StartAt": "B", "States": {}}')


def test_validate_file(tmp_path: Path) -> None:
    good = tmp_path / "good.asl.json"
    good.write_text(json.dumps(_base()))
    assert validate_file(good) == []
    missing = validate_file(tmp_path / "missing.asl.json")
    assert missing[0].source == "io"


def test_check_raises_with_every_problem() -> None:
    d = _base()
    d["States"]["A"]["Next"] = "Nope"
    d["States"]["B"]["Default"] = "Nope"
    with pytest.raises(DefinitionError) as info:
        check(d, file="x.asl.json", use_statelint=False)
    assert {p.pointer for p in info.value.problems} >= {"/States/A/Next", "/States/B/Default"}
    assert "x.asl.json" in str(info.value)
    check(_base())


def test_format_problem() -> None:
    assert format_problem("f.asl.json", Problem("/States/A", "bad")) == "f.asl.json:/States/A: bad"
    assert format_problem("f", Problem("", "bad", "statelint")) == "f:/: bad [statelint]"


def _cases(shared: Path) -> list[Path]:
    return sorted((shared / "conformance" / "cases").glob("*.json"))


def test_conformance_definitions_pass_schema_and_semantic_checks(shared_dir: Path) -> None:
    """Every definition recorded as valid on AWS passes the schema and kbflow's checks."""
    files = _cases(shared_dir)
    assert files
    rejected = {}
    for path in files:
        definition = json.loads(path.read_text())["definition"]
        problems = validate(copy.deepcopy(definition), use_statelint=False)
        if problems:
            rejected[path.name] = problems
    assert rejected == {}


def test_statelint_state_and_field_locations() -> None:
    d = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "End": True, "Bogus": 1}, "B": {"Type": "Succeed"}},
    }
    pointers = {p.pointer for p in statelint_problems(d)}
    assert "/States/B" in pointers  # "No transition found to state State Machine.B"
    assert "/States/A/Bogus" in pointers  # 'Field "Bogus" not allowed in State Machine.States.A'
    merged = validate(d)
    assert [p.source for p in merged if p.pointer == "/States/A/Bogus"] == ["schema"]
    assert [p.source for p in merged if p.pointer == "/States/B"] == ["kbflow"]


def test_jsonata_syntax_is_checked_only_in_jsonata_states() -> None:
    d = _base()
    d["States"]["A"] = {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Next": "B",
        "Output": {"x": "{% $states.input.( %}", "ok": "{% $states.input %}"},
    }
    d["States"]["B"] = {"Type": "Pass", "Parameters": {"literal": "{% ( %}"}, "End": True}
    problems = [p for p in semantic_problems(d) if "JSONata expression" in p.message]
    assert [p.pointer for p in problems] == ["/States/A/Output/x"]
