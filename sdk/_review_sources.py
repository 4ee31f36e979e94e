"""Review sources over kbflow's task stores (``kbflow.tasks.adapters``).

Locally the stores are SQLite tables in the store folder; on AWS they are the DynamoDB tables
the deploy stack creates. Either way :class:`StoreReviewSource` reads pending requests from
the :class:`ReviewStore`, and records decisions in it and in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kbflow._models import Review
from kbflow._reviews import review_from_record
from kbflow._types import JSON

__all__ = ["StoreReviewSource", "review_source_from_outputs"]

REVIEWS_TABLE_OUTPUT: Final = "ReviewsTableName"
AUDIT_TABLE_OUTPUT: Final = "AuditTableName"
WAITING: Final = ("pending", "escalated")


class StoreReviewSource:
    """Reviews in a ``kbflow.tasks`` ReviewStore, decisions appended to its Audit log.

    Args:
        store: a ``ReviewStore`` (``SqliteReviewStore``, ``DynamoReviewStore``).
        audit: an ``Audit`` log; ``None`` records the decision on the review only.
    """

    def __init__(self, store: Any, audit: Any | None = None) -> None:
        self.store = store
        self.audit = audit

    def pending(self) -> list[Review]:
        """Pending and escalated requests, oldest first."""
        records = [r for status in WAITING for r in self.store.list(status)]
        return sorted(
            (review_from_record(r.to_dict()) for r in records), key=lambda r: r.requested_at
        )

    def record_decision(self, review: Review, decision: Mapping[str, JSON]) -> None:
        """Mark the request decided and audit the decision (as the decision endpoint does).

        The audit record's action is the decision and its actor the reviewer, with
        ``details.via = "kbflow.Client"``; the human-review flow then audits the decision it
        applies (``WriteAudit``) as well.
        """
        current = self.store.get(review.review_id)
        if current is not None and current.status in WAITING:  # the flow may have closed it already
            self.store.update(review.review_id, status="decided", decision=dict(decision))
        if self.audit is None:
            return
        from kbflow.tasks.adapters.records import AuditRecord

        item = review.item if isinstance(review.item, Mapping) else {}
        self.audit.append(
            AuditRecord(
                subject=str(item.get("id", review.review_id)),
                action=str(decision["decision"]),
                actor=str(decision["reviewer"]),
                reason=str(decision.get("comment") or ""),
                execution_arn=review.execution_arn,
                details={
                    "review_id": review.review_id,
                    "via": "kbflow.Client",
                    "decision": dict(decision),
                },
            )
        )


def review_source_from_outputs(
    outputs: Mapping[str, str], *, session: Any | None = None, region: str | None = None
) -> StoreReviewSource | None:
    """The DynamoDB review source the deploy outputs name, or ``None`` when they name none.

    Args:
        outputs: stack outputs; ``ReviewsTableName`` (and ``AuditTableName``) are read.
        session: the boto3 session.
        region: the AWS Region.

    Returns:
        The source, or ``None``.
    """
    table = outputs.get(REVIEWS_TABLE_OUTPUT)
    if not table:
        return None
    import boto3  # type: ignore[import-untyped,unused-ignore]
    from kbflow.tasks.adapters.dynamo import DynamoAudit, DynamoReviewStore

    ddb = (session or boto3.session.Session()).resource("dynamodb", region_name=region)
    audit_table = outputs.get(AUDIT_TABLE_OUTPUT)
    audit = DynamoAudit(ddb.Table(audit_table)) if audit_table else None
    return StoreReviewSource(DynamoReviewStore(ddb.Table(table)), audit)
