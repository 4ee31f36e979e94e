"""The Task state and its resources (Lambda, nested executions, other integrations).

``Resource`` ARNs resolve to a :class:`TaskResource`:

* ``arn:aws:lambda:<region>:<account>:function:<name>`` — a registered Lambda function, with
  ``LambdaFunction*`` history events; the state's effective input is the event.
* ``arn:aws:states:::lambda:invoke`` (``.waitForTaskToken``) — ``Task*`` events; the result is
  Lambda's Invoke response (``Payload``, ``StatusCode``, ...).
* ``arn:aws:states:::states:startExecution`` (``.sync``, ``.sync:2``, ``.waitForTaskToken``).
* anything registered with :meth:`ResourceRegistry.register` (``"<service>:<action>"``).

The state's ``TimeoutSeconds`` and ``HeartbeatSeconds`` (and Path forms) are enforced on the
engine's clock: ``States.Timeout`` / ``States.HeartbeatTimeout`` with a ``TaskTimedOut`` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from kbflow.errors import StatesError

from .asl import model as m
from .asl.jsonpath import compile_path
from .asl.model import Unset
from .dataflow import EvaluationFailed, render_jsonata, resolve_path
from .history import payload
from .interpreter import Frame, Interpreter, Outcome, register_runner
from .invoke import on_invocation_queue
from .plan import StatePlan

if TYPE_CHECKING:
    from .execution import Run

__all__ = ["ResourceRegistry", "TaskCall", "TaskResource", "parse_resource"]

JSON = Any
NOT_TRUNCATED: Final = {"truncated": False}
PATTERNS: Final = (".waitForTaskToken", ".sync:2", ".sync")


@dataclass(frozen=True, slots=True)
class ParsedResource:
    """A Task ``Resource`` ARN taken apart."""

    arn: str
    service: str
    """``lambda-function`` for a bare function ARN, else the service (``lambda``, ``states``)."""
    action: str
    """``invoke``, ``startExecution``, ... (the function name for a bare function ARN)."""
    pattern: str
    """``""``, ``sync``, ``sync:2`` or ``waitForTaskToken``."""
    region: str


def parse_resource(arn: str, default_region: str = "us-east-1") -> ParsedResource:
    """Split a Task resource ARN into service, action and integration pattern.

    Args:
        arn: the ``Resource`` value.
        default_region: the region when the ARN has none.

    Returns:
        The parsed resource.
    """
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return ParsedResource(arn, "lambda-function", parts[6], "", parts[3] or default_region)
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return ParsedResource(arn, "activity", parts[6], "", parts[3] or default_region)
    if len(parts) >= 7 and parts[2] == "states":
        action = ":".join(parts[6:])
        pattern = ""
        for suffix in PATTERNS:
            if action.endswith(suffix):
                action, pattern = action[: -len(suffix)], suffix[1:]
                break
        return ParsedResource(arn, parts[5], action, pattern, parts[3] or default_region)
    return ParsedResource(arn, "unknown", arn, "", default_region)


@dataclass(slots=True)
class TaskCall:
    """Everything a resource needs to run one task attempt."""

    run: Run
    frame: Frame
    plan: StatePlan
    resource: ParsedResource
    parameters: JSON
    context: dict[str, JSON]
    timeout: float | None
    heartbeat: float | None
    token: str | None = None

    def event(self, event_type: str, details: dict[str, JSON] | None = None) -> None:
        """Record a history event in this task's branch."""
        self.frame.prev = self.run.history.add(event_type, self.frame.prev, details)


class TaskResource(Protocol):
    """Runs one task attempt and returns its raw result (or raises StatesError)."""

    def __call__(self, call: TaskCall) -> Awaitable[JSON]: ...


class ResourceRegistry:
    """Maps ``"<service>:<action>"`` to a :class:`TaskResource`."""

    def __init__(self) -> None:
        self._resources: dict[str, TaskResource] = {}

    def register(self, key: str, resource: TaskResource) -> None:
        """Register an integration, e.g. ``register("dynamodb:putItem", put_item)``.

        Args:
            key: ``service:action``.
            resource: an async callable taking a :class:`TaskCall`.
        """
        self._resources[key] = resource

    def lookup(self, parsed: ParsedResource) -> TaskResource:
        """Find the resource for a parsed ARN.

        Raises:
            StatesError: ``States.Runtime`` when nothing handles it.
        """
        key = parsed.service if parsed.service in ("lambda-function", "activity") else (
            f"{parsed.service}:{parsed.action}")
        found = self._resources.get(key)
        if found is None:
            raise StatesError("States.Runtime",
                              f"The resource '{parsed.arn}' is not supported by this engine")
        return found


