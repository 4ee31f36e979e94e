"""Human reviews: list what waits for a decision and decide it.

Where reviews are read from is a :class:`ReviewSource`; deciding is the same everywhere: send
the reviewer's decision as the waiting task's result (the human-review flow's contract) and
record it in the source. :class:`StoreReviewSource` reads kbflow's task stores
(``kbflow.tasks.adapters``): SQLite tables in the local store folder, or the DynamoDB tables
the deploy stack creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from kbflow._models import Decision, Review, utc
from kbflow._types import JSON
from kbflow.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from kbflow._client import Client

__all__ = [
    "ReviewSource",
    "Reviews",
    "StoreReviewSource",
    "review_from_record",
    "review_source_from_outputs",
]

DECISIONS: tuple[Decision, ...] = ("approve", "reject", "edit")


@runtime_checkable
class ReviewSource(Protocol):
    """Where pending reviews live. Local and AWS clients differ only here."""

    def pending(self) -> list[Review]:
        """Reviews still waiting for a decision (pending or escalated), oldest first."""
        ...

    def record_decision(self, review: Review, decision: Mapping[str, JSON]) -> None:
        """Mark ``review`` decided and audit ``decision`` (called after the token was sent)."""
        ...


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return utc(parsed)


def review_from_record(record: Mapping[str, Any]) -> Review:
    """Build a :class:`Review` from a review store record (``ReviewRequest.to_dict()``).

    Args:
        record: ``review_id``, ``execution_arn``, ``item``, ``reason``, ``task_token``,
            ``requested_at`` and optionally ``deadline`` (ISO 8601) and ``escalated``.

    Returns:
        The review, its task token kept inside.
    """
    requested = _time(record.get("requested_at"))
    if requested is None:
        raise ValidationError("review record has no requested_at", pointer="/requested_at")
    return Review(
        execution_arn=str(record["execution_arn"]),
        review_id=str(record["review_id"]),
        item=record.get("item"),
        reason=str(record.get("reason", "")),
        requested_at=requested,
        deadline=_time(record.get("deadline")),
        escalated=bool(record.get("escalated", False)),
        _token=str(record["task_token"]),
    )


MAX_COMMENT = 2000
"""The longest comment the review decision endpoint accepts; the SDK applies the same rule."""


def build_decision(
    decision: str,
    reviewer: str,
    comment: str | None,
    edits: Mapping[str, JSON] | None,
) -> dict[str, JSON]:
    """The task result a decision sends: ``{"decision", "reviewer", "comment"?, "edits"?}``.

    Raises:
        ValidationError: the decision breaks the human-review contract (``pointer`` says where).
    """
    if decision not in DECISIONS:
        raise ValidationError(
            f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}", pointer="/decision"
        )
    if not reviewer.strip():
        raise ValidationError("a decision needs a reviewer", pointer="/reviewer")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValidationError(f"comment is over {MAX_COMMENT} characters", pointer="/comment")
    _check_edits(decision, edits)
    out: dict[str, JSON] = {"decision": decision, "reviewer": reviewer}
    if comment is not None:
        out["comment"] = comment
    if edits is not None:
        out["edits"] = dict(edits)
    return out


def _check_edits(decision: str, edits: Mapping[str, JSON] | None) -> None:
    if decision != "edit":
        if edits is not None:
            raise ValidationError(
                f"edits are only allowed with 'edit', not {decision!r}", pointer="/edits"
            )
        return
    text = edits.get("text") if edits is not None else None
    if not isinstance(text, str) or not text:
        raise ValidationError(
            "an 'edit' decision needs edits.text, a non-empty string", pointer="/edits/text"
        )


class Reviews:
    """``client.reviews``: pending human reviews and their decisions.

    Args:
        client: the client that sends the decision's task token.
        source: where reviews are read and decisions recorded (``None``: not configured).
    """

    def __init__(self, client: Client, source: ReviewSource | None) -> None:
        self._client = client
        self._source = source

    @property
    def source(self) -> ReviewSource:
        """The configured review source.

        Raises:
            ConfigurationError: the client was built without one.
        """
        if self._source is None:
            raise ConfigurationError(
                "this client has no review source: pass reviews=ReviewSource to Client(...), "
                "or deploy outputs naming the reviews table to Client.aws(registry=...)"
            )
        return self._source

    def pending(self) -> list[Review]:
        """Reviews waiting for a decision, oldest first.

        Returns:
            The pending (and escalated) reviews.

        Raises:
            ConfigurationError: no review source is configured.
        """
        return sorted(self.source.pending(), key=lambda r: r.requested_at)

    def decide(
        self,
        review: Review,
        *,
        decision: Decision,
        reviewer: str,
        comment: str | None = None,
        edits: Mapping[str, JSON] | None = None,
    ) -> dict[str, JSON]:
        """Decide a review: resume its execution with the decision, then audit it.

        Args:
            review: a review from :meth:`pending`.
            decision: ``"approve"``, ``"reject"`` or ``"edit"``.
            reviewer: who decides (recorded in the audit).
            comment: an optional comment.
            edits: for ``"edit"``: the edited content, e.g. ``{"text": "..."}``.

        Returns:
            The decision as sent to the execution.

        Raises:
            ValidationError: the decision is malformed (nothing is sent).
            TaskTimedOut: the review already timed out or was decided.
            TaskDoesNotExist: the token is unknown to the backend.
            ConfigurationError: no review source is configured.
        """
        source = self.source
        payload = build_decision(decision, reviewer, comment, edits)
        self._client.send_task_success(review._token, payload)
        source.record_decision(review, payload)
        return payload

    def heartbeat(self, review: Review) -> None:
        """Tell the flow a reviewer is still working on ``review``.

        A review started with ``heartbeat_seconds`` is given up (and escalated) after that long
        without a heartbeat; a review UI calls this while the item is open. Reviews started
        without it (the default) need no heartbeat.

        Args:
            review: a review from :meth:`pending`.

        Raises:
            TaskTimedOut: the review already timed out or was decided.
            TaskDoesNotExist: the token is unknown to the backend.
        """
        self._client.send_task_heartbeat(review._token)


# -- review sources over kbflow's task stores ------------------------------------------------

REVIEWS_TABLE_OUTPUT: Final = "ReviewsTableName"
AUDIT_TABLE_OUTPUT: Final = "AuditTableName"
WAITING: Final = ("pending", "escalated")  # = kbflow.tasks.core.review.WAITING (kept light)


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
        from kbflow.tasks.core.review import record_reviewer_decision

        record_reviewer_decision(
            self.store,
            self.audit,
            review_id=review.review_id,
            item=review.item,
            execution_arn=review.execution_arn,
            decision=decision,
            via="kbflow.Client",
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
