"""record_reviewer_decision: the one place a reviewer channel marks and audits a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbflow.tasks.core.review import record_reviewer_decision


@dataclass
class _Request:
    status: str


@dataclass
class _Reviews:
    requests: dict[str, _Request]
    updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def get(self, review_id: str) -> _Request | None:
        return self.requests.get(review_id)

    def update(self, review_id: str, *, status: str, decision: dict[str, Any]) -> None:
        self.updates.append((review_id, status, decision))


@dataclass
class _Audit:
    records: list[Any] = field(default_factory=list)

    def append(self, record: Any) -> None:
        self.records.append(record)


DECISION = {"decision": "approve", "reviewer": "alice", "comment": "fine"}


def test_waiting_request_is_marked_and_audited() -> None:
    reviews, audit = _Reviews({"r1": _Request("escalated")}), _Audit()
    record_reviewer_decision(reviews, audit, review_id="r1", item={"id": "doc-7"},
                             execution_arn="arn:x", decision=DECISION, via="kbflow review")
    assert reviews.updates == [("r1", "decided", DECISION)]
    (rec,) = audit.records
    assert (rec.subject, rec.action, rec.actor, rec.reason) == ("doc-7", "approve", "alice", "fine")
    assert rec.details == {"review_id": "r1", "via": "kbflow review", "decision": DECISION}


def test_closed_request_is_not_reopened_but_still_audited() -> None:
    reviews, audit = _Reviews({"r1": _Request("timed_out")}), _Audit()
    record_reviewer_decision(reviews, audit, review_id="r1", item=None, execution_arn=None,
                             decision=DECISION, via="kbflow.Client")
    assert reviews.updates == []
    assert audit.records[0].subject == "r1"


def test_without_audit_only_marks() -> None:
    reviews = _Reviews({"r1": _Request("pending")})
    record_reviewer_decision(reviews, None, review_id="r1", item={}, execution_arn=None,
                             decision=DECISION, via="kbflow.Client")
    assert reviews.updates == [("r1", "decided", DECISION)]
