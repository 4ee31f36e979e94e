"""kbflow.workflows._tasks: the Lambda task builder and retry policy shared by the flows."""

from __future__ import annotations

from kbflow.workflows._tasks import (
    LAMBDA_INVOKE,
    STATE_TIMEOUT_MARGIN,
    TRANSIENT_ERRORS,
    catch_all,
    chain,
    function_arn,
    lambda_task,
    payload_step,
    transient_retry,
)
from kbflow.workflows.asl import Succeed


def test_function_arn_placeholder() -> None:
    assert function_arn("FetchDocument") == "${FetchDocumentFunctionArn}"


def test_transient_retry_is_jittered_and_bounded() -> None:
    first, timeout = (r.to_dict() for r in transient_retry())
    assert first["ErrorEquals"] == list(TRANSIENT_ERRORS)
    assert first["JitterStrategy"] == "FULL" and first["MaxDelaySeconds"] == 60
    assert timeout["ErrorEquals"] == ["States.Timeout"]
    assert [r.to_dict()["ErrorEquals"] for r in transient_retry(idempotent=False)] == [
        list(TRANSIENT_ERRORS)
    ]


def test_lambda_task_payload_forms_and_timeout_margin() -> None:
    whole = lambda_task("A", function="Fn", comment="c", timeout_seconds=30).to_dict()
    assert whole["Resource"] == LAMBDA_INVOKE
    assert whole["Parameters"] == {"FunctionName": "${FnFunctionArn}", "Payload.$": "$"}
    assert whole["TimeoutSeconds"] == 30 + STATE_TIMEOUT_MARGIN
    shaped = lambda_task(
        "B", function="Fn", comment="c", timeout_seconds=1, payload={"k.$": "$.k"}
    ).to_dict()
    assert shaped["Parameters"]["Payload"] == {"k.$": "$.k"}


def test_payload_step_and_chain() -> None:
    done = Succeed("Done", comment="d")
    step = payload_step(catch_all(done))
    first = chain([step(("One", "Fn", 10, "c")), step(("Two", "Fn", 10, "c"))], done)
    d = first.to_dict()
    assert d["OutputPath"] == "$.Payload" and d["Next"] == "Two"
    assert d["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]
    assert first.next_step.to_dict()["Next"] == "Done"
