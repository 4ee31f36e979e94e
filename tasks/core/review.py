"""Human review: store requests with their task tokens, escalate, apply decisions, audit.

The human-review flow calls these through :mod:`kbflow.tasks.handlers.review`. A reviewer (the
``kbflow review`` CLI, or a console on AWS) completes the stored task token with a decision
``{"decision": "approve"|"reject"|"edit", "reviewer": str, "comment"?: str, "edits"?: {"text"}}``.
The token is stored in the review store and never logged or sent in notifications.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from kbflow.tasks.adapters.records import AuditRecord, ManifestEntry, QuarantineRecord
from kbflow.tasks.core.errors import InvalidDecision
from kbflow.tasks.core.ingest import keep_original, source_id

if TYPE_CHECKING:
    from kbflow.tasks.adapters.config import Adapters
    from kbflow.tasks.adapters.records import ReviewRequest

__all__ = [
    "DECISIONS",
    "Decision",
    "apply_decision",
    "parse_decision",
    "request_review",
    "review_id_for",
    "write_audit",
]

DECISIONS: Final = ("approve", "reject", "edit")
DEFAULT_DEADLINE_S: Final = 86400
POLICY_ACTOR: Final = "policy:timeout"


def review_id_for(execution_arn: str, item_id: str) -> str:
    """A stable review id for (execution, item), so a retried request is idempotent."""
    return hashlib.sha256(f"{execution_arn}|{item_id}".encode()).hexdigest()[:16]


def request_review(
    event: dict[str, Any], adapters: Adapters, *, escalate: bool = False
) -> dict[str, Any]:
    """Store a review request with its task token and notify reviewers.

    With ``escalate``, the same review is marked escalated with the new token and deadline, and
    the first timeout is audited.

    Returns:
        ``{"review_id", "status", "deadline"}`` (the flow waits for the token instead).
    """
    from kbflow.tasks.adapters.records import ReviewRequest

    item, arn = event["item"], str(event.get("execution_arn") or "")
    review_id = review_id_for(arn, str(item["id"]))
    now = adapters.clock()
    deadline = now + timedelta(seconds=int(event.get("deadline_seconds") or DEFAULT_DEADLINE_S))
    request = ReviewRequest(
        review_id=review_id,
        execution_arn=arn,
        item=item,
        reason=str(event["reason"]),
        task_token=str(event["task_token"]),
        requested_at=_iso(now),
        deadline=_iso(deadline),
        escalated=escalate,
        status="escalated" if escalate else "pending",
    )
    adapters.reviews.put(request)
    if escalate:
        adapters.audit.append(
            AuditRecord(
                subject=str(item["id"]),
                action="escalate",
                actor=POLICY_ACTOR,
                reason="review deadline passed",
                execution_arn=arn,
                at=_iso(now),
                details={"review_id": review_id, "error": (event.get("error") or {}).get("Error")},
            )
        )
    adapters.notifier.notify(
        f"{'ESCALATED: ' if escalate else ''}review needed for {item.get('key') or item['id']}"[
            :100
        ],
        {
            "review_id": review_id,
            "item": item,
            "reason": request.reason,
            "deadline": request.deadline,
            "escalated": escalate,
            "how": f"kbflow review approve|reject|edit {review_id}",
        },
    )
    return {"review_id": review_id, "status": request.status, "deadline": request.deadline}


def _iso(moment: Any) -> str:
    return str(moment.isoformat(timespec="seconds")).replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Decision:
    """A validated review decision."""

    decision: str
    reviewer: str
    comment: str = ""
    text: str | None = None
    """New document text for ``edit``."""


def parse_decision(raw: Any) -> Decision:
    """Validate a decision: a reviewer's object, or a bare policy string such as ``"reject"``.

    Raises:
        InvalidDecision: Unknown decision, missing reviewer, or ``edit`` without ``edits.text``.
    """
    if isinstance(raw, str):
        raw = {"decision": raw, "reviewer": POLICY_ACTOR}
    if not isinstance(raw, dict):
        raise InvalidDecision(f"decision must be an object or a string, got {type(raw).__name__}")
    kind = raw.get("decision")
    if kind not in DECISIONS:
        raise InvalidDecision(f"decision must be one of {', '.join(DECISIONS)}, got {kind!r}")
    reviewer = raw.get("reviewer")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise InvalidDecision("a decision needs a reviewer name")
    text = None
    if kind == "edit":
        text = (raw.get("edits") or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidDecision("an 'edit' decision needs non-empty edits.text")
    return Decision(kind, reviewer.strip(), str(raw.get("comment") or ""), text)


def _doc_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": item["id"],
        "key": item.get("key", item["id"]),
        "source": item.get("source") or {},
        "run_id": item.get("run_id"),
        "sha256": item.get("sha256") or "",
        "options": item.get("options") or {},
    }


def _mark(adapters: Adapters, doc: dict[str, Any], status: str, chunks: int | None = None) -> None:
    entry = adapters.manifest.get(doc["doc_id"])
    if entry is None:
        if not doc["source"]:
            return
        entry = ManifestEntry(
            doc_id=doc["doc_id"],
            sha256=doc["sha256"],
            key=doc["key"],
            source=source_id(doc["source"]),
            run_id=str(doc["run_id"] or ""),
            status=status,
        )
    from dataclasses import replace

    adapters.manifest.put(
        replace(entry, status=status, chunks=entry.chunks if chunks is None else chunks)
    )


def _reject(doc: dict[str, Any], decision: Decision, adapters: Adapters) -> str:
    adapters.index.delete(doc["doc_id"])
    source = doc["source"]
    kept = keep_original(doc, adapters)
    adapters.quarantine.put(
        QuarantineRecord(
            run_id=str(doc["run_id"] or "review"),
            doc_id=doc["doc_id"],
            key=doc["key"],
            source=source_id(source) if source else "",
            error="Kbflow.ReviewRejected",
            cause=decision.comment or f"rejected by {decision.reviewer}",
            stage="review",
            original=kept,
        )
    )
    _mark(adapters, doc, "rejected", 0)
    return "removed"


def apply_decision(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Apply a decision: approve keeps the doc, reject removes it from the index and quarantines
    it, edit re-indexes the edited text.

    Returns:
        ``{"item_id", "review_id", "decision", "reviewer", "applied"}``.

    Raises:
        InvalidDecision: See :func:`parse_decision`.
    """
    from kbflow.tasks.core.pipeline import reindex_text

    decision = parse_decision(event["decision"])
    doc = _doc_of(event["item"])
    if decision.decision == "approve":
        _mark(adapters, doc, "approved")
        applied = "kept"
    elif decision.decision == "reject":
        applied = _reject(doc, decision, adapters)
    else:
        chunks = reindex_text(doc, decision.text or "", adapters)
        _mark(adapters, doc, "edited", chunks)
        applied = "reindexed"
    review_id = review_id_for(str(event.get("execution_arn") or ""), str(doc["doc_id"]))
    _close_review(adapters, review_id, decision, timed_out=decision.reviewer.startswith("policy"))
    return {
        "item_id": doc["doc_id"],
        "review_id": review_id,
        "decision": decision.decision,
        "reviewer": decision.reviewer,
        "comment": decision.comment,
        "applied": applied,
    }


