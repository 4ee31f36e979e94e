"""The local Step Functions API driven by unmodified boto3 (``endpoint_url=``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from console_helpers import Served

ROLE = "arn:aws:iam::123456789012:role/test"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 1}, "End": True}}}


def create(sfn: Any, name: str, definition: dict[str, Any], **kw: Any) -> str:
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **kw)[
            "stateMachineArn"
        ]
    )


def wait_done(sfn: Any, arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = sfn.describe_execution(executionArn=arn)
        if out["status"] != "RUNNING":
            return dict(out)
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_state_machine_crud(sfn: Any) -> None:
    arn = create(sfn, "crud", PASS, tags=[{"key": "team", "value": "kb"}])
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:crud"
    assert create(sfn, "crud", PASS) == arn  # idempotent for the same definition
    with pytest.raises(ClientError) as exc:
        create(sfn, "crud", {**PASS, "Comment": "other"})
    assert code(exc) == "StateMachineAlreadyExists"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["status"]) == (
        "crud",
        "STANDARD",
        "ACTIVE",
    )
    assert json.loads(described["definition"]) == PASS
    create(sfn, "crud-2", PASS, type="EXPRESS")
    first = sfn.list_state_machines(maxResults=1)
    second = sfn.list_state_machines(maxResults=1, nextToken=first["nextToken"])
    assert [m["name"] for m in first["stateMachines"] + second["stateMachines"]] == [
        "crud",
        "crud-2",
    ]
    assert "nextToken" not in second
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_done(sfn, run)
    new_def = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}}
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(new_def))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == new_def
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [
        run
    ]  # executions of the earlier revision are still listed
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert code(exc) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.list_tags_for_resource(resourceArn=arn)
    assert code(exc) == "ResourceNotFound"


MAP_CHOICE = {
    "QueryLanguage": "JSONPath",
    "StartAt": "Split",
    "States": {
        "Split": {
            "Type": "Pass",
            "Parameters": {
                "words.$": "States.StringSplit($.text, ' ')",
                "id.$": "States.Format('doc-{}', $.n)",
            },
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.words",
            "MaxConcurrency": 2,
            "ItemSelector": {"w.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            "ItemProcessor": {
                "StartAt": "Long?",
                "States": {
                    "Long?": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.w", "StringMatches": "*ing", "Next": "Gerund"}],
                        "Default": "Plain",
                    },
                    "Gerund": {"Type": "Pass", "Parameters": {"g.$": "$.w"}, "End": True},
                    "Plain": {
                        "Type": "Pass",
                        "Parameters": {"p.$": "States.Format('{}:{}', $.i, $.w)"},
                        "End": True,
                    },
                },
            },
            "ResultPath": "$.parts",
            "Next": "Sum",
        },
        "Sum": {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$.id",
                "parts.$": "$.parts",
                "count.$": "States.ArrayLength($.parts)",
                "total.$": "States.MathAdd(States.ArrayLength($.words), 10)",
            },
            "End": True,
        },
    },
}


def test_map_choice_intrinsics_exact_output(sfn: Any) -> None:
    arn = create(sfn, "words", MAP_CHOICE)
    run = sfn.start_execution(
        stateMachineArn=arn, name="w1", input=json.dumps({"text": "running a test", "n": 7})
    )
    assert run["executionArn"].endswith(":execution:words:w1")
    done = wait_done(sfn, run["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {
        "id": "doc-7",
        "parts": [{"g": "running"}, {"p": "1:a"}, {"p": "2:test"}],
        "count": 3,
        "total": 13,
    }
    assert (
        sfn.describe_state_machine_for_execution(executionArn=run["executionArn"])["name"]
        == "words"
    )
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert [e["name"] for e in listed] == ["w1"]
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] == []


def test_paginated_history(sfn: Any) -> None:
    arn = create(sfn, "hist", MAP_CHOICE)
    run = sfn.start_execution(
        stateMachineArn=arn,
        input=json.dumps({"text": " ".join(f"w{i}" for i in range(12)), "n": 1}),
    )["executionArn"]
    wait_done(sfn, run)
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = sfn.get_execution_history(executionArn=run, maxResults=7, **kw)
        assert len(page["events"]) <= 7
        pages.append(page["events"])
        token = page.get("nextToken")
        if token is None:
            break
    events = [e for p in pages for e in p]
    assert len(pages) > 5
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    newest = sfn.get_execution_history(executionArn=run, maxResults=2, reverseOrder=True)
    assert [e["id"] for e in newest["events"]] == [len(events), len(events) - 1]
    bare = sfn.get_execution_history(executionArn=run, maxResults=1, includeExecutionData=False)[
        "events"
    ][0]
    assert "input" not in bare["executionStartedEventDetails"]
    paginator = sfn.get_paginator("get_execution_history")
    assert sum(
        len(p["events"])
        for p in paginator.paginate(executionArn=run, PaginationConfig={"PageSize": 10})
    ) == len(events)


def test_error_codes(sfn: Any) -> None:
    arn = create(sfn, "errs", PASS)
    cases = [
        (lambda: sfn.describe_execution(executionArn="not-an-arn"), "InvalidArn"),
        (lambda: sfn.describe_execution(executionArn=arn), "InvalidArn"),  # wrong kind
        (
            lambda: sfn.start_execution(stateMachineArn=arn.replace("errs", "nope")),
            "StateMachineDoesNotExist",
        ),
        (
            lambda: sfn.describe_execution(
                executionArn=arn.replace("stateMachine:errs", "execution:errs:missing")
            ),
            "ExecutionDoesNotExist",
        ),
        (lambda: create(sfn, "bad", {"StartAt": "X", "States": {}}), "InvalidDefinition"),
        (
            lambda: sfn.create_state_machine(name="bad2", definition="{not json", roleArn=ROLE),
            "InvalidDefinition",
        ),
        (lambda: create(sfn, "bad name!", PASS), "InvalidName"),
        (lambda: create(sfn, "typ", PASS, type="FAST"), "ValidationException"),
        (lambda: sfn.start_execution(stateMachineArn=arn, input="{oops"), "InvalidExecutionInput"),
        (lambda: sfn.send_task_success(taskToken="x" * 40, output="{}"), "TaskDoesNotExist"),
        (lambda: sfn.send_task_success(taskToken="short", output="{}"), "InvalidToken"),
        (lambda: sfn.send_task_success(taskToken="x" * 40, output="{no"), "InvalidOutput"),
        (lambda: sfn.start_sync_execution(stateMachineArn=arn), "StateMachineTypeNotSupported"),
        (
            lambda: sfn.describe_map_run(
                mapRunArn=arn.replace("stateMachine:errs", "mapRun:errs/m:1")
            ),
            "ResourceNotFound",
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == expected, (expected, exc.value.response["Error"])
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    run = sfn.start_execution(stateMachineArn=arn, name="once")["executionArn"]
    wait_done(sfn, run)
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"other": 1}')
    assert code(exc) == "ExecutionAlreadyExists"
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn=run)  # SUCCEEDED: never redrivable
    assert code(exc) == "ExecutionNotRedrivable"
    assert sfn.describe_execution(executionArn=run)["redriveStatus"] == "NOT_REDRIVABLE"


def test_activity_worker(sfn: Any) -> None:
    activity = sfn.create_activity(name="summarise")["activityArn"]
    assert sfn.describe_activity(activityArn=activity)["name"] == "summarise"
    assert [a["name"] for a in sfn.list_activities()["activities"]] == ["summarise"]
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": activity,
                "TimeoutSeconds": 30,
                "ResultPath": "$.summary",
                "End": True,
            }
        },
    }
    arn = create(sfn, "with-activity", definition)
    seen: list[dict[str, Any]] = []

    def worker() -> None:
        for _ in range(10):  # bounded: each poll waits at most the server's 2 s
            task = sfn.get_activity_task(activityArn=activity, workerName="w-1")
            if task.get("taskToken"):
                seen.append(json.loads(task["input"]))
                sfn.send_task_heartbeat(taskToken=task["taskToken"])
                sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"words": 3}))
                return

    thread = threading.Thread(target=worker)
    thread.start()
    run = sfn.start_execution(stateMachineArn=arn, input='{"doc": "a b c"}')["executionArn"]
    thread.join(timeout=30)
    done = wait_done(sfn, run)
    assert seen == [{"doc": "a b c"}]
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"doc": "a b c", "summary": {"words": 3}}
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert types[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    started = time.monotonic()
    assert "taskToken" not in sfn.get_activity_task(activityArn=activity)  # long poll, empty
    assert 1.5 < time.monotonic() - started < 10
    sfn.delete_activity(activityArn=activity)
    with pytest.raises(ClientError) as exc:
        sfn.describe_activity(activityArn=activity)
    assert code(exc) == "ActivityDoesNotExist"


def test_activity_failure_is_caught(sfn: Any) -> None:
    activity = sfn.create_activity(name="flaky")["activityArn"]
    arn = create(
        sfn,
        "catching",
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": activity,
                    "Catch": [
                        {"ErrorEquals": ["Custom.Bad"], "ResultPath": "$.err", "Next": "Done"}
                    ],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        },
    )
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    task = {}
    for _ in range(10):
        task = sfn.get_activity_task(activityArn=activity)
        if task.get("taskToken"):
            break
    sfn.send_task_failure(taskToken=task["taskToken"], error="Custom.Bad", cause="no")
    done = wait_done(sfn, run)
    assert json.loads(done["output"]) == {"err": {"Error": "Custom.Bad", "Cause": "no"}}


def test_sync_stop_and_express(sfn: Any) -> None:
    express = create(sfn, "quick", PASS, type="EXPRESS")
    out = sfn.start_sync_execution(stateMachineArn=express, input='{"a": 1}')
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"v": 1}
    assert out["billingDetails"]["billedDurationInMilliseconds"] >= 100
    slow = create(
        sfn,
        "slow",
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}},
    )
    run = sfn.start_execution(stateMachineArn=slow)["executionArn"]
    stopped = sfn.stop_execution(executionArn=run, error="Stop.Manual", cause="test")
    assert stopped["stopDate"]
    done = sfn.describe_execution(executionArn=run)
    assert (done["status"], done["error"], done["cause"]) == ("ABORTED", "Stop.Manual", "test")


def test_distributed_map_runs(sfn: Any) -> None:
    arn = create(
        sfn,
        "dmap",
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "Label": "Fan",
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Double",
                        "States": {
                            "Double": {
                                "Type": "Pass",
                                "Parameters": {"v.$": "States.MathAdd($.v, $.v)"},
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                }
            },
        },
    )
    run = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"items": [{"v": 1}, {"v": 2}, {"v": 3}]})
    )["executionArn"]
    done = wait_done(sfn, run)
    assert json.loads(done["output"]) == [{"v": 2}, {"v": 4}, {"v": 6}]
    runs = sfn.list_map_runs(executionArn=run)["mapRuns"]
    assert len(runs) == 1 and runs[0]["stateMachineArn"] == arn
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert described["status"] == "SUCCEEDED"
    assert described["itemCounts"]["succeeded"] == 3
    children = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
    assert len(children) == 3 and {c["status"] for c in children} == {"SUCCEEDED"}


def test_validate_and_test_state(served: Served, sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    bad = sfn.validate_state_machine_definition(
        definition=json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
        )
    )
    assert bad["result"] == "FAIL"
    assert any("/States/A" in d["location"] for d in bad["diagnostics"])
    passed = sfn.test_state(
        definition=json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "After"}),
        roleArn=ROLE,
        input='{"a": 5}',
    )
    assert (passed["status"], passed["nextState"], json.loads(passed["output"])) == (
        "SUCCEEDED",
        "After",
        {"x": 5},
    )
    choice = sfn.test_state(
        definition=json.dumps(
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}],
                "Default": "Small",
            }
        ),
        roleArn=ROLE,
        input='{"n": 1}',
    )
    assert (choice["status"], choice["nextState"]) == ("SUCCEEDED", "Small")
    served.engine.register_function("double", lambda event, ctx: {"d": event["n"] * 2})
    task = sfn.test_state(
        definition=json.dumps(
            {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                "End": True,
            }
        ),
        roleArn=ROLE,
        input='{"n": 4}',
        inspectionLevel="DEBUG",
    )
    assert (task["status"], json.loads(task["output"])) == ("SUCCEEDED", {"d": 8})
    assert json.loads(task["inspectionData"]["result"]) == {"d": 8}

    def boom(event: Any, ctx: Any) -> Any:
        raise ValueError("nope")

    served.engine.register_function("boom", boom)
    caught = sfn.test_state(
        definition=json.dumps(
            {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:boom",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}],
                "End": True,
            }
        ),
        roleArn=ROLE,
        input="{}",
    )
    assert (caught["status"], caught["nextState"], caught["error"]) == (
        "CAUGHT_ERROR",
        "Handler",
        "ValueError",
    )
    failed = sfn.test_state(
        definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}), roleArn=ROLE
    )
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")


def test_redrive_on_a_durable_engine(tmp_path: Any) -> None:
    durable = pytest.importorskip("kbflow.runtime.durable")
    from console_helpers import serve

    engine = durable.DurableEngine(tmp_path / "store")
    fixed = {"ok": False}

    def step(event: Any, ctx: Any) -> Any:
        if not fixed["ok"]:
            raise RuntimeError("not yet")
        return {"done": True}

    engine.register_function("step", step)
    try:
        for served in serve(engine):
            sfn = served.client()
            arn = create(
                sfn,
                "redrivable",
                {
                    "StartAt": "Step",
                    "States": {
                        "Step": {
                            "Type": "Task",
                            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:step",
                            "End": True,
                        }
                    },
                },
            )
            run = sfn.start_execution(stateMachineArn=arn, name="r1")["executionArn"]
            failed = wait_done(sfn, run)
            assert (failed["status"], failed["redriveStatus"]) == ("FAILED", "REDRIVABLE")
            fixed["ok"] = True
            assert sfn.redrive_execution(executionArn=run)["redriveDate"]
            done = wait_done(sfn, run)
            assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"done": True}
            assert done["redriveCount"] == 1
    finally:
        engine.close()
