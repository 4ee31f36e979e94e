"""Strict parser: every problem reported with its JSON pointer; valid documents parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kbflow.errors import DefinitionError
from kbflow.runtime.asl import model as m
from kbflow.runtime.asl.parse import parse, parse_text

ROOT = Path(__file__).resolve().parents[3]


def _problems(doc: Any) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse(doc)
    return [str(p) for p in info.value.problems]


def test_parses_every_state_type() -> None:
    doc = {
        "StartAt": "P",
        "TimeoutSeconds": 60,
        "States": {
            "P": {"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.r", "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.r.a", "NumericEquals": 1, "Next": "W"},
                    {
                        "And": [
                            {"Variable": "$.x", "IsPresent": True},
                            {"Not": {"Variable": "$.x", "StringEquals": "b"}},
                        ],
                        "Next": "F",
                    },
                ],
                "Default": "F",
            },
            "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                "Retry": [
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "JitterStrategy": "FULL"}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                "Next": "Par",
            },
            "Par": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}],
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E", "Cause": "c"},
        },
    }
    sm = parse(doc)
    assert isinstance(sm.states["P"], m.Pass) and sm.states["P"].result == {"a": 1}
    choice = sm.states["C"]
    assert isinstance(choice, m.Choice)
    assert isinstance(choice.choices[1].rule, m.Combinator)
    assert choice.choices[1].rule.operator == "And"
    task = sm.states["T"]
    assert isinstance(task, m.Task) and not isinstance(task.retry, m.Unset)
    assert task.retry[0].jitter_strategy == "FULL"
    mp = sm.states["M"]
    assert isinstance(mp, m.Map) and mp.processor.start_at == "I" and not mp.distributed


def test_absent_and_null_result_path_differ() -> None:
    sm = parse(
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "ResultPath": None, "Next": "B"},
                "B": {"Type": "Pass", "End": True},
            },
        }
    )
    assert sm.states["A"].result_path is None  # type: ignore[union-attr]
    assert sm.states["B"].result_path is m.UNSET  # type: ignore[union-attr]


def test_reports_every_problem_with_pointer() -> None:
    problems = _problems(
        {
            "StartAt": "Nope",
            "States": {
                "A": {"Type": "Pass", "Nxt": "B", "End": True, "ResultPath": 3},
                "B": {"Type": "Task", "End": True, "TimeoutSeconds": -1},
                "C": {"Type": "Bogus"},
            },
        }
    )
    text = "\n".join(problems)
    assert "/States/A/Nxt: unknown field 'Nxt'" in text
    assert "/States/A/ResultPath: must be a string or null" in text
    assert "/States/B: missing required field 'Resource'" in text
    assert "/States/B/TimeoutSeconds: must be a positive integer" in text
    assert "/States/C/Type: unknown state type 'Bogus'" in text
    assert "/StartAt: StartAt names a state that does not exist: 'Nope'" in text


def test_next_and_end_are_exclusive_and_targets_must_exist() -> None:
    text = "\n".join(
        _problems(
            {
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Next": "B", "End": True},
                    "B": {"Type": "Pass", "Next": "Missing"},
                },
            }
        )
    )
    assert "exactly one of 'Next' or 'End: true'" in text
    assert "transition to a state that does not exist: 'Missing'" in text


def test_states_all_alone_and_last() -> None:
    text = "\n".join(
        _problems(
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "End": True,
                        "Retry": [{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"]}],
                    }
                },
            }
        )
    )
    assert "States.ALL must appear alone" in text
    assert "/States/T/Retry/0: a retrier or catcher with States.ALL must be the last one" in text


def test_query_language_field_rules() -> None:
    text = "\n".join(
        _problems(
            {
                "QueryLanguage": "JSONata",
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "InputPath": "$.a", "End": True},
                    "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": {}, "End": True},
                },
            }
        )
    )
    assert "/States/A/InputPath: field 'InputPath' is not supported in JSONata states" in text
    assert "/States/B/Output: field 'Output' is not supported in JSONPath states" in text


def test_choice_rule_operand_types() -> None:
    text = "\n".join(
        _problems(
            {
                "StartAt": "C",
                "States": {
                    "C": {
                        "Type": "Choice",
                        "Choices": [
                            {"Variable": "$.a", "NumericEquals": "1", "Next": "C"},
                            {"Variable": "$.a", "Next": "C"},
                        ],
                    }
                },
            }
        )
    )
    assert "NumericEquals must be a number" in text
    assert "exactly one comparator" in text


def test_wait_needs_exactly_one_duration() -> None:
    text = "\n".join(
        _problems(
            {
                "StartAt": "W",
                "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}},
            }
        )
    )
    assert "exactly one of Seconds, Timestamp, SecondsPath, TimestampPath" in text


def test_not_json_text() -> None:
    with pytest.raises(DefinitionError, match="not valid JSON"):
        parse_text("{")


@pytest.mark.parametrize("path", sorted((ROOT / "definitions").glob("*.asl.json")))
def test_project_definitions_parse(path: Path) -> None:
    assert parse(json.loads(path.read_text())).start_at