def _close_review(
    adapters: Adapters, review_id: str, decision: Decision, *, timed_out: bool
) -> ReviewRequest | None:
    if adapters.reviews.get(review_id) is None:
        return None
    recorded = {
        "decision": decision.decision,
        "reviewer": decision.reviewer,
        "comment": decision.comment,
        "edited": decision.text is not None,
    }
    return adapters.reviews.update(
        review_id, status="timed_out" if timed_out else "decided", decision=recorded
    )


WAITING: Final = ("pending", "escalated")
"""Review request statuses that still wait for a reviewer."""


def record_reviewer_decision(
    reviews: Any,
    audit: Any | None,
    *,
    review_id: str,
    item: Any,
    execution_arn: str | None,
    decision: Mapping[str, Any],
    via: str,
) -> None:
    """Mark a review request decided (if it still waits) and audit the reviewer's decision.

    Called by every channel that sends a decision's task token (the SDK, ``kbflow review``); the
    flow's own ``WriteAudit`` then audits the decision it applied as well.

    Args:
        reviews: the ReviewStore.
        audit: the Audit log; ``None`` only marks the request.
        review_id: the request's id.
        item: the reviewed item (its ``id`` is the audit subject).
        execution_arn: the waiting execution.
        decision: ``{"decision", "reviewer", "comment"?, ...}`` as sent to the flow.
        via: which channel decided, recorded in the audit details.
    """
    current = reviews.get(review_id)
    if current is not None and current.status in WAITING:  # the flow may have closed it already
        reviews.update(review_id, status="decided", decision=dict(decision))
    if audit is None:
        return
    subject = item.get("id", review_id) if isinstance(item, Mapping) else review_id
    audit.append(AuditRecord(
        subject=str(subject),
        action=str(decision["decision"]),
        actor=str(decision["reviewer"]),
        reason=str(decision.get("comment") or ""),
        execution_arn=execution_arn,
        details={"review_id": review_id, "via": via, "decision": dict(decision)},
    ))


def write_audit(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Append one audit record (who, when, what, why, execution) for a decision or timeout.

    Returns:
        ``{"audit_id", "at"}``.
    """
    decision = event.get("decision")
    decision = (
        decision if isinstance(decision, dict) else {"decision": decision} if decision else {}
    )
    item = event.get("item") or {}
    subject = str(event.get("subject") or item.get("id") or "unknown")
    action = str(event.get("action") or decision.get("decision") or "unknown")
    actor = str(event.get("actor") or decision.get("reviewer") or "system")
    details: dict[str, Any] = {k: v for k, v in decision.items() if k not in ("edits", "text")}
    if "edits" in decision:
        details["edited_chars"] = len(str((decision.get("edits") or {}).get("text", "")))
    details.update({k: event[k] for k in ("level", "review_reason") if event.get(k)})
    record = adapters.audit.append(
        AuditRecord(
            subject=subject,
            action=action,
            actor=actor,
            reason=str(event.get("reason") or decision.get("comment") or ""),
            execution_arn=str(event.get("execution_arn") or ""),
            details=details,
            at=str(event.get("at") or _iso(adapters.clock())),
        )
    )
    return {"audit_id": record.seq, "at": record.at}
