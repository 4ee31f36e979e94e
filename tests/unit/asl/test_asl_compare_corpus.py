"""Every Choice-operator case recorded against AWS, replayed through compare + jsonpath."""

from __future__ import annotations

from typing import Any

import pytest
from asl_corpus import cases
from kbflow.runtime.asl.compare import compare, is_comparator
from kbflow.runtime.asl.jsonpath import PathNotFound, compile_path

_MISSING = object()


def _single_rule_cases() -> list[Any]:
    found = []
    for case in cases("suite:choice_operators"):
        states = case["definition"]["States"]
        choice = next(s for s in states.values() if s["Type"] == "Choice")
        rules = choice["Choices"]
        if len(rules) != 1 or "Variable" not in rules[0]:
            continue
        found.append(pytest.param(case, rules[0], id=case["id"]))
    return found


def _value(path: str, data: Any) -> Any:
    try:
        return compile_path(path).get(data)
    except PathNotFound:
        return _MISSING


@pytest.mark.parametrize(("case", "rule"), _single_rule_cases())
def test_operator_matches_aws(case: dict[str, Any], rule: dict[str, Any]) -> None:
    (operator,) = [k for k in rule if is_comparator(k)]
    value = _value(rule["Variable"], case["input"])
    operand = rule[operator]
    if operator.endswith("Path"):
        operand = _value(operand, case["input"])
    if case["expected"]["status"] != "SUCCEEDED":
        # AWS fails the execution (missing Variable); the engine raises States.Runtime.
        assert value is _MISSING or operand is _MISSING
        return
    if operator == "IsPresent":
        result = (value is not _MISSING) is bool(operand)
    else:
        assert value is not _MISSING and operand is not _MISSING
        result = compare(operator, value, operand)
    expected = case["expected"]["output"]["TestResult.$"] == "ConditionTrue"
    assert result is expected, (operator, value, operand)
