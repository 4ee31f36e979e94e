"""The JSONPath pipeline and JSONata states, with examples from the AWS documentation."""

from __future__ import annotations

import json

from engine_helpers import event_types, run_machine
from kbflow.runtime.engine import Engine


def _single(state: dict, input: object) -> dict:
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}


def test_input_parameters_result_selector_result_path_output_path(engine: Engine) -> None:
    # "Example: manipulating state data with paths" (Step Functions developer guide).
    engine.register_function("calc", lambda event, ctx: {"sum": event["a"] + event["b"]})
    definition = {"StartAt": "Add", "States": {"Add": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:calc",
        "InputPath": "$.numbers",
        "Parameters": {"a.$": "$.val1", "b.$": "$.val2"},
        "ResultSelector": {"total.$": "$.sum"},
        "ResultPath": "$.numbers.result",
        "OutputPath": "$.numbers", "End": True}}}
    described, history = run_machine(engine, definition,
                                     {"comment": "x", "numbers": {"val1": 3, "val2": 4}})
    assert described["Status"] == "SUCCEEDED"
    # ResultPath applies to the raw input (not the InputPath selection).
    assert json.loads(described["Output"]) == {"val1": 3, "val2": 4, "result": {"total": 7}}
    assert event_types(history) == [
        "ExecutionStarted", "TaskStateEntered:Add", "LambdaFunctionScheduled",
        "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited:Add",
        "ExecutionSucceeded"]


def test_result_path_null_keeps_input_and_null_paths_give_empty_object(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": None, "Next": "B"},
        "B": {"Type": "Pass", "InputPath": None, "Next": "C"},
        "C": {"Type": "Pass", "Result": {"x": 1}, "OutputPath": None, "End": True}}}, {"k": 1})
    assert json.loads(described["Output"]) == {}


def test_invalid_input_path_is_states_runtime_with_aws_prefix(engine: Engine) -> None:
    described, history = run_machine(engine, {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.missing", "End": True}}})
    assert described["Status"] == "FAILED"
    assert described["Error"] == "States.Runtime"
    assert described["Cause"] == (
        "An error occurred while executing the state 'A' (entered at the event id #2). "
        "Invalid path '$.missing' : No results for path: $['missing']")
    assert event_types(history)[-1] == "ExecutionFailed"


def test_context_object(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "A", "States": {"A": {
        "Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name", "state.$": "$$.State.Name",
                                       "sm.$": "$$.StateMachine.Name",
                                       "input.$": "$$.Execution.Input"}, "End": True}}},
        {"q": 1}, machine_name="ctxsm")
    out = json.loads(described["Output"])
    assert out["state"] == "A" and out["sm"] == "ctxsm" and out["input"] == {"q": 1}
    assert out["name"] == described["Name"]


def test_jsonata_pass_with_assign_and_output(engine: Engine) -> None:
    described, history = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "A",
                                              "States": {
        "A": {"Type": "Pass", "Assign": {"total": "{% $states.input.a + 1 %}"},
              "Output": {"seen": "{% $states.input.a %}"}, "Next": "B"},
        "B": {"Type": "Pass", "Output": "{% $total * 10 %}", "End": True}}}, {"a": 4})
    assert json.loads(described["Output"]) == 50
    exited = [e for e in history if e["type"] == "PassStateExited"][0]
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {"total": "5"}


def test_assign_and_output_see_old_variables(engine: Engine) -> None:
    # AWS: Assign and Output are evaluated with the variable values from before the state.
    described, _ = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": "{% $x %}",
              "End": True}}})
    assert json.loads(described["Output"]) == 1


def test_jsonata_undefined_is_query_evaluation_error(engine: Engine) -> None:
    described, history = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "S",
                                              "States": {"S": {"Type": "Pass",
                                                               "Output": "{% $nope %}",
                                                               "End": True}}})
    assert described["Error"] == "States.QueryEvaluationError"
    assert "returned nothing (undefined)" in described["Cause"]
    assert event_types(history) == ["ExecutionStarted", "PassStateEntered:S", "EvaluationFailed",
                                    "ExecutionFailed"]


def test_jsonpath_variables_and_scoping_in_map(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"bias": 10}, "Result": [1, 2], "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"inner": 1},
                  "Parameters": {"v.$": "$", "b.$": "$bias"}, "End": True}}},
              "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"outer.$": "$bias", "r.$": "$"},
                  "End": True}}})
    out = json.loads(described["Output"])
    assert out == {"outer": 10, "r": [{"v": 1, "b": 10}, {"v": 2, "b": 10}]}
    # the inner variable is local to the iteration
    failed, _ = run_machine(engine, {"StartAt": "A", "States": {
        "A": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}},
              "Items": None, "Next": "B"} if False else
        {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"x.$": "$inner"}, "End": True}}}, [1],
        machine_name="m2")
    assert failed["Status"] == "FAILED" and failed["Error"] == "States.Runtime"


def test_data_limit_exceeded(engine: Engine) -> None:
    described, _ = run_machine(engine, {"StartAt": "A", "States": {"A": {
        "Type": "Pass", "Result": {"a": "x" * 300_000}, "End": True}}})
    assert described["Error"] == "States.DataLimitExceeded"
    assert described["Cause"] == ("The state/task 'A' returned a result with a size exceeding "
                                  "the maximum number of bytes service limit.")


def test_jsonata_task_and_map_fields(engine: Engine) -> None:
    engine.register_function("double", lambda event, ctx: event["n"] * 2)
    described, history = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "M",
                                              "States": {"M": {
        "Type": "Map", "Items": "{% $states.input.values %}",
        "MaxConcurrency": "{% $states.input.conc %}",
        "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}",
                         "i": "{% $states.context.Map.Item.Index %}"},
        "ItemProcessor": {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "double", "Payload": {"n": "{% $states.input.n %}"}},
            "TimeoutSeconds": "{% 10 * 2 %}",
            "Output": "{% $states.result.Payload + $states.input.i %}", "End": True}}},
        "Output": {"sum": "{% $sum($states.result) %}"}, "End": True}}},
        {"values": [1, 2, 3], "conc": 2})
    assert json.loads(described["Output"]) == {"sum": 2 + 5 + 8}
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    assert scheduled[0]["taskScheduledEventDetails"]["timeoutInSeconds"] == 20


def test_jsonata_catch_error_output_and_assign(engine: Engine) -> None:
    described, _ = run_machine(engine, {"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"FunctionName": "missing"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C",
                         "Assign": {"failed": "{% $states.errorOutput.Error %}"},
                         "Output": {"input": "{% $states.input %}"}}], "End": True},
        "C": {"Type": "Pass", "Output": {"why": "{% $failed %}", "in": "{% $states.input %}"},
              "End": True}}}, {"a": 1})
    assert json.loads(described["Output"]) == {"why": "Lambda.ResourceNotFoundException",
                                               "in": {"input": {"a": 1}}}
