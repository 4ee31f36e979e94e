"""Paging, following and pacing on the mock backend, where time and pages are under control."""

from __future__ import annotations

import math
from datetime import timedelta

import kbflow
import pytest
from conftest import FakeTime
from kbflow import Client, ExecutionStatus, MockBackend, Polling, Registry
from sdk_fakes import PASS, WAIT, FakeStepFunctions


def test_history_of_30000_events_is_read_page_by_page(
    mock_client: Client, fake_sfn: FakeStepFunctions
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    ex = fake_sfn.executions[run.arn]
    for i in range(30_000):
        fake_sfn.event(ex, "PassStateEntered", "stateEnteredEventDetails", name=f"S{i}")
    fake_sfn.finish(run.arn, {"done": True})
    events = mock_client.history(run)
    assert len(events) == 30_003
    assert [e.id for e in events] == list(range(1, 30_004))
    assert events[-1].type == "ExecutionSucceeded"
    calls = [r for r in fake_sfn.requests if r.operation == "GetExecutionHistory"]
    assert len(calls) == math.ceil(30_003 / 100)
    assert all(not r.params.get("reverseOrder") for r in calls)


def test_history_calls_are_rate_limited(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    ex = fake_sfn.executions[run.arn]
    for _ in range(5_000):
        fake_sfn.event(ex, "PassStateEntered")
    start = fake_time.now
    mock_client.history(run)  # 51 pages: a burst of 20, then 10 per second
    assert fake_time.now - start == pytest.approx((51 - 20) / 10, rel=0.05)


def test_events_follow_new_events_in_order_until_the_end(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    ex = fake_sfn.executions[run.arn]
    script = iter(range(1, 8))

    def progress(_: float) -> None:  # the execution moves on while the client sleeps
        step = next(script, None)
        if step is None:
            return
        if step == 7:
            fake_sfn.finish(run.arn, {"ok": 1})
        elif step % 2:  # some polls see nothing new, others see a burst
            for k in range(3 * step):
                fake_sfn.event(
                    ex, "PassStateEntered", "stateEnteredEventDetails", name=f"{step}.{k}"
                )

    fake_time.on_sleep = progress
    seen = list(mock_client.events(run))
    assert [e.id for e in seen] == list(range(1, len(ex.events) + 1))
    assert seen[-1].type == "ExecutionSucceeded"
    assert len(seen) == 2 + 3 * (1 + 3 + 5) + 1
    reverse = [r for r in fake_sfn.requests if r.params.get("reverseOrder")]
    assert len(reverse) == 7  # one page per poll: only new events are read


def test_events_timeout_raises_wait_timeout(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    stream = mock_client.events(run, timeout=timedelta(seconds=3))
    assert [e.type for e in (next(stream), next(stream))] == [
        "ExecutionStarted",
        "WaitStateEntered",
    ]
    with pytest.raises(kbflow.WaitTimeout):
        next(stream)
    assert sum(fake_time.sleeps) == pytest.approx(3.0)


def test_wait_backs_off_adaptively_and_returns_the_output(
    fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    polling = Polling(initial=0.1, maximum=2.0, multiplier=2.0)
    client = Client(
        backend=MockBackend(fake_sfn),
        polling=polling,
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
    run = client.start(fake_sfn.create("wait", WAIT), {})
    began = fake_time.now

    def finish_after_30s(_: float) -> None:
        if fake_time.now - began >= 30 and fake_sfn.executions[run.arn].status == "RUNNING":
            fake_sfn.finish(run.arn, {"answer": 42})

    fake_time.on_sleep = finish_after_30s
    assert client.wait(run, timeout=timedelta(minutes=5)) == {"answer": 42}
    assert fake_time.sleeps[:6] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert max(fake_time.sleeps) == 2.0
    describes = fake_sfn.operations().count("DescribeExecution")
    assert describes == len(fake_time.sleeps) + 1
    assert describes < 30  # ~30 s of waiting cost ~20 calls, not one per 0.1 s


def test_wait_timeout_zero_still_describes_once_and_never_returns_none(
    mock_client: Client, fake_sfn: FakeStepFunctions
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    with pytest.raises(kbflow.WaitTimeout):
        mock_client.wait(run, timeout=0)
    assert fake_sfn.operations().count("DescribeExecution") == 1


def test_wait_on_timed_out_execution_raises_execution_timed_out(
    mock_client: Client, fake_sfn: FakeStepFunctions
) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    fake_sfn.executions[run.arn].status = "TIMED_OUT"
    with pytest.raises(kbflow.ExecutionTimedOut):
        mock_client.wait(run, timeout=1)


def test_describe_is_rate_limited_by_a_token_bucket(
    mock_client: Client, fake_sfn: FakeStepFunctions, fake_time: FakeTime
) -> None:
    run = mock_client.start(fake_sfn.create("pass", PASS), {})
    for _ in range(15):
        mock_client.describe(run)
    assert fake_time.sleeps == []  # the burst is free
    for _ in range(10):
        mock_client.describe(run)
    assert sum(fake_time.sleeps) == pytest.approx(10 / 5)  # then 5 per second


def test_list_reads_every_page(mock_client: Client, fake_sfn: FakeStepFunctions) -> None:
    arn = fake_sfn.create("pass", PASS)
    started = [mock_client.start(arn, {"i": i}, name=f"run-{i:03d}") for i in range(250)]
    listed = mock_client.list(arn)
    assert len(listed) == 250 and {e.arn for e in listed} == {s.arn for s in started}
    assert fake_sfn.operations().count("ListExecutions") == 3
    assert all(e.input is None and e.status is ExecutionStatus.SUCCEEDED for e in listed)


def test_list_names_the_workflow(fake_sfn: FakeStepFunctions, fake_time: FakeTime) -> None:
    arn = fake_sfn.create("kbflow-reindex", PASS)
    client = Client(
        backend=MockBackend(fake_sfn),
        registry=Registry({"reindex": arn}, environ={}),
        validate=False,
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
    client.start(arn, {})
    assert [e.workflow for e in client.list("reindex")] == ["reindex"]
    assert [e.workflow for e in client.list(arn)] == ["reindex"]


def test_redrive_and_the_redriven_event(mock_client: Client, fake_sfn: FakeStepFunctions) -> None:
    run = mock_client.start(fake_sfn.create("wait", WAIT), {})
    mock_client.stop(run)
    again = mock_client.redrive(run)
    assert again.status is ExecutionStatus.RUNNING
    assert mock_client.history(run)[-1].type == "ExecutionRedriven"


def test_bad_status_filter_and_result_of_a_running_execution_are_validation_errors(
    mock_client: Client, fake_sfn: FakeStepFunctions
) -> None:
    arn = fake_sfn.create("wait", WAIT)
    run = mock_client.start(arn, {})
    with pytest.raises(kbflow.ValidationError, match="RUNNING, SUCCEEDED"):
        mock_client.list(arn, status="DONE")
    with pytest.raises(kbflow.ValidationError, match="no result yet"):
        mock_client.describe(run).result()


def test_token_bucket_is_shared_fairly_between_threads() -> None:
    import threading

    from kbflow._polling import TokenBucket

    lock = threading.Lock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            slept.append(seconds)

    bucket = TokenBucket(5, 10.0, monotonic=lambda: 0.0, sleep=sleep)  # time stands still

    def five() -> None:
        for _ in range(5):
            bucket.acquire()

    threads = [threading.Thread(target=five) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 calls, 5 free: each of the other 15 waits for its own place in the queue.
    assert sorted(slept) == pytest.approx([n / 10 for n in range(1, 16)])
