"""ASL output of the typed ``stepfunctions`` SDK extensions (kbflow.workflows.asl)."""

from __future__ import annotations

from typing import Any

import pytest
from kbflow.errors import DefinitionError
from kbflow.workflows.asl import (
    DISCARD,
    Catch,
    Choice,
    Condition,
    Fail,
    Pass,
    Retry,
    Succeed,
    Task,
    canonical,
    state_machine,
)
from stepfunctions.steps.choice_rule import ChoiceRule

LAMBDA = "arn:aws:states:::lambda:invoke"


def test_retry_emits_max_delay_and_jitter_in_order() -> None:
    retry = Retry(
        error_equals=["Lambda.ServiceException"],
        interval_seconds=2,
        max_attempts=6,
        backoff_rate=2.0,
        max_delay_seconds=60,
        jitter_strategy="FULL",
        comment="why",
    )
    assert retry.to_dict() == {
        "ErrorEquals": ["Lambda.ServiceException"],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
        "Comment": "why",
    }
    assert list(retry.to_dict()) == [
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    ]


def test_retry_leaves_out_absent_fields() -> None:
    assert Retry(error_equals=["States.ALL"]).to_dict() == {"ErrorEquals": ["States.ALL"]}


def test_catch_result_path_and_discard() -> None:
    done = Succeed("Done", comment="c")
    assert Catch(error_equals=["States.ALL"], next_step=done, result_path="$.error").to_dict() == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.error",
        "Next": "Done",
    }
    discarded = Catch(error_equals=["X"], next_step=done, result_path=DISCARD).to_dict()
    assert discarded == {"ErrorEquals": ["X"], "ResultPath": None, "Next": "Done"}
    assert Catch(error_equals=["X"], next_step=done).to_dict() == {
        "ErrorEquals": ["X"],
        "Next": "Done",
    }


def test_catch_jsonata_output_and_assign() -> None:
    done = Succeed("Done", comment="c")
    d = Catch(
        error_equals=["States.ALL"],
        next_step=done,
        output="{% $states.errorOutput %}",
        assign={"failed": True},
        comment="c",
    ).to_dict()
    assert d == {
        "ErrorEquals": ["States.ALL"],
        "Comment": "c",
        "Output": "{% $states.errorOutput %}",
        "Assign": {"failed": True},
        "Next": "Done",
    }


def test_task_jsonpath_fields_order_and_end() -> None:
    task = Task(
        "Call",
        comment="calls",
        resource=LAMBDA,
        parameters={"FunctionName": "${FnFunctionArn}", "Payload.$": "$"},
        result_selector={"doc.$": "$.Payload"},
        result_path="$.r",
        output_path="$.r",
        timeout_seconds=30,
        heartbeat_seconds_path="$.hb",
        retry=[Retry(error_equals=["States.Timeout"])],
    )
    d = task.to_dict()
    assert list(d) == [
        "Type",
        "Comment",
        "Resource",
        "Parameters",
        "TimeoutSeconds",
        "HeartbeatSecondsPath",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Retry",
        "End",
    ]
    assert d["ResultSelector"] == {"doc.$": "$.Payload"}
    assert d["End"] is True


def test_task_result_path_discard_is_null() -> None:
    d = Task("T", comment="c", resource=LAMBDA, result_path=DISCARD).to_dict()
    assert "ResultPath" in d and d["ResultPath"] is None


def test_task_jsonata_fields() -> None:
    d = Task(
        "T",
        comment="c",
        resource=LAMBDA,
        query_language="JSONata",
        arguments={"Payload": "{% $states.input %}"},
        output="{% $states.result.Payload %}",
        assign={"x": "{% 1 %}"},
        timeout_seconds="{% $states.input.t %}",
    ).to_dict()
    assert d["QueryLanguage"] == "JSONata"
    assert d["Arguments"] == {"Payload": "{% $states.input %}"}
    assert d["Output"] == "{% $states.result.Payload %}"
    assert d["Assign"] == {"x": "{% 1 %}"}
    assert d["TimeoutSeconds"] == "{% $states.input.t %}"


@pytest.mark.parametrize("field", ["parameters", "result_selector", "input_path", "result_path"])
def test_jsonpath_field_in_jsonata_state_is_rejected(field: str) -> None:
    value: Any = "$.x" if field.endswith("path") else {"a": 1}
    with pytest.raises(DefinitionError) as info:
        Task("T", comment="c", resource=LAMBDA, query_language="JSONata", **{field: value})
    (problem,) = info.value.problems
    assert problem.pointer.startswith("/States/T/")
    assert "JSONata" in problem.message


def test_jsonata_field_in_jsonpath_state_is_rejected() -> None:
    with pytest.raises(DefinitionError) as info:
        Pass("P", comment="c", query_language="JSONPath", output="{% 1 %}")
    assert info.value.problems[0].pointer == "/States/P/Output"


