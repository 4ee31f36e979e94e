"""Activities as the API serves them, over the engine's activity support.

A Task state with ``"Resource": "arn:aws:states:<region>:<account>:activity:<name>"`` schedules
an activity task on the engine (``ActivityScheduled``); a worker's ``GetActivityTask`` long
poll hands it the input and a task token (``ActivityStarted``); the worker answers with
``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat``. The engine keeps the queues
and the tokens (``runtime/activities.py``); this adapter adds what the API needs around them:
``DescribeActivity``, AWS's error for an unknown activity, and a long poll that does not hold
the server's event loop.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from .protocol import ApiError

__all__ = ["Activities"]

JSON = Any


class Activities:
    """The activities of one engine.

    Args:
        engine: the engine (``create_activity``, ``list_activities``, ``get_activity_task``).
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def create(self, name: str) -> dict[str, JSON]:
        """CreateActivity (idempotent by name)."""
        arn = self.engine.create_activity(name)
        return self.describe(arn)

    def delete(self, arn: str) -> None:
        """DeleteActivity (tasks already scheduled stay with their executions)."""
        self.engine.delete_activity(arn)

    def exists(self, arn: str) -> bool:
        """Whether ``arn`` is a known activity."""
        return self.engine.activity(arn) is not None

    def describe(self, arn: str) -> dict[str, JSON]:
        """DescribeActivity."""
        for item in self.engine.list_activities():
            if item["activityArn"] == arn:
                return {
                    "activityArn": arn,
                    "name": item["name"],
                    "creationDate": item["creationDate"],
                }
        raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")

    def list(self) -> list[dict[str, JSON]]:
        """ListActivities items, by name."""
        return sorted(self.engine.list_activities(), key=lambda a: a["name"])

    async def get_task(self, arn: str, worker: str | None, wait_seconds: float) -> dict[str, JSON]:
        """GetActivityTask: wait up to ``wait_seconds`` for a task (``{}`` when none came)."""
        self.describe(arn)  # AWS's ActivityDoesNotExist before any waiting

        def poll() -> dict[str, JSON]:
            return dict(
                self.engine.get_activity_task(arn, worker_name=worker or "", timeout=wait_seconds)
            )

        return await anyio.to_thread.run_sync(poll)
