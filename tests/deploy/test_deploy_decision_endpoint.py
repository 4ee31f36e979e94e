"""The review decision endpoint (function URL handler) against DynamoDB (moto) and a stubbed
Step Functions client (botocore Stubber): validation, SendTaskSuccess/Failure/Heartbeat, audit."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from kbflow.deploy.storage import table_id, table_resources
from kbflow.tasks.adapters.dynamo import DynamoAudit, DynamoReviewStore
from kbflow.tasks.adapters.records import ReviewRequest
from kbflow.tasks.catalog import TABLES, ResourceKind
from kbflow.tasks.handlers.decision_endpoint import InvalidRequest, handle, parse_request
from moto import mock_aws

REVIEWER = "arn:aws:iam::123456789012:user/alice"
TOKEN = "token-secret-123"


def _create(ddb: Any, kind: ResourceKind) -> Any:
    """A table with exactly the key schema the stack declares."""
    table = next(t for t in TABLES if t.kind == kind)
    props = dict(table_resources((table,))[table_id(table)]["Properties"])
    for key in (
        "PointInTimeRecoverySpecification",
        "SSESpecification",
        "DeletionProtectionEnabled",
    ):
        props.pop(key)
    return ddb.create_table(TableName=table_id(table), **props)


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DynamoReviewStore, DynamoAudit]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="eu-west-1")
        reviews = DynamoReviewStore(_create(ddb, ResourceKind.REVIEWS_TABLE))
        audit = DynamoAudit(_create(ddb, ResourceKind.AUDIT_TABLE))
        reviews.put(
            ReviewRequest(
                review_id="r1",
                execution_arn="arn:aws:states:eu-west-1:1:execution:hr:e1",
                item={"id": "doc-7"},
                reason="pii",
                task_token=TOKEN,
            )
        )
        yield reviews, audit


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _event(
    body: Any, *, caller: str | None = REVIEWER, method: str = "POST", b64: bool = False
) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    ctx: dict[str, Any] = {"http": {"method": method}}
    if caller:
        ctx["authorizer"] = {"iam": {"userArn": caller, "accountId": "123456789012"}}
    if b64:
        raw = base64.b64encode(raw.encode()).decode()
    return {"requestContext": ctx, "body": raw, "isBase64Encoded": b64}


def _call(event: dict[str, Any], stores: Any, sfn: Any) -> tuple[int, dict[str, Any]]:
    reviews, audit = stores
    response = handle(event, reviews=reviews, audit=audit, sfn=sfn[0])
    return response["statusCode"], json.loads(response["body"])


def test_approve_sends_task_success_audits_and_closes_the_review(stores, sfn):
    client, stubber = sfn
    expected = {"decision": "approve", "reviewer": REVIEWER, "comment": "fine"}
    stubber.add_response(
        "send_task_success",
        {},
        {"taskToken": TOKEN, "output": json.dumps(expected, sort_keys=True)},
    )
    status, body = _call(
        _event({"review_id": "r1", "decision": "approve", "comment": "fine"}, b64=True), stores, sfn
    )
    assert (status, body["decision"]) == (200, expected)
    reviews, audit = stores
    assert reviews.get("r1").status == "decided"
    (record,) = audit.list("doc-7")
    assert (record.action, record.actor, record.reason) == ("approve", REVIEWER, "fine")
    assert TOKEN not in json.dumps(record.to_dict()) and TOKEN not in json.dumps(body)


def test_edit_carries_the_edits_and_the_signer_is_the_reviewer(stores, sfn):
    client, stubber = sfn
    out = {"decision": "edit", "edits": {"text": "redacted"}, "reviewer": REVIEWER}
    stubber.add_response(
        "send_task_success", {}, {"taskToken": TOKEN, "output": json.dumps(out, sort_keys=True)}
    )
    status, _ = _call(
        _event({"review_id": "r1", "decision": "edit", "edits": {"text": "redacted"}}), stores, sfn
    )
    assert status == 200


def test_fail_sends_task_failure(stores, sfn):
    client, stubber = sfn
    stubber.add_response(
        "send_task_failure",
        {},
        {"taskToken": TOKEN, "error": "Kbflow.ReviewWithdrawn", "cause": "duplicate"},
    )
    body = {"review_id": "r1", "fail": {"error": "Kbflow.ReviewWithdrawn", "cause": "duplicate"}}
    status, _ = _call(_event(body), stores, sfn)
    assert status == 200
    (record,) = stores[1].list("doc-7")
    assert record.action == "fail" and "Kbflow.ReviewWithdrawn" in record.reason


def test_heartbeat_extends_without_closing(stores, sfn):
    sfn[1].add_response("send_task_heartbeat", {}, {"taskToken": TOKEN})
    status, _ = _call(_event({"review_id": "r1", "heartbeat": True}), stores, sfn)
    assert status == 200
    assert stores[0].get("r1").status == "pending" and stores[1].list("doc-7") == []


def test_closed_review_is_a_conflict(stores, sfn):
    stores[0].update("r1", status="decided")
    status, body = _call(_event({"review_id": "r1", "decision": "reject"}), stores, sfn)
    assert status == 409 and "decided" in body["error"]


def test_timed_out_task_is_gone_and_nothing_is_audited(stores, sfn):
    sfn[1].add_client_error(
        "send_task_success", service_error_code="TaskTimedOut", service_message="timed out"
    )
    status, body = _call(_event({"review_id": "r1", "decision": "reject"}), stores, sfn)
    assert status == 410 and "TaskTimedOut" in body["error"]
    assert stores[1].list("doc-7") == [] and stores[0].get("r1").status == "pending"


@pytest.mark.parametrize(
    ("event_kwargs", "status"),
    [
        ({"body": {"review_id": "r1", "decision": "approve"}, "caller": None}, 401),
        ({"body": {"review_id": "r1", "decision": "approve"}, "method": "GET"}, 405),
        ({"body": {"review_id": "nope", "decision": "approve"}}, 404),
        ({"body": "not json"}, 400),
        ({"body": {"review_id": "r1", "decision": "maybe"}}, 400),
    ],
)
def test_refusals_touch_nothing(stores, sfn, event_kwargs, status):
    body = event_kwargs.pop("body")
    code, _ = _call(_event(body, **event_kwargs), stores, sfn)
    assert code == status
    assert stores[0].get("r1").status == "pending"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"decision": "approve"}, "review_id"),
        ({"review_id": "r1"}, "exactly one"),
        ({"review_id": "r1", "decision": "approve", "heartbeat": True}, "exactly one"),
        ({"review_id": "r1", "decision": "edit"}, "edits.text"),
        ({"review_id": "r1", "decision": "approve", "edits": {"text": "x"}}, "only allowed"),
        ({"review_id": "r1", "decision": "approve", "reviewer": "mallory"}, "unknown field"),
        ({"review_id": "r1", "decision": "approve", "comment": "x" * 2001}, "comment"),
        ({"review_id": "r1", "fail": {"error": "States.Timeout"}}, "Kbflow"),
        ({"review_id": "r1", "heartbeat": "yes"}, "heartbeat must be true"),
    ],
)
def test_parse_request_rejects(body, message):
    with pytest.raises(InvalidRequest, match=message):
        parse_request(body)
