"""Client.track: many executions at once, event-driven from EventBridge via SQS, reconciled."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import kbflow
import pytest
from conftest import FakeTime, Harness
from kbflow import Client, ExecutionStatus, StatusChange, StatusQueue
from kbflow._tracking import parse_status_change
from moto import mock_aws
from sdk_fakes import FAIL, PASS, WAIT, FakeStepFunctions


def _event(
    arn: str, status: str, detail_type: str = "Step Functions Execution Status Change"
) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "e-1",
            "detail-type": detail_type,
            "source": "aws.states",
            "account": "123456789012",
            "time": "2026-03-01T12:00:00Z",
            "region": "us-east-1",
            "resources": [arn],
            "detail": {
                "executionArn": arn,
                "stateMachineArn": arn.rsplit(":", 1)[0],
                "name": "n",
                "status": status,
                "startDate": 1772366400000,
                "input": "{}",
            },
        }
    )


class FakeQueue(StatusQueue):
    """Messages in a list; a long poll with nothing to deliver moves the fake clock."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.bodies: list[str] = []
        self.polls = 0
        self.before_poll: Callable[[int], None] = lambda poll: None

    def receive(self, *, wait_seconds: float = 20, max_messages: int = 10) -> list[StatusChange]:
        self.polls += 1
        self.before_poll(self.polls)
        if not self.bodies:
            self.clock.now += int(wait_seconds)
        taken, self.bodies = self.bodies[:max_messages], self.bodies[max_messages:]
        return [c for c in map(parse_status_change, taken) if c is not None]


def test_parse_status_change() -> None:
    arn = "arn:aws:states:us-east-1:1:execution:m:e"
    change = parse_status_change(_event(arn, "FAILED"))
    assert change is not None
    assert (change.execution_arn, change.status, change.state_machine_arn) == (
        arn,
        ExecutionStatus.FAILED,
        "arn:aws:states:us-east-1:1:execution:m",
    )
    assert change.time is not None and change.time.year == 2026
    for junk in ("not json", "[]", _event(arn, "FAILED", "Other Event"), _event(arn, "WEIRD")):
        assert parse_status_change(junk) is None


def test_status_queue_receives_and_deletes_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="kbflow-status")["QueueUrl"]
        for body in (
            _event("arn:aws:states:us-east-1:1:execution:m:a", "SUCCEEDED"),
            "junk",
            _event("arn:aws:states:us-east-1:1:execution:m:b", "ABORTED"),
        ):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        queue = StatusQueue(url, region="us-east-1")
        changes = queue.receive(wait_seconds=0)
        assert sorted((c.execution_arn[-1], c.status.value) for c in changes) == [
            ("a", "SUCCEEDED"),
            ("b", "ABORTED"),
        ]
        assert queue.receive(wait_seconds=0) == []  # every message was deleted, junk included
        with pytest.raises(kbflow.BackendError):
            StatusQueue(url + "-missing", client=sqs).receive(wait_seconds=0)


@pytest.fixture
def tracked(fake_sfn: FakeStepFunctions, mock_client: Client) -> Iterator[dict[str, str]]:
    waiting = fake_sfn.create("wait", WAIT)
    runs = {key: mock_client.start(waiting, {}, name=key).arn for key in ("a", "b")}
    runs["c"] = mock_client.start(fake_sfn.create("pass", PASS), {}, name="c").arn
    yield runs


def test_track_is_driven_by_events_and_reconciles_lost_ones(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime, tracked: dict[str, str]
) -> None:
    queue = FakeQueue(fake_time)

    def world(poll: int) -> None:
        if poll == 2:  # a ends and its event arrives (twice: EventBridge may duplicate)
            fake_sfn.finish(tracked["a"], 1)
            queue.bodies += [_event(tracked["a"], "SUCCEEDED")] * 2
        if poll == 3:  # b ends but its event is lost; a stale event for b says nothing useful
            fake_sfn.executions[tracked["b"]].status = "FAILED"
            queue.bodies.append(_event(tracked["b"], "RUNNING"))

    queue.before_poll = world
    order = [
        e.name
        for e in mock_client.track(tracked.values(), timeout=600, queue=queue, reconcile_every=60)
    ]
    assert order == ["c", "a", "b"]
    assert fake_time.now - 1000 >= 60  # b was found by the reconciliation sweep
    # 3 initial describes + 1 for a's event + one sweep of b; no polling loop.
    assert fake_sfn.operations().count("DescribeExecution") == 5


def test_a_premature_event_is_confirmed_before_yielding(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime, tracked: dict[str, str]
) -> None:
    queue = FakeQueue(fake_time)
    queue.bodies.append(
        _event(tracked["a"], "SUCCEEDED")
    )  # says ended, DescribeExecution disagrees
    with pytest.raises(kbflow.WaitTimeout):
        list(mock_client.track([tracked["a"]], timeout=30, queue=queue, reconcile_every=600))
    assert fake_sfn.executions[tracked["a"]].status == "RUNNING"


def test_track_without_a_queue_polls_every_backend(harness: Harness) -> None:
    client = harness.client()
    done = client.start(harness.create("pass", PASS), {})
    failed = client.start(harness.create("fail", FAIL), {})
    ended = {e.arn: e.status for e in client.track([done, failed.arn], timeout=10)}
    assert ended == {done.arn: ExecutionStatus.SUCCEEDED, failed.arn: ExecutionStatus.FAILED}
    running = client.start(harness.create("wait", WAIT), {})
    with pytest.raises(kbflow.WaitTimeout) as info:
        list(client.track([running], timeout=0.3))
    assert info.value.execution_arn == running.arn
