"""Built-in task integrations: Lambda (bare ARN and ``lambda:invoke``), nested executions,
and task tokens (``.waitForTaskToken`` callbacks)."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Final

from kbflow.errors import InvalidToken, StatesError, TaskDoesNotExist, TaskTimedOut

from .activities import run_activity
from .history import payload
from .invoke import LambdaFunction, function_name_of
from .tasks import NOT_TRUNCATED, ResourceRegistry, TaskCall, error_cause, with_limits

if TYPE_CHECKING:
    from .execution import Run

__all__ = ["OpenTask", "TaskTokens", "install_builtin_resources", "lambda_invoke_response"]

JSON = Any
_FINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def install_builtin_resources(registry: ResourceRegistry) -> None:
    """Register the built-in integrations on ``registry``."""
    registry.register("lambda-function", lambda_function)
    registry.register("lambda:invoke", lambda_invoke)
    registry.register("states:startExecution", start_execution)
    registry.register("activity", run_activity)


# ---------------------------------------------------------------------------- Lambda


def _find_function(call: TaskCall, name_or_arn: Any) -> LambdaFunction:
    fn = call.run.host.functions.get(function_name_of(str(name_or_arn)))
    if fn is None:
        raise StatesError(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {name_or_arn} (Service: AWSLambda; Status Code: 404; "
            "Error Code: ResourceNotFoundException)")
    return fn


async def _invoke(call: TaskCall, fn: LambdaFunction, event: JSON) -> Any:
    host = call.run.host
    invoker = fn.invoker if fn.invoker is not None else host.invoker
    with host.clock.busy():
        invocation = await invoker.invoke(fn, payload(event))
    return invocation


async def lambda_function(call: TaskCall) -> JSON:
    """A bare function ARN: ``LambdaFunction*`` events; the result is the function's payload."""

    async def work(call: TaskCall) -> JSON:
        fn = _find_function(call, call.resource.action)
        inv = await _invoke(call, fn, call.parameters)
        if inv.error is not None:
            raise StatesError(str(inv.error["errorType"]), error_cause(inv.error))
        return inv.payload

    return await lambda_function_events(call, work)


async def lambda_function_events(call: TaskCall, work: Any) -> JSON:
    """Run ``work`` with the ``LambdaFunction*`` events of a bare function ARN task."""
    details: dict[str, JSON] = {"input": payload(call.parameters), "inputDetails": NOT_TRUNCATED,
                                "resource": call.resource.arn}
    if call.timeout is not None:
        details["timeoutInSeconds"] = int(call.timeout)
    call.event("LambdaFunctionScheduled", details)
    call.event("LambdaFunctionStarted")

    async def attempt() -> JSON:
        try:
            return await work(call)
        except StatesError as err:
            failed = {"error": err.error, "cause": err.cause} if err.cause is not None else {
                "error": err.error}
            call.event("LambdaFunctionFailed", failed)
            raise

    result = await with_limits(call, attempt(), lambda e: call.event(
        "LambdaFunctionTimedOut", {"error": e}))
    call.event("LambdaFunctionSucceeded", {"output": payload(result),
                                           "outputDetails": NOT_TRUNCATED})
    return result


