"""Reading a definition's needs: the source of every state machine role."""

from __future__ import annotations

import pytest
from kbflow.deploy.machines import role_statements
from kbflow.deploy.scan import DYNAMIC, placeholders, scan
from kbflow.errors import ConfigurationError


def _task(resource: str, **params: object) -> dict[str, object]:
    return {"Type": "Task", "Resource": resource, "Parameters": params, "End": True}


NESTED = {
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                {
                    "StartAt": "A",
                    "States": {
                        "A": _task(
                            "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            FunctionName="${RequestReviewFunctionArn}",
                        )
                    },
                },
                {
                    "StartAt": "M",
                    "States": {
                        "M": {
                            "Type": "Map",
                            "End": True,
                            "ItemReader": {
                                "Resource": "arn:aws:states:::s3:getObject",
                                "Parameters": {"Bucket.$": "$.list.bucket", "Key.$": "$.list.key"},
                            },
                            "ItemProcessor": {
                                "ProcessorConfig": {
                                    "Mode": "DISTRIBUTED",
                                    "ExecutionType": "EXPRESS",
                                },
                                "StartAt": "S",
                                "States": {
                                    "S": _task(
                                        "arn:aws:states:::states:startExecution.sync:2",
                                        StateMachineArn="${HumanReviewStateMachineArn}",
                                    )
                                },
                            },
                        }
                    },
                },
                {
                    "StartAt": "D",
                    "States": {
                        "D": {"Type": "Task", "Resource": "${WriteAuditFunctionArn}", "End": True}
                    },
                },
            ],
        },
    },
}


def test_scan_walks_branches_and_map_processors():
    needs = scan(NESTED)
    assert needs.functions == {"RequestReviewFunctionArn", "WriteAuditFunctionArn"}
    assert needs.sync_executions == {"HumanReviewStateMachineArn"}
    assert needs.distributed_map
    assert needs.read_buckets == {DYNAMIC + "$.list.bucket"}


def test_sync_child_and_dynamic_reader_permissions():
    statements = {s["Sid"]: s for s in role_statements("reindex", scan(NESTED))}
    assert set(statements["SyncChildren"]["Action"]) == {
        "states:DescribeExecution",
        "states:StopExecution",
    }
    assert (
        "StepFunctionsGetEventsForStepFunctionsExecutionRule"
        in statements["SyncChildrenEvents"]["Resource"][0]["Fn::Sub"]
    )
    assert statements["ItemReaderGet"]["Resource"] == [{"Fn::Sub": "${WorkBucket.Arn}/*"}]
    started = str(statements["StartExecutions"]["Resource"])
    assert "human-review" in started and "reindex" in started


def test_placeholders_are_found_in_text():
    assert placeholders('{"a": "${XFunctionArn}", "b": "$.c", "d": "${Y_2}"}') == {
        "XFunctionArn",
        "Y_2",
    }


def test_literal_bucket_outside_the_stack_is_refused():
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "End": True,
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "someone-elses"},
                },
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            }
        },
    }
    with pytest.raises(ConfigurationError, match="someone-elses"):
        role_statements("ingestion", scan(definition))


def test_unknown_state_machine_placeholder_is_refused():
    definition = {
        "StartAt": "S",
        "States": {
            "S": _task(
                "arn:aws:states:::states:startExecution", StateMachineArn="${OtherStateMachineArn}"
            )
        },
    }
    with pytest.raises(ConfigurationError, match="OtherStateMachineArn"):
        role_statements("ingestion", scan(definition))
