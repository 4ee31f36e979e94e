"""The local backend: kbflow's embedded ASL engine (``kbflow.runtime.Engine``) in this process.

The engine answers in AWS's shapes already; this module adapts the few differences (its
DescribeExecution uses the service-integration key case ``ExecutionArn``/``StartDate`` with ISO
timestamps, ListExecutions is not paged) and pages ListExecutions itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kbflow._backends.base import BaseBackend
from kbflow._models import Execution, ExecutionStatus, HistoryEvent, Page
from kbflow.errors import ExecutionNotRedrivable

__all__ = ["LOCAL_CONSOLE", "LocalBackend", "normalise"]

LOCAL_CONSOLE = "http://127.0.0.1:8083"
"""Where ``kbflow console`` serves by default."""


def normalise(response: Mapping[str, Any]) -> dict[str, Any]:
    """Give an engine response the API's shape: camelCase keys, datetimes for ``*Date`` keys.

    Args:
        response: e.g. ``{"ExecutionArn": ..., "StartDate": "2026-01-01T00:00:00+00:00"}``.

    Returns:
        e.g. ``{"executionArn": ..., "startDate": datetime(2026, 1, 1, tzinfo=UTC)}``.
    """
    out: dict[str, Any] = {}
    for key, value in response.items():
        name = key[:1].lower() + key[1:]
        if name.endswith("Date") and isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif name.endswith("Details") and isinstance(value, Mapping):
            value = {k[:1].lower() + k[1:]: v for k, v in value.items()}
        out[name] = value
    return out


class LocalBackend(BaseBackend):
    """Executions on an embedded :class:`kbflow.runtime.engine.Engine`.

    Args:
        engine: the engine (state machines and task functions registered on it).
        owns_engine: close the engine when the backend closes.
        on_close: called when the backend closes instead (e.g. the host that built the engine).
        console_base: the kbflow console serving this engine's store.
    """

    def __init__(
        self,
        engine: Any,
        *,
        owns_engine: bool = False,
        on_close: Callable[[], None] | None = None,
        console_base: str | None = LOCAL_CONSOLE,
    ) -> None:
        self.engine = engine
        self.owns_engine = owns_engine
        self.on_close = on_close
        self.console_base = console_base

    def start_execution(
        self, state_machine_arn: str, *, input: str, name: str, trace_header: str | None = None
    ) -> Execution:
        """StartExecution on the engine (``trace_header`` has no local meaning and is dropped)."""
        arn = self.engine.start_execution(state_machine_arn, input, name=name)
        return self.describe_execution(str(arn))

    def describe_execution(self, execution_arn: str) -> Execution:
        """DescribeExecution on the engine."""
        return Execution.from_aws(normalise(self.engine.describe_execution(execution_arn)))

    def get_execution_history(
        self,
        execution_arn: str,
        *,
        next_token: str | None = None,
        max_results: int = 1000,
        reverse_order: bool = False,
    ) -> Page[HistoryEvent]:
        """GetExecutionHistory on the engine (one page)."""
        resp = self.engine.get_execution_history(
            execution_arn,
            reverse_order=reverse_order,
            max_results=max_results,
            next_token=next_token,
        )
        events = tuple(HistoryEvent.from_aws(e) for e in resp.get("events", ()))
        return Page(events, resp.get("nextToken") or None)

    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status: ExecutionStatus | None = None,
        next_token: str | None = None,
        max_results: int = 1000,
    ) -> Page[Execution]:
        """ListExecutions on the engine, paged here (the token is an offset)."""
        found = self.engine.list_executions(
            state_machine_arn, status=status.value if status else None
        )
        start = int(next_token) if next_token else 0
        end = start + max(1, min(max_results, 1000))
        items = tuple(Execution.from_aws(normalise(e)) for e in found[start:end])
        return Page(items, str(end) if end < len(found) else None)

    def stop_execution(
        self, execution_arn: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """StopExecution on the engine."""
        self.engine.stop_execution(execution_arn, error=error, cause=cause)

    def redrive_execution(self, execution_arn: str) -> None:
        """RedriveExecution, when the engine supports it (its durable store does).

        Raises:
            ExecutionNotRedrivable: the engine cannot redrive.
        """
        redrive = getattr(self.engine, "redrive_execution", None)
        if redrive is None:
            raise ExecutionNotRedrivable(
                f"this engine cannot redrive {execution_arn}: redrive needs the durable local store"
            )
        redrive(execution_arn)

    def send_task_success(self, task_token: str, output: str) -> None:
        """SendTaskSuccess on the engine."""
        self.engine.send_task_success(task_token, json.loads(output))

    def send_task_failure(
        self, task_token: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """SendTaskFailure on the engine."""
        self.engine.send_task_failure(task_token, error=error, cause=cause)

    def send_task_heartbeat(self, task_token: str) -> None:
        """SendTaskHeartbeat on the engine."""
        self.engine.send_task_heartbeat(task_token)

    def close(self) -> None:
        """Call ``on_close``, or close the engine if this backend owns it."""
        if self.on_close is not None:
            self.on_close()
        elif self.owns_engine:
            self.engine.close()
