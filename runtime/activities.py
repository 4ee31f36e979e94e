"""Activities: Task states whose work is polled by external workers (``GetActivityTask``).

A Task with ``Resource: arn:aws:states:<region>:<account>:activity:<name>`` schedules an
activity task; a worker calls :meth:`Engine.get_activity_task` (a long poll, in real time on
the worker's thread), does the work and answers with ``send_task_success`` / ``failure`` /
``heartbeat`` and the task token, exactly as with ``.waitForTaskToken`` callbacks. History:
``ActivityScheduled``, ``ActivityStarted`` (with the worker name), ``ActivitySucceeded`` /
``ActivityFailed`` / ``ActivityTimedOut``.
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kbflow.errors import StatesError

from .history import payload
from .tasks import NOT_TRUNCATED, TaskCall, with_limits

__all__ = ["Activity", "ActivityTask", "run_activity"]

JSON = Any


@dataclass(slots=True)
class ActivityTask:
    """One scheduled activity task waiting for (or held by) a worker."""

    token: str
    input: str
    call: TaskCall


@dataclass(slots=True)
class Activity:
    """A registered activity: its queue of tasks and its waiting pollers (loop thread only)."""

    arn: str
    name: str
    creation_date: datetime
    queue: deque[ActivityTask] = field(default_factory=deque)
    pollers: deque[tuple[concurrent.futures.Future[ActivityTask], str]] = field(
        default_factory=deque)

    def offer(self, task: ActivityTask) -> None:
        """Hand ``task`` to a waiting worker, or queue it."""
        while self.pollers:
            future, worker = self.pollers.popleft()
            if future.set_running_or_notify_cancel():
                _started(task, worker)
                future.set_result(task)
                return
        self.queue.append(task)

    def poll(self, worker: str) -> concurrent.futures.Future[ActivityTask]:
        """A future for the next task (already resolved when one is queued)."""
        future: concurrent.futures.Future[ActivityTask] = concurrent.futures.Future()
        if self.queue:
            task = self.queue.popleft()
            future.set_running_or_notify_cancel()
            _started(task, worker)
            future.set_result(task)
        else:
            self.pollers.append((future, worker))
        return future


def _started(task: ActivityTask, worker: str) -> None:
    task.call.event("ActivityStarted", {"workerName": worker})


async def run_activity(call: TaskCall) -> JSON:
    """The activity resource: schedule, wait for a worker's callback, record the outcome."""
    host: Any = call.run.host
    activity: Activity | None = host.activity(call.resource.arn)
    if activity is None:
        raise StatesError("States.Runtime",
                          f"Activity does not exist: '{call.resource.arn}'")
    token = host.tokens.new_token(call.run)
    call.token = token
    details: dict[str, JSON] = {"resource": call.resource.arn, "input": payload(call.parameters),
                                "inputDetails": NOT_TRUNCATED}
    if call.timeout is not None:
        details["timeoutInSeconds"] = int(call.timeout)
    if call.heartbeat is not None:
        details["heartbeatInSeconds"] = int(call.heartbeat)
    call.event("ActivityScheduled", details)
    activity.offer(ActivityTask(token, payload(call.parameters), call))

    async def attempt() -> JSON:
        try:
            return await host.tokens.wait(call, {}, "ActivityTimedOut")
        except StatesError as err:
            host.tokens.close(token)
            if err.error != "States.HeartbeatTimeout":
                failed = {"error": err.error}
                if err.cause is not None:
                    failed["cause"] = err.cause
                call.event("ActivityFailed", failed)
            raise

    result = await with_limits(call, attempt(), lambda e: call.event(
        "ActivityTimedOut", {"error": e}))
    call.event("ActivitySucceeded", {"output": payload(result), "outputDetails": NOT_TRUNCATED})
    return result
