"""The values the SDK hands out: frozen, slotted dataclasses in AWS's shape.

Every backend returns these types, so a local run and an AWS run look the same to callers
and to the console.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from kbflow._types import JSON
from kbflow.errors import (
    BackendError,
    ExecutionAborted,
    ExecutionFailed,
    ExecutionTimedOut,
    ValidationError,
)

__all__ = [
    "TERMINAL_EVENT_TYPES",
    "Decision",
    "Execution",
    "ExecutionStatus",
    "HistoryEvent",
    "Page",
    "Review",
]

T = TypeVar("T")

Decision = Literal["approve", "reject", "edit"]
"""What a reviewer decides (the human-review flow's contract)."""

TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
)
"""History event types after which an execution records nothing more (until a redrive)."""


class ExecutionStatus(StrEnum):
    """An execution's status, with AWS's exact strings."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"

    @property
    def terminal(self) -> bool:
        """Whether the execution has ended (it may still be redriven)."""
        return self not in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING_REDRIVE)


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def decode_json(text: str | None) -> JSON:
    """Decode a JSON document from the wire; ``None`` stays ``None``.

    Raises:
        BackendError: the backend sent text that is not JSON (code ``InvalidJson``).
    """
    if text is None:
        return None
    try:
        value: JSON = json.loads(text)
    except ValueError as exc:
        raise BackendError(
            f"the backend sent a document that is not JSON: {exc}", code="InvalidJson"
        ) from exc
    return value


def _optional_time(value: Any) -> datetime | None:
    return utc(value) if isinstance(value, datetime) else None


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution of a state machine, as DescribeExecution reports it."""

    arn: str
    """The execution ARN."""
    name: str
    """The execution name (unique per state machine)."""
    state_machine_arn: str
    """The state machine it runs."""
    status: ExecutionStatus
    """Its status when this value was read."""
    started_at: datetime
    """When it started (UTC)."""
    stopped_at: datetime | None = None
    """When it ended (UTC), or ``None`` while it runs."""
    input: JSON = None
    """The execution input, decoded (``None`` when the backend did not include it)."""
    output: JSON = None
    """The output of a SUCCEEDED execution, decoded; ``None`` otherwise."""
    error: str | None = None
    """The error name of a FAILED/TIMED_OUT/ABORTED execution, when known."""
    cause: str | None = None
    """The error cause, when known."""
    redrive_count: int = 0
    """How many times the execution has been redriven."""
    workflow: str | None = None
    """The kbflow workflow name (``"ingestion"``) when the registry knows the state machine."""

    def result(self) -> JSON:
        """The output of this ended execution, or the error its status means.

        Returns:
            The output of a SUCCEEDED execution.

        Raises:
            ExecutionFailed: FAILED (with ``error`` and ``cause``).
            ExecutionTimedOut: TIMED_OUT.
            ExecutionAborted: ABORTED.
            ValidationError: the execution has not ended, so it has no result yet.
        """
        arn = self.arn
        match self.status:
            case ExecutionStatus.SUCCEEDED:
                return self.output
            case ExecutionStatus.FAILED:
                raise ExecutionFailed(self.error, self.cause, execution_arn=arn)
            case ExecutionStatus.TIMED_OUT:
                raise ExecutionTimedOut(f"execution {arn} timed out", execution_arn=arn)
            case ExecutionStatus.ABORTED:
                raise ExecutionAborted(f"execution {arn} was aborted", execution_arn=arn)
        raise ValidationError(f"execution {arn} is {self.status.value}: it has no result yet")

    @classmethod
    def from_aws(cls, data: Mapping[str, Any], *, workflow: str | None = None) -> Execution:
        """Build from a DescribeExecution response or a ListExecutions item.

        Args:
            data: the response as boto3 returns it (``startDate`` as a datetime).
            workflow: the workflow name, if known.

        Returns:
            The execution.
        """
        input_included = data.get("inputDetails", {}).get("included", True)
        output_included = data.get("outputDetails", {}).get("included", True)
        return cls(
            arn=data["executionArn"],
            name=data["name"],
            state_machine_arn=data["stateMachineArn"],
            status=ExecutionStatus(data["status"]),
            started_at=utc(data["startDate"]),
            stopped_at=_optional_time(data.get("stopDate")),
            input=decode_json(data.get("input")) if input_included else None,
            output=decode_json(data.get("output")) if output_included else None,
            error=data.get("error"),
            cause=data.get("cause"),
            redrive_count=int(data.get("redriveCount", 0)),
            workflow=workflow,
        )


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One GetExecutionHistory event in AWS's shape."""

    id: int
    """The event id: 1, 2, 3 ... in the order events happened."""
    previous_event_id: int
    """The id of the event this one follows from (0 for none, as AWS reports it)."""
    type: str
    """The AWS event type, e.g. ``"TaskStateEntered"`` or ``"ExecutionSucceeded"``."""
    timestamp: datetime
    """When it happened (UTC)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """The event's ``...EventDetails`` object, keys as AWS spells them (``input``, ``name`` ...)."""
    details_key: str | None = None
    """The AWS key the details came from, e.g. ``"stateEnteredEventDetails"``."""

    @property
    def terminal(self) -> bool:
        """Whether this event ends the execution."""
        return self.type in TERMINAL_EVENT_TYPES

    @classmethod
    def from_aws(cls, data: Mapping[str, Any]) -> HistoryEvent:
        """Build from one item of GetExecutionHistory's ``events``.

        Args:
            data: the event as boto3 returns it.

        Returns:
            The event.
        """
        key = next((k for k in data if k.endswith("EventDetails")), None)
        return cls(
            id=int(data["id"]),
            previous_event_id=int(data.get("previousEventId", 0)),
            type=data["type"],
            timestamp=utc(data["timestamp"]),
            details=dict(data[key]) if key else {},
            details_key=key,
        )

    def to_aws(self) -> dict[str, Any]:
        """Return the event as GetExecutionHistory shapes it."""
        out: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "type": self.type,
            "timestamp": self.timestamp,
        }
        if self.details_key:
            out[self.details_key] = dict(self.details)
        return out


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a paged API answer."""

    items: tuple[T, ...]
    """The page's items."""
    next_token: str | None = None
    """The token for the next page, or ``None`` on the last page."""


@dataclass(frozen=True, slots=True)
class Review:
    """A human review waiting for a decision.

    The task token that resumes the execution stays inside (``repr`` hides it); pass the
    review to ``client.reviews.decide`` rather than handling the token.
    """

    execution_arn: str
    """The human-review execution waiting on this review."""
    review_id: str
    """The review's id in the review store."""
    item: JSON
    """The item under review (``{"id", ...}``)."""
    reason: str
    """Why it needs a review (``"pii"``, ``"low_ocr_confidence"`` ...)."""
    requested_at: datetime
    """When the review was requested (UTC)."""
    deadline: datetime | None = None
    """When it escalates or times out, if it has a deadline."""
    escalated: bool = False
    """Whether the review has been escalated."""
    _token: str = field(default="", repr=False, compare=False)
