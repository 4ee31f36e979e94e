"""One execution: its record (plain, checkpointable data) and its live run on the engine loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol

from kbflow.errors import StatesError

from .clock import Clock, RealClock
from .dataflow import use_clock
from .history import MAX_EVENTS, History, payload
from .interpreter import Frame, Interpreter
from .plan import MachinePlan, StatePlan

if TYPE_CHECKING:
    from .integrations import TaskTokens
    from .invoke import Invoker, LambdaFunction
    from .tasks import ResourceRegistry, TaskCall

__all__ = ["ExecutionRecord", "Host", "Run", "iso_time"]

JSON = Any
NOT_TRUNCATED: Final = {"truncated": False}
_RETRIABLE_STATES: Final = frozenset({"Task", "Parallel", "Map"})


def iso_time(when: datetime) -> str:
    """AWS's context-object timestamp format: ``2024-03-06T10:29:14.123Z``."""
    if when.utcoffset():
        when = when.astimezone(UTC)
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass(slots=True)
class ExecutionRecord:
    """What DescribeExecution reports; plain data, safe to store."""

    execution_arn: str
    state_machine_arn: str
    name: str
    input: str
    start_date: datetime
    status: str = "RUNNING"
    stop_date: datetime | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0
    parent_arn: str | None = None
    map_run_arn: str | None = None

    def describe(self, *, parsed: bool = False) -> dict[str, JSON]:
        """DescribeExecution's response (``parsed`` gives Input/Output as JSON, ``.sync:2``)."""
        out: dict[str, JSON] = {
            "ExecutionArn": self.execution_arn,
            "StateMachineArn": self.state_machine_arn,
            "Name": self.name,
            "Status": self.status,
            "StartDate": self.start_date.isoformat(),
            "Input": json.loads(self.input) if parsed else self.input,
            "InputDetails": {"Included": True},
            "RedriveCount": self.redrive_count,
        }
        if self.stop_date is not None:
            out["StopDate"] = self.stop_date.isoformat()
        if self.output is not None:
            out["Output"] = json.loads(self.output) if parsed else self.output
            out["OutputDetails"] = {"Included": True}
        if self.error is not None:
            out["Error"] = self.error
        if self.cause is not None:
            out["Cause"] = self.cause
        return out


class Host(Protocol):
    """What an execution needs from its engine."""

    clock: Clock
    invoker: Invoker
    resources: ResourceRegistry
    tokens: TaskTokens
    object_store: Any
    region: str
    rng: Any

    @property
    def functions(self) -> Mapping[str, LambdaFunction]:
        """Registered Lambda functions by name."""
        ...

    def start_child(self, parent: Run, params: Mapping[str, JSON]) -> Run:
        """Start a nested execution (``states:startExecution``)."""
        ...

    def start_map_child(self, parent: Run, plan: StatePlan, value: JSON, map_run: Any) -> Run:
        """Start a distributed Map child execution."""
        ...

    def register_map_run(self, map_run: Any) -> None:
        """Keep a Map Run record."""
        ...

    def finished(self, run: Run) -> None:
        """Called once when an execution reaches a final status."""
        ...


MockResponder = Callable[["TaskCall"], Awaitable[JSON]]


