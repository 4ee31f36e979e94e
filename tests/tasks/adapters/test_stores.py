"""Task stores: the same behaviour from SQLite and from DynamoDB/SNS (moto)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from kbflow.tasks.adapters import dynamo, stores
from kbflow.tasks.adapters.records import (
    AuditRecord,
    ManifestEntry,
    QuarantineRecord,
    ReviewRequest,
)
from kbflow.tasks.catalog import TABLES, ResourceKind
from moto import mock_aws


class Backends:
    def __init__(self, manifest: Any, quarantine: Any, reviews: Any, audit: Any) -> None:
        self.manifest, self.quarantine, self.reviews, self.audit = (
            manifest,
            quarantine,
            reviews,
            audit,
        )


def _create_tables(ddb: Any) -> dict[ResourceKind, Any]:
    tables = {}
    for spec in TABLES:
        keys = [(spec.partition_key, "HASH")] + (
            [(spec.sort_key, "RANGE")] if spec.sort_key else []
        )
        attrs = {k for k, _ in keys} | {a for _, p, s in spec.indexes for a in (p, s) if a}
        kwargs: dict[str, Any] = {
            "TableName": spec.kind.value,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in keys],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)
            ],
        }
        if spec.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": name,
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": p, "KeyType": "HASH"}]
                    + ([{"AttributeName": s, "KeyType": "RANGE"}] if s else []),
                }
                for name, p, s in spec.indexes
            ]
        tables[spec.kind] = ddb.create_table(**kwargs)
    return tables


@pytest.fixture(params=["sqlite", "dynamodb"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backends]:
    if request.param == "sqlite":
        db = stores.SqliteDatabase(tmp_path / "kbflow.sqlite3")
        yield Backends(
            stores.SqliteManifest(db),
            stores.SqliteQuarantine(db),
            stores.SqliteReviewStore(db),
            stores.SqliteAudit(db),
        )
        db.close()
        return
    with mock_aws():
        t = _create_tables(boto3.resource("dynamodb", region_name="us-east-1"))
        yield Backends(
            dynamo.DynamoManifest(t[ResourceKind.MANIFEST_TABLE]),
            dynamo.DynamoQuarantine(t[ResourceKind.QUARANTINE_TABLE]),
            dynamo.DynamoReviewStore(t[ResourceKind.REVIEWS_TABLE]),
            dynamo.DynamoAudit(t[ResourceKind.AUDIT_TABLE]),
        )


def _entry(doc_id: str, source: str = "file/src/", **kw: Any) -> ManifestEntry:
    fields: dict[str, Any] = {
        "sha256": "a" * 64,
        "key": f"src/{doc_id}.txt",
        "run_id": "r1",
        "status": "indexed",
        "chunks": 3,
        **kw,
    }
    return ManifestEntry(doc_id=doc_id, source=source, **fields)


def test_manifest_get_put_list_delete(backends: Backends) -> None:
    m = backends.manifest
    assert isinstance(m, stores.Manifest)
    assert m.get("d1") is None
    m.put(_entry("d1", etag='"e"'))
    m.put(_entry("d2"))
    m.put(_entry("d3", source="other/"))
    assert m.get("d1") == _entry("d1", etag='"e"', updated_at=m.get("d1").updated_at)  # type: ignore[union-attr]
    assert [e.doc_id for e in m.list_for_source("file/src/")] == ["d1", "d2"]
    m.put(_entry("d1", chunks=7))
    assert m.get("d1").chunks == 7  # type: ignore[union-attr]
    m.delete("d1")
    m.delete("never-there")
    assert m.get("d1") is None
    assert [e.doc_id for e in m.list_for_source("file/src/")] == ["d2"]


def test_quarantine_records_by_run(backends: Backends) -> None:
    q = backends.quarantine
    record = QuarantineRecord(
        run_id="r1",
        doc_id="d1",
        key="bad.pdf",
        source="s",
        error="Kbflow.X",
        cause="corrupt",
        stage="extract",
        original="r1/d1/bad.pdf",
    )
    q.put(record)
    q.put(
        QuarantineRecord(
            run_id="r2", doc_id="d1", key="bad.pdf", source="s", error="E", cause="c", stage="fetch"
        )
    )
    assert q.list_for_run("r1") == [record]
    assert len(q.list_for_run("r2")) == 1 and q.list_for_run("r3") == []


def _request(review_id: str = "rv1", at: str = "2026-01-01T00:00:00Z") -> ReviewRequest:
    return ReviewRequest(
        review_id=review_id,
        execution_arn="arn:x",
        item={"id": "d1", "score": 0.5},
        reason="pii",
        task_token="TOKEN-SECRET",
        requested_at=at,
        deadline="2026-01-02T00:00:00Z",
    )


def test_reviews_put_get_update_list(backends: Backends) -> None:
    r = backends.reviews
    r.put(_request())
    r.put(_request("rv2", "2026-01-01T00:00:01Z"))
    got = r.get("rv1")
    assert (
        got is not None
        and got.task_token == "TOKEN-SECRET"
        and got.item == {"id": "d1", "score": 0.5}
    )
    updated = r.update("rv1", status="decided", decision={"decision": "approve", "reviewer": "ann"})
    assert updated.status == "decided" and r.get("rv1") == updated
    assert [x.review_id for x in r.list()] == ["rv1", "rv2"]
    assert [x.review_id for x in r.list("pending")] == ["rv2"]
    with pytest.raises(KeyError):
        r.update("missing", status="decided")


def test_review_token_is_hidden_from_repr_and_public_view() -> None:
    request = _request()
    assert "TOKEN-SECRET" not in repr(request)
    assert "task_token" not in request.public()


def test_audit_appends_in_order_per_subject(backends: Backends) -> None:
    a = backends.audit
    first = a.append(
        AuditRecord(subject="d1", action="request", actor="system", at="2026-01-01T00:00:00.000Z")
    )
    a.append(
        AuditRecord(
            subject="d1",
            action="approve",
            actor="ann",
            reason="fine",
            details={"k": 1},
            at="2026-01-01T00:00:01.000Z",
        )
    )
    a.append(AuditRecord(subject="d2", action="reject", actor="bob", at="2026-01-01T00:00:02.000Z"))
    assert first.seq.startswith("2026-01-01T00:00:00.000Z#")
    assert [x.action for x in a.list("d1")] == ["request", "approve"]
    assert a.list("d1")[1].details == {"k": 1}
    assert len(a.list()) == 3


def test_sqlite_audit_refuses_updates_and_deletes(tmp_path: Path) -> None:
    db = stores.SqliteDatabase(tmp_path / "kbflow.sqlite3")
    stores.SqliteAudit(db).append(AuditRecord(subject="d1", action="approve", actor="ann"))
    conn = sqlite3.connect(tmp_path / "kbflow.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET subject = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()


def test_dynamo_audit_never_overwrites() -> None:
    with mock_aws():
        t = _create_tables(boto3.resource("dynamodb", region_name="us-east-1"))
        audit = dynamo.DynamoAudit(t[ResourceKind.AUDIT_TABLE])
        stored = audit.append(AuditRecord(subject="d1", action="approve", actor="ann"))
        with pytest.raises(Exception, match="ConditionalCheckFailed"):
            t[ResourceKind.AUDIT_TABLE].put_item(
                Item={"subject": "d1", "seq": stored.seq, "action": "x"},
                ConditionExpression="attribute_not_exists(subject) AND attribute_not_exists(seq)",
            )


def test_sqlite_notifier_inbox(tmp_path: Path) -> None:
    notifier = stores.SqliteNotifier(stores.SqliteDatabase(tmp_path / "kbflow.sqlite3"))
    message_id = notifier.notify("review needed", {"review_id": "rv1"})
    inbox = notifier.inbox()
    assert [n.notification_id for n in inbox] == [message_id]
    assert inbox[0].message == {"review_id": "rv1"}


def test_sns_notifier_publishes_json() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="kbflow-reviews")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        message_id = dynamo.SnsNotifier(sns, topic).notify("x" * 150, {"review_id": "rv1"})
        body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
        assert body["MessageId"] == message_id
        assert json.loads(body["Message"]) == {"review_id": "rv1"}
        assert len(body["Subject"]) == 100


def _writer(path: str, worker: int) -> None:
    db = stores.SqliteDatabase(path, busy_timeout_s=30)
    manifest = stores.SqliteManifest(db)
    for i in range(40):
        manifest.put(
            ManifestEntry(
                doc_id=f"w{worker}-{i}",
                sha256="0" * 64,
                key="k",
                source="s",
                run_id="r",
                status="indexed",
            )
        )


def test_sqlite_is_safe_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "kbflow.sqlite3")
    stores.SqliteDatabase(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    db = stores.SqliteDatabase(path)
    assert len(stores.SqliteManifest(db).list_for_source("s")) == 120
    assert db.query("PRAGMA journal_mode")[0][0] == "wal"
