"""Deciding human reviews on the embedded host (what ``kbflow review`` does).

A review request (``ReviewRequest`` in the store's ``kbflow.sqlite3``) holds the task token
of a human-review execution waiting in ``Request Review`` (or ``Escalate Review``). Deciding
it sends ``{"decision", "reviewer", "comment"?, "edits"?}`` as that task's result through the
engine, so the flow applies the decision (``Apply Decision``) and audits it (``Write Audit``);
the decision is also marked on the request and audited with ``via: kbflow review``.

Across processes this needs the durable store: the execution that waits was started by
``kbflow ingest`` in another process. If no live process owns it any more, this host resumes
it from ``<store>/engine.sqlite3`` (same name and input), then completes the token; if a live
process owns it (a running ``kbflow console``), the callback goes through the store and that
process delivers it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kbflow._host import Host
from kbflow._reviews import WAITING, build_decision
from kbflow.errors import ConfigurationError, KbflowError, TaskDoesNotExist, ValidationError

__all__ = ["DecisionOutcome", "audit_trail", "decide", "get_review", "pending_reviews"]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """What deciding a review did."""

    review_id: str
    decision: dict[str, Any]
    execution_arn: str
    status: str
    """The human-review execution's status after the decision (``RUNNING`` if not seen end)."""
    output: Any
    audit: list[dict[str, Any]]


def pending_reviews(host_or_adapters: Any) -> list[dict[str, Any]]:
    """Pending and escalated review requests (without tokens), oldest first."""
    adapters = getattr(host_or_adapters, "adapters", host_or_adapters)
    records = [r for status in WAITING for r in adapters.reviews.list(status)]
    return [r.public() for r in sorted(records, key=lambda r: r.requested_at)]


def get_review(adapters: Any, review_id: str) -> Any:
    """The review request ``review_id`` (a unique prefix of at least 6 characters works).

    Raises:
        ValidationError: no such review, or the prefix is ambiguous.
    """
    found = adapters.reviews.get(review_id)
    if found is not None:
        return found
    matches = [r for r in adapters.reviews.list() if r.review_id.startswith(review_id)]
    if len(review_id) >= 6 and len(matches) == 1:
        return matches[0]
    what = "is ambiguous" if matches else "does not exist"
    raise ValidationError(f"review {review_id!r} {what}", pointer="/review_id")


def audit_trail(adapters: Any, request: Any) -> list[dict[str, Any]]:
    """Audit records about the reviewed item, oldest first."""
    subject = str((request.item or {}).get("id", request.review_id))
    return [r.to_dict() for r in adapters.audit.list(subject)]


def _wake_execution(host: Host, execution_arn: str) -> bool:
    """Make sure a process runs the waiting execution; True when this host runs it."""
    engine = host.engine
    store = getattr(engine, "store", None)
    if store is None:
        return True  # in-memory: the execution is in this engine or nowhere
    found = store.execution(execution_arn)
    if found is None:
        raise ConfigurationError(f"execution {execution_arn} is not in the store {host.store}")
    record, _owner, _beat = found
    if record.status != "RUNNING":
        raise TaskDoesNotExist(
            f"the human-review execution {execution_arn} is {record.status}: "
            "nothing waits for this decision any more"
        )
    try:
        engine.start_execution(record.state_machine_arn, record.input, name=record.name)
    except KbflowError as exc:
        if "live process" in str(exc):
            return False
        raise
    return True


def _send(host: Host, token: str, payload: Mapping[str, Any], *, owned: bool,
          wait_seconds: float) -> None:
    """Complete ``token``; a resumed execution needs a moment to re-issue it."""
    engine = host.engine
    store = getattr(engine, "store", None)
    if not owned and store is not None:
        if not store.complete_token(token, output=json.dumps(payload)):
            raise TaskDoesNotExist("the review's task token is no longer waiting")
        return
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            engine.send_task_success(token, dict(payload))
            return
        except TaskDoesNotExist:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def decide(
    host: Host,
    review_id: str,
    decision: str,
    *,
    reviewer: str,
    comment: str | None = None,
    edits: Mapping[str, Any] | None = None,
    wait_seconds: float = 60.0,
) -> DecisionOutcome:
    """Decide a review: complete its task token, then mark and audit the decision.

    Args:
        host: the host over the store holding the review.
        review_id: the review (or a unique prefix).
        decision: ``approve``, ``reject`` or ``edit``.
        reviewer: who decides (required; audited).
        comment: optional comment (audited).
        edits: for ``edit``: ``{"text": ...}``.
        wait_seconds: how long to wait for the flow to apply the decision.

    Returns:
        The outcome, with the audit trail of the item.

    Raises:
        ValidationError: unknown review, already decided, or a malformed decision.
        TaskDoesNotExist: the waiting execution is gone (e.g. in-memory engine of another run).
    """
    request = get_review(host.adapters, review_id)
    if request.status not in WAITING:
        raise ValidationError(
            f"review {request.review_id} is already {request.status}", pointer="/review_id"
        )
    payload = build_decision(decision, reviewer, comment, edits)
    owned = _wake_execution(host, request.execution_arn)
    _send(host, request.task_token, payload, owned=owned, wait_seconds=wait_seconds)
    _record(host, request, payload)
    status, output = "RUNNING", None
    if owned:
        described = host.engine.wait(request.execution_arn, timeout=wait_seconds)
        status = str(described.get("Status"))
        output = json.loads(described.get("Output") or "null")
    return DecisionOutcome(request.review_id, payload, request.execution_arn, status, output,
                           audit_trail(host.adapters, request))


def _record(host: Host, request: Any, payload: Mapping[str, Any]) -> None:
    from kbflow.tasks.core.review import record_reviewer_decision

    record_reviewer_decision(
        host.adapters.reviews, host.adapters.audit, review_id=request.review_id,
        item=request.item or {}, execution_arn=request.execution_arn, decision=payload,
        via="kbflow review")