class Run:
    """A live execution.

    Args:
        host: the engine.
        record: the execution's record (mutated as it runs).
        plan: the compiled state machine.
        state_machine_name: for ``$$.StateMachine.Name``.
        role_arn: for ``$$.Execution.RoleArn``.
        timeout: the machine's ``TimeoutSeconds``.
        mocks: state name → mocked response (MockConfigFile test case).
    """

    def __init__(self, host: Host, record: ExecutionRecord, plan: MachinePlan, *,
                 state_machine_name: str, role_arn: str, timeout: float | None = None,
                 mocks: Mapping[str, MockResponder] | None = None,
                 history_listener: Callable[[dict[str, JSON]], None] | None = None,
                 express: bool = False, history_limit: int = MAX_EVENTS) -> None:
        self.host = host
        self.clock = host.clock
        self.region = host.region
        self.record = record
        self.plan = plan
        self.timeout = timeout
        self.mocks = mocks or {}
        now = partial(datetime.now, UTC) if isinstance(host.clock, RealClock) else host.clock.now
        self.history = History(now, listener=history_listener,
                               limit=10**12 if express else history_limit)
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.input_value: JSON = json.loads(record.input)
        self._execution_ctx = {
            "Id": record.execution_arn, "Input": self.input_value, "Name": record.name,
            "RoleArn": role_arn, "StartTime": iso_time(record.start_date),
            "RedriveCount": record.redrive_count,
        }
        if express:
            del self._execution_ctx["RedriveCount"]
        self._machine_ctx = {"Id": record.state_machine_arn, "Name": state_machine_name}
        self.role_arn = role_arn
        self.stop_reason: tuple[str | None, str | None] = (None, None)
        self.awaited_by_parent = True
        """False for a fire-and-forget ``states:startExecution`` child (see ``Engine.wait``)."""

    def context(self, plan: StatePlan) -> dict[str, JSON]:
        """A fresh context object (``$$``) for a state being entered."""
        if not plan.uses_context:
            return {}
        state: dict[str, JSON] = {"Name": plan.name, "EnteredTime": iso_time(self.clock.now())}
        if plan.kind in _RETRIABLE_STATES:
            state["RetryCount"] = 0
        return {"Execution": self._execution_ctx, "State": state,
                "StateMachine": self._machine_ctx}

    def mocked_response(self, state_name: str) -> MockResponder | None:
        """The mocked response for a Task state, when this execution runs a mock test case."""
        return self.mocks.get(state_name) if self.mocks else None

    async def sleep(self, seconds: float) -> None:
        """Wait on the engine clock."""
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def execute(self, interpreter: Interpreter) -> None:
        """Run the execution to its end and record the outcome."""
        use_clock(self.clock)  # JSONata's $now()/$millis() read the engine's clock
        self._started()
        frame = Frame(self, {}, 0)
        try:
            work = interpreter.run_machine(frame, self.plan, self.input_value)
            if self.timeout is not None:
                # asyncio.timeout, not wait_for: wait_for (3.11) can swallow a cancellation
                # (StopExecution) that races with the work finishing.
                async with asyncio.timeout(self.timeout):
                    output = await work
            else:
                output = await work
        except StatesError as err:
            self._finish(frame, "FAILED", error=err.error or None, cause=err.cause)
        except TimeoutError:
            self._finish(frame, "TIMED_OUT", error="States.Timeout",
                         cause=None)
        except asyncio.CancelledError:
            error, cause = self.stop_reason
            self._finish(frame, "ABORTED", error=error, cause=cause)
        except Exception as exc:  # noqa: BLE001 - an engine bug must still end the execution
            self._finish(frame, "FAILED", error="States.Runtime",
                         cause=f"Internal error: {type(exc).__name__}: {exc}")
        else:
            self._finish(frame, "SUCCEEDED", output=payload(output))

    def _started(self) -> None:
        self.history.add("ExecutionStarted", 0, {
            "input": self.record.input, "inputDetails": NOT_TRUNCATED, "roleArn": self.role_arn})

    def start(self, interpreter: Interpreter) -> asyncio.Task[None]:
        """Schedule :meth:`execute` on the running loop (call on the engine loop)."""
        self.task = asyncio.get_running_loop().create_task(self.execute(interpreter))
        self.task.add_done_callback(self._task_done)
        return self.task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never enters execute(): close it here.
        if self.record.status == "RUNNING":
            if not len(self.history):
                self._started()
            error, cause = self.stop_reason
            self._finish(Frame(self, {}, self.history.last_id), "ABORTED", error=error,
                         cause=cause)

    def _finish(self, frame: Frame, status: str, *, output: str | None = None,
                error: str | None = None, cause: str | None = None) -> None:
        record = self.record
        if record.status != "RUNNING":
            return
        record.status, record.output, record.error, record.cause = status, output, error, cause
        record.stop_date = self.clock.now()
        prev = self.history.last_id
        if status == "SUCCEEDED":
            self.history.force("ExecutionSucceeded", prev,
                               {"output": output, "outputDetails": NOT_TRUNCATED})
        else:
            details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
            event = {"FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut",
                     "ABORTED": "ExecutionAborted"}[status]
            self.history.force(event, prev, details or None)
        self.done.set()
        self.host.finished(self)
