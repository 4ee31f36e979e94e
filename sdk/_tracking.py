"""Event-driven tracking: Step Functions status changes from EventBridge, via an SQS queue.

An EventBridge rule matching ``{"source": ["aws.states"], "detail-type": ["Step Functions
Execution Status Change"]}`` with an SQS queue as target delivers one message per status
change. EventBridge delivery is best effort (events can arrive late, twice, out of order or
not at all), so :meth:`kbflow.Client.track` treats an event only as a hint: it confirms every
change with DescribeExecution, and describes executions it has heard nothing about every
``reconcile_every`` seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kbflow._models import ExecutionStatus
from kbflow.errors import BackendError

__all__ = ["DETAIL_TYPE", "StatusChange", "StatusQueue", "parse_status_change"]

DETAIL_TYPE: Final = "Step Functions Execution Status Change"
"""The EventBridge ``detail-type`` of execution status events (source ``aws.states``)."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One "Step Functions Execution Status Change" event."""

    execution_arn: str
    """The execution whose status changed."""
    state_machine_arn: str
    """Its state machine."""
    status: ExecutionStatus
    """The status the event reports (confirm with DescribeExecution before acting on it)."""
    time: datetime | None = None
    """When the change happened, per the event."""


def parse_status_change(body: str) -> StatusChange | None:
    """Read an SQS message body holding an EventBridge event.

    Args:
        body: the message body (the event as JSON, as EventBridge's SQS target sends it).

    Returns:
        The status change, or ``None`` when the body is not a Step Functions status event.
    """
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, Mapping) or event.get("detail-type") != DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    try:
        status = ExecutionStatus(str(detail.get("status")))
        return StatusChange(
            str(detail["executionArn"]),
            str(detail.get("stateMachineArn", "")),
            status,
            _time(event.get("time")),
        )
    except (KeyError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


class StatusQueue:
    """The SQS queue an EventBridge rule sends execution status changes to.

    Args:
        queue_url: the queue URL.
        client: a boto3 ``sqs`` client (default: built from ``session`` and ``region``).
        session: the boto3 session.
        region: the AWS Region.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        client: Any | None = None,
        session: Any | None = None,
        region: str | None = None,
    ) -> None:
        self.queue_url = queue_url
        if client is None:
            import boto3  # type: ignore[import-untyped,unused-ignore]

            client = (session or boto3.session.Session()).client("sqs", region_name=region)
        self.client: Any = client

    def receive(self, *, wait_seconds: float = 20, max_messages: int = 10) -> list[StatusChange]:
        """Long-poll the queue once and return the status changes received.

        Every message received is deleted, including ones that are not status events, so
        the queue cannot fill up with messages nobody reads.

        Args:
            wait_seconds: the long-poll wait (0-20 s; rounded down to whole seconds).
            max_messages: at most this many messages (1-10).

        Returns:
            The status changes, in the order received.

        Raises:
            BackendError: SQS refused the request.
        """
        from botocore.exceptions import (  # type: ignore[import-untyped,unused-ignore]
            BotoCoreError,
            ClientError,
        )

        try:
            resp = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max(1, min(10, max_messages)),
                WaitTimeSeconds=max(0, min(20, int(wait_seconds))),
            )
            messages = resp.get("Messages", [])
            if messages:
                self.client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"SQS {self.queue_url}: {exc}", code=type(exc).__name__) from exc
        changes = (parse_status_change(m.get("Body", "")) for m in messages)
        return [c for c in changes if c is not None]