def lambda_invoke_response(result: JSON, request_id: str,
                           now: datetime | None = None) -> dict[str, JSON]:
    """Lambda's Invoke response as Step Functions' ``lambda:invoke`` returns it."""
    length = str(len(json.dumps(result)))
    date = formatdate((now or datetime.now(UTC)).timestamp(), usegmt=True)
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": result,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "X-Amzn-Trace-Id": [f"Root=1-{request_id[:8]}-{request_id[9:13]}"],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": f"Root=1-{request_id[:8]}-{request_id[9:13]}",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _add_log_result(response: dict[str, JSON], fn: LambdaFunction, request_id: str) -> None:
    """``LogType: Tail``: the last 4 KB of the invocation log, base64-encoded, as Lambda does."""
    import base64

    log = (f"START RequestId: {request_id} Version: $LATEST\n"
           f"END RequestId: {request_id}\n"
           f"REPORT RequestId: {request_id}\tMemory Size: {fn.memory_mb} MB\n")
    encoded = base64.b64encode(log.encode()[-4096:]).decode()
    response["LogResult"] = encoded
    response["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = [encoded]
    response["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = encoded


def _request_payload(value: JSON) -> JSON:
    """Lambda's request body: a string Payload is sent as raw JSON text, null as ``{}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _service_details(call: TaskCall) -> dict[str, JSON]:
    resource = call.resource.action + (f".{call.resource.pattern}" if call.resource.pattern else "")
    return {"resourceType": call.resource.service, "resource": resource}


def _scheduled(call: TaskCall) -> dict[str, JSON]:
    details = _service_details(call)
    details.update({"region": call.resource.region, "parameters": payload(call.parameters)})
    if call.timeout is not None:
        details["timeoutInSeconds"] = int(call.timeout)
    if call.heartbeat is not None:
        details["heartbeatInSeconds"] = int(call.heartbeat)
    return details


async def run_service_task(call: TaskCall, work: Any) -> JSON:
    """Run a service integration with ``Task*`` events, timeouts and callbacks.

    Args:
        call: the task attempt.
        work: ``async (call) -> JSON``; the service request itself.

    Returns:
        The task result (for ``.waitForTaskToken``, the callback's output).
    """
    base = _service_details(call)
    call.event("TaskScheduled", _scheduled(call))
    call.event("TaskStarted", dict(base))

    async def attempt() -> JSON:
        try:
            result = await work(call)
            if call.token is None:
                return result
            call.event("TaskSubmitted", {**base, "output": payload(result),
                                         "outputDetails": NOT_TRUNCATED})
            return await call.run.host.tokens.wait(call, base)
        except StatesError as err:
            if call.token is not None:
                call.run.host.tokens.close(call.token)
            if err.error == "States.HeartbeatTimeout":
                raise
            call.event("TaskFailed", {**base, "error": err.error, "cause": err.cause}
                       if err.cause is not None else {**base, "error": err.error})
            raise

    try:
        result = await with_limits(call, attempt(), lambda e: call.event(
            "TaskTimedOut", {**base, "error": e}))
    finally:
        # Timed out or stopped before the wait began (e.g. while the Lambda that hands the
        # token out still ran): a late callback must get TaskTimedOut, as on AWS.
        if call.token is not None:
            call.run.host.tokens.close(call.token)
    call.event("TaskSucceeded", {**base, "output": payload(result),
                                 "outputDetails": NOT_TRUNCATED})
    return result


async def lambda_invoke(call: TaskCall) -> JSON:
    """``arn:aws:states:::lambda:invoke``: Lambda's Invoke API through Step Functions."""

    async def work(call: TaskCall) -> JSON:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        fn = _find_function(call, params.get("FunctionName"))
        event = _request_payload(params.get("Payload"))
        kind = params.get("InvocationType", "RequestResponse")
        if kind in ("Event", "DryRun"):
            return _accepted(call, fn, event, kind)
        inv = await _invoke(call, fn, event)
        if inv.error is not None:
            raise StatesError(str(inv.error["errorType"]),
                              json.dumps(inv.error, separators=(",", ":")))
        response = lambda_invoke_response(inv.payload, inv.request_id, call.run.clock.now())
        if params.get("LogType") == "Tail":
            _add_log_result(response, fn, inv.request_id)
        return response

    return await run_service_task(call, work)


def _accepted(call: TaskCall, fn: LambdaFunction, event: JSON, kind: str) -> JSON:
    """``InvocationType: Event`` runs the function in the background (202); ``DryRun`` only
    checks it exists (204). Neither response carries a payload."""
    if kind == "Event":
        invoker = fn.invoker if fn.invoker is not None else call.run.host.invoker
        background = asyncio.ensure_future(invoker.invoke(fn, payload(event)))
        _BACKGROUND.add(background)
        background.add_done_callback(_BACKGROUND.discard)
    response = lambda_invoke_response("", str(uuid.uuid4()), call.run.clock.now())
    response.pop("ExecutedVersion")
    response["StatusCode"] = response["SdkHttpMetadata"]["HttpStatusCode"] = (
        202 if kind == "Event" else 204)
    return response


_BACKGROUND: set[asyncio.Future[Any]] = set()


# ---------------------------------------------------------------------------- nested executions


async def start_execution(call: TaskCall) -> JSON:
    """``arn:aws:states:::states:startExecution`` (``.sync``, ``.sync:2``, callbacks)."""

    async def work(call: TaskCall) -> JSON:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        child: Run = call.run.host.start_child(call.run, params)
        # Fire and forget: the parent's result does not wait for the child (time skipping).
        child.awaited_by_parent = bool(call.resource.pattern)
        if call.resource.pattern not in ("sync", "sync:2"):
            return {"ExecutionArn": child.record.execution_arn,
                    "StartDate": child.record.start_date.isoformat()}
        await child.done.wait()
        described = child.record.describe(parsed=call.resource.pattern == "sync:2")
        if child.record.status != "SUCCEEDED":
            raise StatesError("States.TaskFailed", payload(described))
        return described

    return await run_service_task(call, work)


# ---------------------------------------------------------------------------- task tokens


@dataclass(slots=True)
class _Pending:
    run: Run
    future: asyncio.Future[JSON] | None = None
    beat: asyncio.Event | None = None
    base: Mapping[str, JSON] = field(default_factory=dict)
    closed: str | None = None
    state: str | None = None
    """The waiting task state's name (set once the task waits)."""
    entered: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenTask:
    """A ``.waitForTaskToken`` task or activity awaiting its callback (``TaskTokens.pending``).

    Unpacks as ``(token, execution_arn)``.
    """

    token: str = field(repr=False)
    """The task token: a secret (whoever holds it can complete the task), so not in repr."""
    execution_arn: str
    state_name: str
    entered: datetime
    """When the task state was entered."""

    def __iter__(self) -> Iterator[str]:
        return iter((self.token, self.execution_arn))


def _entered_time(call: TaskCall) -> datetime:
    """When the task's state was entered (``$$.State.EnteredTime``, else now)."""
    state = call.context.get("State") if isinstance(call.context, dict) else None
    text = state.get("EnteredTime") if isinstance(state, dict) else None
    if isinstance(text, str):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return call.run.clock.now()


class TaskTokens:
    """Issued task tokens and the callbacks waiting on them."""

    def __init__(self, remember: int = 100_000) -> None:
        self._pending: dict[str, _Pending] = {}
        self._remember = remember

    def new_token(self, run: Run) -> str:
        """Issue a token for a ``.waitForTaskToken`` task of ``run``."""
        self._forget_old()
        token = secrets.token_urlsafe(48)
        # The future exists from the start: a callback may arrive before the task waits
        # (e.g. a nested execution that answers at once).
        loop = asyncio.get_running_loop()
        self._pending[token] = _Pending(run, loop.create_future(), asyncio.Event())
        return token

    async def wait(self, call: TaskCall, base: Mapping[str, JSON],
                   timed_out: str = "TaskTimedOut") -> JSON:
        """Wait for SendTaskSuccess/Failure, enforcing HeartbeatSeconds."""
        token = call.token
        assert token is not None
        pending = self._pending[token]
        if pending.future is None:  # issued by a subclass that does not pre-create it
            pending.future = asyncio.get_running_loop().create_future()
        if pending.beat is None:
            pending.beat = asyncio.Event()
        pending.base = base
        pending.state = call.plan.name
        pending.entered = _entered_time(call)
        try:
            # Holds virtual time so a test can answer, unless someone waits on a result.
            with call.run.host.clock.awaiting_callback(call.run):
                return await self._wait_beats(call, pending, timed_out)
        finally:
            if pending.closed is None:
                pending.closed = "TaskTimedOut"

    async def _wait_beats(self, call: TaskCall, pending: _Pending, timed_out: str) -> JSON:
        assert pending.future is not None and pending.beat is not None
        if call.heartbeat is None:
            return await pending.future
        while True:
            beat_task = asyncio.ensure_future(pending.beat.wait())
            try:
                done, _ = await asyncio.wait({pending.future, beat_task}, timeout=call.heartbeat,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when the task times out or is stopped meanwhile
                beat_task.cancel()
            if pending.future in done:
                return pending.future.result()
            if not done:
                call.event(timed_out, {**pending.base, "error": "States.HeartbeatTimeout"})
                raise StatesError("States.HeartbeatTimeout", None)
            pending.beat.clear()

    def pending(self) -> list[OpenTask]:
        """The callbacks awaited now: open tokens of RUNNING executions, oldest first.

        Call it on the engine loop (e.g. through ``Engine._call_soon``) or accept a snapshot
        taken while the loop runs.
        """
        out = []
        for token, p in list(self._pending.items()):
            if (p.closed is None and p.state is not None and p.entered is not None
                    and p.run.record.status == "RUNNING"):
                out.append(OpenTask(token, p.run.record.execution_arn, p.state, p.entered))
        return sorted(out, key=lambda task: task.entered)

    def _get(self, token: str) -> _Pending:
        if not isinstance(token, str) or len(token) < 16:
            raise InvalidToken("Invalid Token: task token is malformed")
        pending = self._pending.get(token)
        if pending is None:
            raise TaskDoesNotExist("Task does not exist anymore")
        if pending.closed is not None or pending.run.record.status in _FINAL:
            raise TaskTimedOut("Task Timed Out")
        return pending

    def resolve(self, token: str, output: JSON | None = None, *, error: str | None = None,
                cause: str | None = None, success: bool = True) -> None:
        """Complete the task of ``token`` (called on the engine loop)."""
        pending = self._get(token)
        if pending.future is None or pending.future.done():
            raise TaskTimedOut("Task Timed Out")
        pending.closed = "done"
        if success:
            pending.future.set_result(output)
        else:
            pending.future.set_exception(StatesError(error or "", cause))

    def _forget_old(self) -> None:
        # Closed tokens are kept (late callbacks get TaskTimedOut) up to a bound; past it the
        # oldest closed ones are forgotten (and would get TaskDoesNotExist).
        if len(self._pending) <= self._remember:
            return
        for token in [t for t, p in self._pending.items() if p.closed is not None][
                : len(self._pending) - self._remember]:
            del self._pending[token]

    def close(self, token: str) -> None:
        """Invalidate ``token`` (its task ended another way); later callbacks get TaskTimedOut."""
        pending = self._pending.get(token)
        if pending is not None and pending.closed is None:
            pending.closed = "TaskTimedOut"

    def heartbeat(self, token: str) -> None:
        """Record a heartbeat for ``token`` (called on the engine loop)."""
        pending = self._get(token)
        if pending.beat is not None:
            pending.beat.set()
