"""Records kept by the task stores (manifest, quarantine, reviews, audit, notifications).

Plain frozen dataclasses with ``to_dict``/``from_dict`` so every back end (SQLite, DynamoDB)
stores the same fields. A review's task token is kept (``repr=False``) but never logged.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self

__all__ = [
    "REVIEW_STATUSES",
    "AuditRecord",
    "ManifestEntry",
    "Notification",
    "QuarantineRecord",
    "ReviewRequest",
    "ReviewStatus",
    "new_id",
    "utc_now",
]

ReviewStatus = Literal["pending", "escalated", "decided", "timed_out"]
REVIEW_STATUSES: Final = ("pending", "escalated", "decided", "timed_out")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A new random identifier (32 hex characters)."""
    return uuid.uuid4().hex


class _Record:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)  # type: ignore[call-overload,no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build a record from a dict, ignoring unknown keys."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class ManifestEntry(_Record):
    """What kbflow last indexed for one document."""

    doc_id: str
    """``sha256(bucket/key)[:32]`` (or of the normalised URL for web pages)."""
    sha256: str
    """SHA-256 of the document's bytes when it was indexed."""
    key: str
    """Object key or page URL."""
    source: str
    """Source id: ``bucket/prefix`` for object sources, the site origin for web pages."""
    run_id: str
    """Run that wrote this entry."""
    status: str
    """``indexed`` (or ``quarantined``/``rejected``)."""
    chunks: int = 0
    """Chunks in the index for this document."""
    updated_at: str = field(default_factory=utc_now)
    etag: str | None = None
    """HTTP ETag (web pages) for conditional GETs."""
    last_modified: str | None = None
    """HTTP Last-Modified (web pages)."""


@dataclass(frozen=True, slots=True)
class QuarantineRecord(_Record):
    """A document set aside: the original is kept, with why and where it failed."""

    run_id: str
    doc_id: str
    key: str
    source: str
    error: str
    """Error name, e.g. ``Kbflow.ExtractionFailed``."""
    cause: str
    stage: str
    """Failed stage: ``fetch``, ``extract``, ``clean``, ``pii``, ``chunk``, ``embed``, ``index``."""
    original: str | None = None
    """Key of the kept copy in the quarantine store (``None`` when it could not be read)."""
    at: str = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class ReviewRequest(_Record):
    """A human-review request waiting on a task token."""

    review_id: str
    execution_arn: str
    item: dict[str, Any]
    reason: str
    task_token: str = field(repr=False)
    """The task token, kept so a reviewer's decision can complete it. Never logged."""
    requested_at: str = field(default_factory=utc_now)
    deadline: str | None = None
    """ISO time after which the review times out."""
    escalated: bool = False
    status: str = "pending"
    """One of :data:`REVIEW_STATUSES`."""
    decision: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        """The request without its task token (safe to show or notify)."""
        data = self.to_dict()
        data.pop("task_token")
        return data


@dataclass(frozen=True, slots=True)
class AuditRecord(_Record):
    """One append-only audit line: who did what, when, why, in which execution."""

    subject: str
    """What the record is about (a review item id)."""
    action: str
    """``approve``, ``reject``, ``edit``, ``timeout``, ``escalate``, ``request``."""
    actor: str
    """Who: a reviewer name, or ``policy:timeout`` for automatic decisions."""
    reason: str = ""
    execution_arn: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=utc_now)
    seq: str = ""
    """Sort key: ``<at>#<random>``, set on append."""


@dataclass(frozen=True, slots=True)
class Notification(_Record):
    """A message sent to reviewers (local inbox row or SNS message)."""

    subject: str
    message: dict[str, Any]
    notification_id: str = field(default_factory=new_id)
    at: str = field(default_factory=utc_now)
