"""client.reviews: pending reviews and decisions that resume the waiting execution."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kbflow
import pytest
from conftest import FakeTime
from kbflow import Client, ExecutionStatus, MockBackend, Review, ReviewSource, StoreReviewSource
from sdk_fakes import CALLBACK, FakeStepFunctions

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class MemoryReviews:
    """A ReviewSource over a list, recording decisions."""

    def __init__(self) -> None:
        self.reviews: list[Review] = []
        self.decided: list[tuple[str, dict[str, Any]]] = []

    def pending(self) -> list[Review]:
        done = {rid for rid, _ in self.decided}
        return [r for r in self.reviews if r.review_id not in done]

    def record_decision(self, review: Review, decision: Mapping[str, Any]) -> None:
        self.decided.append((review.review_id, dict(decision)))


@pytest.fixture
def source() -> MemoryReviews:
    return MemoryReviews()


@pytest.fixture
def review_client(
    fake_sfn: FakeStepFunctions, fake_time: FakeTime, source: MemoryReviews
) -> Client:
    return Client(
        backend=MockBackend(fake_sfn),
        reviews=source,
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )


def _request_review(
    client: Client, fake: FakeStepFunctions, source: MemoryReviews, n: int, *, age: int = 0
) -> Review:
    """Start a callback execution and file its review, as RequestReview would."""
    run = client.start(fake.create(f"review-{n}", CALLBACK), {"item": {"id": f"doc-{n}"}})
    token = next(t for t, arn in fake.tokens.items() if arn == run.arn)
    review = Review(
        execution_arn=run.arn,
        review_id=f"r{n}",
        item={"id": f"doc-{n}"},
        reason="pii",
        requested_at=NOW - timedelta(minutes=age),
        deadline=NOW + timedelta(days=1),
        _token=token,
    )
    source.reviews.append(review)
    return review


def test_memory_source_satisfies_the_protocol(source: MemoryReviews) -> None:
    assert isinstance(source, ReviewSource)


def test_pending_is_oldest_first_and_hides_the_token(
    review_client: Client, fake_sfn: FakeStepFunctions, source: MemoryReviews
) -> None:
    newer = _request_review(review_client, fake_sfn, source, 1, age=1)
    older = _request_review(review_client, fake_sfn, source, 2, age=5)
    assert review_client.reviews.pending() == [older, newer]
    assert "token" not in repr(newer)


@pytest.mark.parametrize(
    ("decision", "kwargs", "expected"),
    [
        ("approve", {}, {"decision": "approve", "reviewer": "ana"}),
        (
            "reject",
            {"comment": "contains a card number"},
            {"decision": "reject", "reviewer": "ana", "comment": "contains a card number"},
        ),
        (
            "edit",
            {"edits": {"text": "redacted"}},
            {"decision": "edit", "reviewer": "ana", "edits": {"text": "redacted"}},
        ),
    ],
)
def test_decide_resumes_the_execution_with_the_decision(
    review_client: Client,
    fake_sfn: FakeStepFunctions,
    source: MemoryReviews,
    decision: Any,
    kwargs: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    review = _request_review(review_client, fake_sfn, source, 1)
    sent = review_client.reviews.decide(review, decision=decision, reviewer="ana", **kwargs)
    assert sent == expected
    assert review_client.wait(review.execution_arn, timeout=1) == expected
    assert source.decided == [("r1", expected)]
    assert review_client.reviews.pending() == []


@pytest.mark.parametrize(
    ("decision", "kwargs", "pointer"),
    [
        ("maybe", {}, "/decision"),
        ("edit", {}, "/edits/text"),
        ("edit", {"edits": {"text": ""}}, "/edits/text"),
        ("approve", {"comment": "x" * 2001}, "/comment"),
        ("approve", {"edits": {"text": "x"}}, "/edits"),
        ("approve", {"reviewer": "  "}, "/reviewer"),
    ],
)
def test_malformed_decisions_send_nothing(
    review_client: Client,
    fake_sfn: FakeStepFunctions,
    source: MemoryReviews,
    decision: Any,
    kwargs: dict[str, Any],
    pointer: str,
) -> None:
    review = _request_review(review_client, fake_sfn, source, 1)
    kwargs.setdefault("reviewer", "ana")
    with pytest.raises(kbflow.ValidationError) as info:
        review_client.reviews.decide(review, decision=decision, **kwargs)
    assert info.value.pointer == pointer
    assert "SendTaskSuccess" not in fake_sfn.operations() and source.decided == []
    assert review_client.describe(review.execution_arn).status is ExecutionStatus.RUNNING


def test_heartbeat_keeps_a_review_alive(
    review_client: Client, fake_sfn: FakeStepFunctions, source: MemoryReviews
) -> None:
    review = _request_review(review_client, fake_sfn, source, 1)
    review_client.reviews.heartbeat(review)
    assert fake_sfn.requests[-1].operation == "SendTaskHeartbeat"
    assert fake_sfn.requests[-1].params == {"taskToken": review._token}
    fake_sfn.timed_out_tokens.add(review._token)
    with pytest.raises(kbflow.TaskTimedOut):
        review_client.reviews.heartbeat(review)


def test_deciding_a_timed_out_review_raises_and_is_not_recorded(
    review_client: Client, fake_sfn: FakeStepFunctions, source: MemoryReviews
) -> None:
    review = _request_review(review_client, fake_sfn, source, 1)
    fake_sfn.timed_out_tokens.add(review._token)
    with pytest.raises(kbflow.TaskTimedOut):
        review_client.reviews.decide(review, decision="approve", reviewer="ana")
    assert source.decided == []


def test_reviews_without_a_source_is_a_configuration_error(mock_client: Client) -> None:
    with pytest.raises(kbflow.ConfigurationError, match="review source"):
        mock_client.reviews.pending()


def test_store_review_source_over_the_local_task_stores(
    tmp_path: Path, fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    stores = pytest.importorskip("kbflow.tasks.adapters.stores")
    records = pytest.importorskip("kbflow.tasks.adapters.records")
    db = stores.SqliteDatabase(tmp_path / "kbflow.sqlite3")
    store, audit = stores.SqliteReviewStore(db), stores.SqliteAudit(db)
    client = Client(
        backend=MockBackend(fake_sfn),
        reviews=StoreReviewSource(store, audit),
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
    run = client.start(fake_sfn.create("review", CALLBACK), {})
    token = next(iter(fake_sfn.tokens))
    store.put(
        records.ReviewRequest(
            review_id="r1",
            execution_arn=run.arn,
            item={"id": "doc-1"},
            reason="low_ocr_confidence",
            task_token=token,
            requested_at="2026-03-01T12:00:00.000Z",
            deadline="2026-03-02T12:00:00.000Z",
        )
    )
    store.put(
        records.ReviewRequest(
            review_id="r0",
            execution_arn=run.arn,
            item={"id": "doc-0"},
            reason="pii",
            task_token="token-x",
            status="decided",
        )
    )
    [review] = client.reviews.pending()
    assert (review.review_id, review.reason, review.item) == (
        "r1",
        "low_ocr_confidence",
        {"id": "doc-1"},
    )
    assert review.requested_at == NOW and review.deadline == NOW + timedelta(days=1)
    client.reviews.decide(review, decision="reject", reviewer="bo", comment="blurry scan")
    assert client.reviews.pending() == []
    stored = store.get("r1")
    assert stored.status == "decided" and stored.decision["reviewer"] == "bo"
    [line] = audit.list("doc-1")
    assert (line.action, line.actor, line.reason, line.execution_arn) == (
        "reject",
        "bo",
        "blurry scan",
        run.arn,
    )
    assert line.details["decision"]["decision"] == "reject"
    assert json.loads(fake_sfn.executions[run.arn].output or "null")["decision"] == "reject"
