"""client.reviews on AWS: pending reviews read from the DynamoDB tables the deploy outputs name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import kbflow
import pytest
from kbflow import Client, MockBackend, Registry, StoreReviewSource
from kbflow._reviews import review_source_from_outputs
from moto import mock_aws
from sdk_fakes import CALLBACK, FakeStepFunctions

records = pytest.importorskip("kbflow.tasks.adapters.records")
catalog = pytest.importorskip("kbflow.tasks.catalog")
OUTPUTS = {"ReviewsTableName": "kbflow-reviews", "AuditTableName": "kbflow-audit"}


def _create(ddb: Any, name: str, table: Any) -> None:
    keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
    attrs = {k for k, _ in keys} | {a for _, p, s in table.indexes for a in (p, s) if a}
    indexes = [
        {
            "IndexName": n,
            "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": p, "KeyType": "HASH"}]
            + ([{"AttributeName": s, "KeyType": "RANGE"}] if s else []),
        }
        for n, p, s in table.indexes
    ]
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        kinds = {
            catalog.ResourceKind.REVIEWS_TABLE: OUTPUTS["ReviewsTableName"],
            catalog.ResourceKind.AUDIT_TABLE: OUTPUTS["AuditTableName"],
        }
        for table in catalog.TABLES:
            if table.kind in kinds:
                _create(ddb, kinds[table.kind], table)
        source = review_source_from_outputs(OUTPUTS, region="us-east-1")
        assert isinstance(source, StoreReviewSource)
        yield source


def _request(
    source: StoreReviewSource,
    review_id: str,
    token: str,
    *,
    at: str,
    status: str = "pending",
    arn: str = "arn:aws:states:us-east-1:123456789012:execution:kbflow-human-review:x",
) -> None:
    source.store.put(
        records.ReviewRequest(
            review_id=review_id,
            execution_arn=arn,
            item={"id": review_id},
            reason="pii",
            task_token=token,
            requested_at=at,
            status=status,
            escalated=status == "escalated",
        )
    )


def test_outputs_without_a_reviews_table_give_no_source() -> None:
    assert review_source_from_outputs({}) is None


def test_client_aws_reads_pending_reviews_from_dynamodb(tables: StoreReviewSource) -> None:
    _request(tables, "b", "token-b", at="2026-03-01T12:05:00.000Z")
    _request(tables, "a", "x", at="2026-03-01T12:00:00.000Z", status="escalated")
    _request(tables, "c", "token-c", at="2026-03-01T11:00:00.000Z", status="decided")
    client = Client.aws(region="us-east-1", registry=Registry(outputs=OUTPUTS, environ={}))
    pending = client.reviews.pending()
    assert [(r.review_id, r.escalated) for r in pending] == [("a", True), ("b", False)]
    with pytest.raises((kbflow.InvalidToken, kbflow.TaskDoesNotExist)):  # moto knows no such token
        client.reviews.decide(pending[0], decision="approve", reviewer="ana")
    assert tables.store.get("a").status == "escalated"  # nothing recorded for an unsent decision


def test_a_decision_is_recorded_in_dynamodb_and_audited(tables: StoreReviewSource) -> None:
    fake = FakeStepFunctions()
    client = Client(backend=MockBackend(fake), reviews=tables)
    run = client.start(fake.create("kbflow-human-review", CALLBACK), {})
    _request(tables, "r1", next(iter(fake.tokens)), at="2026-03-01T12:00:00.000Z", arn=run.arn)
    [review] = client.reviews.pending()
    client.reviews.decide(review, decision="approve", reviewer="ana", comment="fine")
    assert client.wait(run, timeout=1) == {
        "decision": "approve",
        "reviewer": "ana",
        "comment": "fine",
    }
    assert tables.store.get("r1").status == "decided"
    assert tables.audit is not None
    [audit] = tables.audit.list("r1")
    assert audit.details["via"] == "kbflow.Client"
    assert (audit.action, audit.actor, audit.execution_arn) == ("approve", "ana", run.arn)