def test_pass_fields() -> None:
    d = Pass("P", comment="c", parameters={"a.$": "$.b"}, result_path="$.x").to_dict()
    assert d == {
        "Type": "Pass",
        "Comment": "c",
        "Parameters": {"a.$": "$.b"},
        "ResultPath": "$.x",
        "End": True,
    }
    d = Pass(
        "Q", comment="c", query_language="JSONata", output="{% 1 %}", assign={"v": 1}
    ).to_dict()
    assert d == {
        "Type": "Pass",
        "Comment": "c",
        "QueryLanguage": "JSONata",
        "Output": "{% 1 %}",
        "Assign": {"v": 1},
        "End": True,
    }


def test_choice_with_condition_rules_and_default() -> None:
    yes, no = Succeed("Yes", comment="y"), Fail("No", comment="n", error="E")
    choice = Choice(
        "Decide",
        comment="c",
        query_language="JSONata",
        choices=[(Condition("{% $states.input.ok %}"), yes)],
        default=no,
        output="{% $states.input %}",
    )
    d = choice.to_dict()
    assert d["Choices"] == [{"Condition": "{% $states.input.ok %}", "Next": "Yes"}]
    assert d["Default"] == "No"
    assert "End" not in d and "Next" not in d
    assert d["Output"] == "{% $states.input %}"


def test_choice_with_sdk_rules_puts_variable_first() -> None:
    yes = Succeed("Yes", comment="y")
    d = Choice("C", comment="c", choices=[(ChoiceRule.StringEquals("$.a", "b"), yes)]).to_dict()
    assert list(d["Choices"][0]) == ["Variable", "StringEquals", "Next"]
    assert "Default" not in d


def test_condition_must_be_jsonata() -> None:
    with pytest.raises(DefinitionError, match="Condition must be a JSONata expression"):
        Condition("$.a == 1")


def test_succeed_output() -> None:
    d = Succeed("S", comment="c", query_language="JSONata", output="{% {'a': 1} %}").to_dict()
    assert d == {
        "Type": "Succeed",
        "Comment": "c",
        "QueryLanguage": "JSONata",
        "Output": "{% {'a': 1} %}",
    }


def test_fail_error_path_and_cause_path() -> None:
    d = Fail("F", comment="c", error_path="$.error.Error", cause_path="$.error.Cause").to_dict()
    assert d == {
        "Type": "Fail",
        "Comment": "c",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_fail_error_and_error_path_are_exclusive() -> None:
    with pytest.raises(DefinitionError) as info:
        Fail("F", comment="c", error="E", error_path="$.e", cause="x", cause_path="$.c")
    assert [p.pointer for p in info.value.problems] == [
        "/States/F/ErrorPath",
        "/States/F/CausePath",
    ]


def test_task_timeout_and_timeout_path_are_exclusive() -> None:
    with pytest.raises(DefinitionError) as info:
        Task(
            "T",
            comment="c",
            resource=LAMBDA,
            timeout_seconds=5,
            timeout_seconds_path="$.t",
            heartbeat_seconds=1,
            heartbeat_seconds_path="$.h",
        )
    assert [p.pointer for p in info.value.problems] == [
        "/States/T/TimeoutSecondsPath",
        "/States/T/HeartbeatSecondsPath",
    ]


def test_state_machine_assembles_graph_with_catch_targets() -> None:
    failed = Fail("Failed", comment="f", error="E")
    done = Succeed("Done", comment="d")
    start = Task(
        "Start",
        comment="s",
        resource=LAMBDA,
        catch=[Catch(error_equals=["States.ALL"], next_step=failed)],
    )
    start.next(done)
    asl = state_machine(start, comment="m", query_language="JSONPath", timeout_seconds=60)
    assert list(asl) == ["Comment", "QueryLanguage", "StartAt", "TimeoutSeconds", "States"]
    assert asl["StartAt"] == "Start"
    assert set(asl["States"]) == {"Start", "Done", "Failed"}
    assert asl["States"]["Start"]["Next"] == "Done"


def test_state_machine_rejects_two_states_with_one_name() -> None:
    a = Pass("Same", comment="a", result={"x": 1})
    b = Pass("Same", comment="b", result={"x": 2})
    a.next(b)
    with pytest.raises(DefinitionError) as info:
        state_machine(a, comment="m")
    assert info.value.problems[0].pointer == "/States"


def test_canonical_orders_known_keys_and_keeps_unknown_last() -> None:
    assert list(canonical({"Zeta": 1, "End": True, "Type": "Pass", "Comment": "c"})) == [
        "Type",
        "Comment",
        "End",
        "Zeta",
    ]


def test_discard_repr() -> None:
    assert repr(DISCARD) == "DISCARD"
