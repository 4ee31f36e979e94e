"""Activities: Task states whose work is done by workers polling ``GetActivityTask``.

A Task state with ``"Resource": "arn:aws:states:<region>:<account>:activity:<name>"``
schedules an activity task (``ActivityScheduled``); a worker's ``GetActivityTask`` long poll
hands it the input and a task token (``ActivityStarted``); the worker answers with
``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat`` (``ActivitySucceeded``/
``ActivityFailed``). ``TimeoutSeconds`` and ``HeartbeatSeconds`` apply as on AWS.

The engine has no activity support of its own, so each activity is added to the engine's
integration registry (``Engine.register_integration``) under the key its ARN resolves to.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kbflow.errors import StatesError

from .protocol import ApiError

__all__ = ["Activities", "ActivityTask"]

JSON = Any
POLL_INTERVAL: Final = 0.05


@dataclass(slots=True)
class ActivityTask:
    """A scheduled activity task waiting for a worker."""

    token: str
    input: str
    started: Callable[[str], None]
    """Called (from any thread) with the worker name when a worker takes the task."""


@dataclass(slots=True)
class _Activity:
    arn: str
    name: str
    creation_date: datetime
    queue: collections.deque[ActivityTask]


class Activities:
    """The activities of one engine and their task queues.

    Args:
        engine: the engine whose Task states may name activity ARNs.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._activities: dict[str, _Activity] = {}
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        """The ARN of activity ``name``."""
        return f"arn:aws:states:{self.engine.region}:{self.engine.account}:activity:{name}"

    def create(self, name: str) -> dict[str, JSON]:
        """CreateActivity (idempotent by name)."""
        arn = self.arn(name)
        with self._lock:
            found = self._activities.get(arn)
            if found is None:
                found = _Activity(arn, name, self.engine.clock.now(), collections.deque())
                self._activities[arn] = found
                # parse_resource() leaves activity ARNs to the registry as "unknown:<arn>".
                self.engine.register_integration(f"unknown:{arn}", self._resource(found))
        return {"activityArn": arn, "creationDate": found.creation_date}

    def delete(self, arn: str) -> None:
        """DeleteActivity (tasks already scheduled stay with their executions)."""
        with self._lock:
            self._activities.pop(arn, None)

    def exists(self, arn: str) -> bool:
        """Whether ``arn`` is a known activity."""
        return arn in self._activities

    def describe(self, arn: str) -> dict[str, JSON]:
        """DescribeActivity."""
        found = self._get(arn)
        return {"activityArn": found.arn, "name": found.name,
                "creationDate": found.creation_date}

    def list(self) -> list[dict[str, JSON]]:
        """ListActivities items, by name."""
        with self._lock:
            items = sorted(self._activities.values(), key=lambda a: a.name)
        return [{"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date}
                for a in items]

    def _get(self, arn: str) -> _Activity:
        found = self._activities.get(arn)
        if found is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return found

    async def get_task(self, arn: str, worker: str | None,
                       wait_seconds: float) -> dict[str, JSON]:
        """GetActivityTask: wait up to ``wait_seconds`` for a task (``{}`` when none came)."""
        found = self._get(arn)
        deadline = time.monotonic() + wait_seconds
        while True:
            with self._lock:
                task = found.queue.popleft() if found.queue else None
            if task is not None:
                task.started(worker or "")
                return {"taskToken": task.token, "input": task.input}
            if time.monotonic() >= deadline:
                return {}
            await asyncio.sleep(POLL_INTERVAL)

    def _resource(self, activity: _Activity) -> Callable[[Any], Any]:
        async def run_activity(call: Any) -> JSON:
            return await _run_activity(self, activity, call)

        return run_activity


async def _run_activity(hub: Activities, activity: _Activity, call: Any) -> JSON:
    """Schedule one activity task on the engine loop and await the worker's answer."""
    from kbflow.runtime.history import payload
    from kbflow.runtime.tasks import NOT_TRUNCATED, with_limits

    run = call.run
    loop = asyncio.get_running_loop()
    text = payload(call.parameters)
    details: dict[str, JSON] = {"resource": activity.arn, "input": text,
                                "inputDetails": NOT_TRUNCATED}
    if call.timeout is not None:
        details["timeoutInSeconds"] = int(call.timeout)
    if call.heartbeat is not None:
        details["heartbeatInSeconds"] = int(call.heartbeat)
    call.event("ActivityScheduled", details)
    call.token = run.host.tokens.new_token(run)

    def started(worker: str) -> None:
        loop.call_soon_threadsafe(call.event, "ActivityStarted", {"workerName": worker})

    with hub._lock:
        activity.queue.append(ActivityTask(call.token, text, started))

    async def attempt() -> JSON:
        try:
            return await run.host.tokens.wait(call, {"resource": activity.arn})
        except StatesError as err:
            if err.error != "States.HeartbeatTimeout":
                failed = {"error": err.error}
                if err.cause is not None:
                    failed["cause"] = err.cause
                call.event("ActivityFailed", failed)
            raise
        finally:
            with hub._lock:
                _drop(activity, call.token)

    result = await with_limits(call, attempt(), lambda e: call.event(
        "ActivityTimedOut", {"error": e}))
    call.event("ActivitySucceeded", {"output": payload(result), "outputDetails": NOT_TRUNCATED})
    return result


def _drop(activity: _Activity, token: str) -> None:
    """Remove a task nobody took (the state timed out or the execution stopped)."""
    for task in list(activity.queue):
        if task.token == token:
            activity.queue.remove(task)