# ---------------------------------------------------------------------------- the Task state


@register_runner("Task")
async def run_task(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                   ctx: dict[str, JSON]) -> Outcome:
    """Task: resolve inputs, run the resource under its timeouts, process the result."""
    state = plan.state
    assert isinstance(state, m.Task)
    run = frame.run
    parsed = plan.extra.get("resource")
    if parsed is None:
        parsed = plan.extra["resource"] = parse_resource(state.resource, run.region)
    token = None
    if parsed.pattern == "waitForTaskToken":
        token = run.host.tokens.new_token(run)
        ctx["Task"] = {"Token": token}
    variables = frame.variables
    pipe = plan.pipeline
    if plan.jsonata:
        states = {"input": data, "context": ctx}
        args = data if isinstance(state.arguments, Unset) else render_jsonata(
            state.arguments, states, variables, "Arguments")
        timeout = _jsonata_seconds(state.timeout_seconds, states, variables, "TimeoutSeconds")
        heartbeat = _jsonata_seconds(state.heartbeat_seconds, states, variables,
                                     "HeartbeatSeconds")
    else:
        args = pipe.effective_input(data, ctx, variables)
        timeout = _path_seconds(state.timeout_seconds, state.timeout_seconds_path, data, ctx,
                                variables, "TimeoutSecondsPath")
        heartbeat = _path_seconds(state.heartbeat_seconds, state.heartbeat_seconds_path, data,
                                  ctx, variables, "HeartbeatSecondsPath")
    call = TaskCall(run, frame, plan, parsed, args, ctx, timeout, heartbeat, token)
    result = await _execute(call)
    if plan.jsonata:
        states = {"input": data, "context": ctx, "result": result}
        output, assigned = pipe.finish_jsonata(states, result, variables)
        return Outcome(output, plan.next, assigned)
    output, assigned = pipe.finish_jsonpath(data, result, ctx, variables)
    return Outcome(output, plan.next, assigned)


async def _execute(call: TaskCall) -> JSON:
    run = call.run
    mocked = run.mocked_response(call.plan.name)
    if mocked is not None:
        from .integrations import lambda_function_events, run_service_task

        if call.resource.service == "lambda-function":
            return await lambda_function_events(call, mocked)
        return await run_service_task(call, mocked)
    resource = run.host.resources.lookup(call.resource)
    return await resource(call)


def _jsonata_seconds(value: Any, states: Mapping[str, JSON], variables: Mapping[str, JSON],
                     field: str) -> float | None:
    if isinstance(value, Unset):
        return None
    if isinstance(value, int):
        return float(value)
    result = render_jsonata(value, states, variables, field)
    if not isinstance(result, int) or isinstance(result, bool) or result <= 0:
        raise EvaluationFailed(
            "States.QueryEvaluationError",
            f"The JSONata expression '{str(value)[2:-2].strip()}' specified for the field "
            f"'{field}' returned an unexpected result type. Expected 'integer', but was "
            f"'{type(result).__name__}' for value: {payload(result)}", location=field)
    return float(result)


def _path_seconds(value: Any, path: Any, data: JSON, ctx: JSON, variables: Mapping[str, JSON],
                  field: str) -> float | None:
    if isinstance(value, int):
        return float(value)
    if not isinstance(path, str):
        return None
    found = resolve_path(compile_path(path), data, ctx, variables)
    if not isinstance(found, int) or isinstance(found, bool) or found <= 0:
        raise StatesError("States.Runtime",
                          f"The {field} field refers to value \"{found}\" which is not a valid "
                          f"positive integer: {path}")
    return float(found)


# ---------------------------------------------------------------------------- time limits


async def with_limits(call: TaskCall, work: Awaitable[JSON],
                      on_timeout: Callable[[str], None]) -> JSON:
    """Run ``work`` under the task's TimeoutSeconds; raise States.Timeout when it expires."""
    if call.timeout is None:
        return await work
    limit = call.timeout
    active = True
    try:
        async with asyncio.timeout(limit) as scope:

            def queued(running: bool, at: float) -> None:  # no clock while waiting for a worker
                if active and not scope.expired():
                    scope.reschedule(at + limit if running else None)

            try:
                with on_invocation_queue(queued):
                    return await work
            finally:
                active = False
    except TimeoutError:
        on_timeout("States.Timeout")
        raise StatesError("States.Timeout", None) from None


def error_cause(error: Mapping[str, JSON]) -> str:
    """A Lambda function error rendered as the ``cause`` text AWS reports."""
    return json.dumps(error)
