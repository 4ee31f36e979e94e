"""Choice, Wait, Fail, Parallel and inline Map."""

from __future__ import annotations

import json
from datetime import timedelta

from engine_helpers import event_types, run_machine
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine

CHOICE = {"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"And": [{"Variable": "$.value", "IsPresent": True},
                 {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                 {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"},
        {"Variable": "$.name", "StringMatches": "log-*.txt", "Next": "Log"},
        {"Variable": "$.when", "TimestampLessThanPath": "$.deadline", "Next": "Early"}],
        "Default": "DefaultState"},
    "Public": {"Type": "Pass", "Result": "public", "End": True},
    "ValueInTwenties": {"Type": "Pass", "Result": "twenties", "End": True},
    "Log": {"Type": "Pass", "Result": "log", "End": True},
    "Early": {"Type": "Pass", "Result": "early", "End": True},
    "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"}}}


def test_choice_rules(engine: Engine) -> None:
    cases = [({"type": "Public"}, "public"),
             ({"type": "Private", "value": 25}, "twenties"),
             ({"type": "Private", "value": 35, "name": "log-1.txt"}, "log"),
             ({"type": "Private", "name": "n", "when": "2020-01-01T00:00:00Z",
               "deadline": "2021-01-01T00:00:00+01:00"}, "early")]
    for i, (data, expected) in enumerate(cases):
        described, _ = run_machine(engine, CHOICE, data, machine_name=f"c{i}")
        assert json.loads(described["Output"]) == expected, data
    described, history = run_machine(engine, CHOICE, {
        "type": "Private", "name": "x", "when": "2022-01-01T00:00:00Z",
        "deadline": "2021-01-01T00:00:00Z"}, machine_name="cf")
    assert (described["Error"], described["Cause"]) == ("DefaultStateError", "No Matches!")
    # a comparison over a missing path is a States.Runtime error, as on AWS
    missing, _ = run_machine(engine, CHOICE, {"type": "Private"}, machine_name="cm")
    assert missing["Error"] == "States.Runtime"
    assert missing["Cause"].endswith("Invalid path '$.name': The choice state's condition path "
                                     "references an invalid value.")
    assert event_types(history)[-2:] == ["FailStateEntered:DefaultState", "ExecutionFailed"]


def test_no_choice_matched(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "C", "States": {"C": {
        "Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": True, "Next": "C"}]}}},
        {"a": False})
    assert described["Error"] == "States.NoChoiceMatched"


def test_jsonata_choice_condition(engine: Engine) -> None:
    described, _ = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.n > 2 %}", "Next": "Big",
             "Output": {"picked": "big"}}], "Default": "Small"},
        "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}}, {"n": 3})
    assert json.loads(described["Output"]) == {"picked": "big"}


def test_wait_a_year_on_the_virtual_clock(engine: Engine, clock: VirtualClock) -> None:
    start = clock.now()
    described, history = run_machine(engine, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 365 * 24 * 3600, "Next": "P"},
        "P": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}, {"s": 60})
    assert described["Status"] == "SUCCEEDED"
    stamps = {e["type"]: e["timestamp"] for e in history}
    waited = stamps["ExecutionSucceeded"] - start
    assert timedelta(days=365, seconds=60) <= waited < timedelta(days=365, seconds=61)


def test_wait_timestamp_and_errors(engine: Engine, clock: VirtualClock) -> None:
    target = (clock.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    described, history = run_machine(engine, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}}}, {"t": target})
    assert described["Status"] == "SUCCEEDED"
    bad, _ = run_machine(engine, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}, {"s": -1},
        machine_name="neg")
    assert bad["Cause"].endswith(
        "The SecondsPath parameter references a negative value: $.s == -1")


def test_fail_paths(engine: Engine) -> None:
    described, history = run_machine(engine, {"StartAt": "F", "States": {"F": {
        "Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('because {}', $.c)"}}},
        {"e": "Custom.Error", "c": "reasons"})
    assert (described["Error"], described["Cause"]) == ("Custom.Error", "because reasons")
    assert event_types(history) == ["ExecutionStarted", "FailStateEntered:F", "ExecutionFailed"]


def test_parallel_outputs_in_branch_order_and_failure(engine: Engine) -> None:
    described, history = run_machine(engine, {"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Next": "A"},
                                        "A": {"Type": "Pass", "Result": "slow", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "fast", "End": True}}}]}}})
    assert json.loads(described["Output"]) == ["slow", "fast"]
    assert "ParallelStateSucceeded" in event_types(history)
    failed, history = run_machine(engine, {"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 50, "End": True}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom"}}}]}}},
        machine_name="pf")
    assert failed["Error"] == "Boom"
    assert "ParallelStateFailed" in event_types(history)


def test_inline_map_10000_items_max_concurrency_40(clock: VirtualClock) -> None:
    items = list(range(10_000))
    # 10,000 iterations write 60,000 events: past AWS's 25,000, so raise the limit here.
    with Engine(clock=clock, history_limit=100_000) as big:
        described, history = _run_big_map(big, items)
    assert described["Status"] == "SUCCEEDED"
    out = json.loads(described["Output"])
    assert out == [{"d": 2 * i} for i in items]
    started = [e for e in history if e["type"] == "MapIterationStarted"]
    assert len(started) == 10_000
    # 10,000 one-second waits, 40 at a time: 250 seconds of virtual time.
    elapsed = history[-1]["timestamp"] - history[0]["timestamp"]
    assert 249 <= elapsed.total_seconds() < 260


def test_history_limit_fails_the_execution_as_aws_does(engine: Engine) -> None:
    described, history = _run_big_map(engine, list(range(5000)))
    assert described["Status"] == "FAILED"
    assert described["Error"] == "States.Runtime"
    assert "maximum number of history events (25000)" in described["Cause"]
    assert len(history) == 25_001 and history[-1]["type"] == "ExecutionFailed"


def _run_big_map(engine: Engine, items: list[int]) -> tuple[dict, list[dict]]:
    return run_machine(engine, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 40, "ItemsPath": "$.items",
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "D"},
            "D": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.i)"},
                  "End": True}}}, "End": True}}}, {"items": items})


def test_map_tolerated_failures(engine: Engine) -> None:
    processor = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}],
              "Default": "OK"},
        "F": {"Type": "Fail", "Error": "Bad"}, "OK": {"Type": "Pass", "End": True}}}
    ok, _ = run_machine(engine, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailureCount": 1, "ItemProcessor": processor, "End": True}}},
        [0, 1, 2])
    assert ok["Status"] == "SUCCEEDED"
    assert json.loads(ok["Output"])[1:] == [1, 2]
    bad, history = run_machine(engine, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailurePercentage": 10, "ItemProcessor": processor,
        "End": True}}}, [0, 1, 2], machine_name="m2")
    assert bad["Error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapStateFailed" in event_types(history)
