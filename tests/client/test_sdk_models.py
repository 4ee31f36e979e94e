"""The frozen values: AWS shapes in and out, statuses, hidden tokens."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import kbflow
import pytest
from kbflow import Execution, ExecutionStatus, HistoryEvent, Review

ARN = "arn:aws:states:us-east-1:1:execution:m:e"
DESCRIBED = {
    "executionArn": ARN, "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
    "name": "e", "status": "SUCCEEDED", "redriveCount": 2,
    "startDate": datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
    "stopDate": datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
    "input": '{"a": [1, 2]}', "inputDetails": {"included": True},
    "output": '"done"', "outputDetails": {"included": False},
}  # fmt: skip


def test_terminal_statuses() -> None:
    ended = {s for s in ExecutionStatus if s.terminal}
    assert ended == {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED,
                     ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}  # fmt: skip


def test_execution_from_describe_execution() -> None:
    ex = Execution.from_aws(DESCRIBED, workflow="ingestion")
    assert ex.started_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # normalised to UTC
    assert ex.input == {"a": [1, 2]} and ex.output is None  # output not included: not guessed
    assert (ex.redrive_count, ex.workflow, ex.status) == (2, "ingestion", ExecutionStatus.SUCCEEDED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.status = ExecutionStatus.FAILED  # type: ignore[misc]


def test_output_that_is_not_json_is_a_backend_error() -> None:
    with pytest.raises(kbflow.BackendError) as info:
        Execution.from_aws({**DESCRIBED, "output": "{oops", "outputDetails": {"included": True}})
    assert info.value.code == "InvalidJson"


def test_history_event_round_trip() -> None:
    raw = {"id": 7, "previousEventId": 6, "type": "TaskStateEntered",
           "timestamp": datetime(2026, 3, 1, tzinfo=UTC),
           "stateEnteredEventDetails": {"name": "Fetch", "input": "{}"}}  # fmt: skip
    event = HistoryEvent.from_aws(raw)
    assert (event.id, event.previous_event_id, event.details["name"]) == (7, 6, "Fetch")
    assert event.to_aws() == raw and not event.terminal
    first = HistoryEvent.from_aws(
        {"id": 1, "type": "ExecutionStarted", "timestamp": raw["timestamp"]}
    )
    assert first.previous_event_id == 0 and first.details == {} and first.details_key is None


def test_review_hides_its_token() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    review = Review(ARN, "r", {"id": "d"}, "pii", when, _token="secret-token")
    assert "secret-token" not in repr(review) and "secret-token" not in str(review)
    assert review == dataclasses.replace(review, _token="another")  # the token is not identity
