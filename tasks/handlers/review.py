"""Lambda handlers of the human-review flow.

``RequestReview`` and ``EscalateReview`` run as ``.waitForTaskToken`` tasks: the event carries
``task_token`` (``$$.Task.Token``), which is stored for the reviewer and never logged.
"""

from __future__ import annotations

from typing import Any, Final

from kbflow.tasks.adapters.config import current
from kbflow.tasks.adapters.index import SearchIndexError
from kbflow.tasks.core import review
from kbflow.tasks.handler import ErrorMap, task_handler

__all__ = ["apply_decision", "escalate_review", "request_review", "write_audit"]

Event = dict[str, Any]
_ERRORS: Final[ErrorMap] = {
    SearchIndexError: "Kbflow.TransientStoreError",
    KeyError: "Kbflow.InvalidDecision",
}


@task_handler("RequestReview")
def request_review(event: Event, context: Any) -> Event:
    """Store the review request with its task token and notify reviewers."""
    return review.request_review(event, current())


@task_handler("EscalateReview")
def escalate_review(event: Event, context: Any) -> Event:
    """Re-issue the review as escalated (new token and deadline), audit the timeout, notify."""
    return review.request_review(event, current(), escalate=True)


@task_handler("ApplyDecision", errors=_ERRORS)
def apply_decision(event: Event, context: Any) -> Event:
    """Approve (keep), reject (remove + quarantine) or edit (re-index) the item."""
    return review.apply_decision(event, current())


@task_handler("WriteAudit")
def write_audit(event: Event, context: Any) -> Event:
    """Append the audit record of a decision or timeout."""
    return review.write_audit(event, current())
