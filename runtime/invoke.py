"""Lambda functions and the Invoker seam.

A function is registered with the engine by name (``register_function("fetch", handler,
timeout_seconds=30)``); ARNs such as ``arn:aws:lambda:us-east-1:123456789012:function:fetch``
(with an optional ``:alias``/``:version``) resolve by name. Invocation goes through an
:class:`Invoker`; :class:`InProcessInvoker` runs handlers in a thread pool with Lambda's
semantics:

* ``handler(event, context)`` with a :class:`LambdaContext` (``aws_request_id``,
  ``function_name``, ``get_remaining_time_in_millis()`` honouring the function timeout);
* the event and the result cross a JSON boundary (``json.dumps``/``json.loads``);
* an exception becomes a function error ``{"errorType": type(exc).__name__, "errorMessage",
  "requestId", "stackTrace"}``, as the Python runtime reports it.

Worker processes (issue 4) implement the same :class:`Invoker` protocol.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "FunctionError",
    "InProcessInvoker",
    "Invocation",
    "Invoker",
    "LambdaContext",
    "LambdaFunction",
    "function_name_of",
]

JSON = Any
Handler = Callable[[Any, Any], Any]


def function_name_of(name_or_arn: str) -> str:
    """The function name inside a name, partial ARN or full ARN.

    Args:
        name_or_arn: ``fetch``, ``123456789012:function:fetch`` or
            ``arn:aws:lambda:us-east-1:123456789012:function:fetch[:qualifier]``.

    Returns:
        ``fetch``.
    """
    parts = name_or_arn.split(":")
    if "function" in parts:
        i = parts.index("function")
        if i + 1 < len(parts):
            return parts[i + 1]
    return name_or_arn


@dataclass(frozen=True, slots=True)
class LambdaFunction:
    """A registered function."""

    name: str
    handler: Handler
    timeout_seconds: float = 3.0
    """Lambda's function timeout (default 3 s, as on AWS)."""
    memory_mb: int = 128
    region: str = "us-east-1"
    account: str = "123456789012"
    invoker: Invoker | None = None
    """This function's own invoker (e.g. worker processes for CPU-bound handlers); None
    uses the engine's."""

    @property
    def arn(self) -> str:
        """The function's ARN."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"


class LambdaContext:
    """The ``context`` argument a Lambda handler receives."""

    def __init__(self, function: LambdaFunction, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"kbflow/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True, slots=True)
class Invocation:
    """The outcome of one invocation: a JSON payload, or a function error."""

    request_id: str
    payload: JSON = None
    error: dict[str, JSON] | None = field(default=None)
    """``{"errorType", "errorMessage", "requestId", "stackTrace"}`` when the handler raised."""


class FunctionError(Exception):
    """Raised inside the invoker when a function cannot be invoked at all."""


class Invoker(Protocol):
    """Runs a function with an event (a JSON text) and returns the outcome."""

    async def invoke(self, function: LambdaFunction, event_json: str) -> Invocation:
        """Invoke ``function`` with ``event_json``."""
        ...


QueueListener = Callable[[bool, float], None]
"""``listener(running, at)``: ``running`` is ``False`` when an invocation waits for a local
worker, ``True`` when it starts; ``at`` is the loop time it happened (read where it happened,
so a callback that reaches the loop late still counts from the right moment). Always called
on the event loop."""

_LISTENER: ContextVar[QueueListener | None] = ContextVar("kbflow_invocation_queue", default=None)


@contextmanager
def on_invocation_queue(listener: QueueListener) -> Iterator[None]:
    """Tell ``listener`` when an invocation made inside the block queues and when it starts.

    A Task state's ``TimeoutSeconds`` does not run while the invocation is queued: on AWS a
    Lambda invocation runs at once (or is throttled with an error), while a local invoker may
    hold it until a worker is free, and that wait must not time the state out.
    """
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def queue_listener() -> QueueListener:
    """For an invoker: the listener of the invocation being made (a no-op outside a task)."""
    listener = _LISTENER.get()
    return listener if listener is not None else _nothing


def _nothing(running: bool, at: float) -> None:
    return None


class InProcessInvoker:
    """Runs handlers in this process, in a thread pool.

    Args:
        max_workers: threads for concurrently running handlers.
    """

    def __init__(self, max_workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kbflow-fn")

    async def invoke(self, function: LambdaFunction, event_json: str) -> Invocation:
        """Run the handler in a worker thread (Lambda semantics, see module docstring).

        A handler still running after the function timeout is reported as Lambda does
        (``Sandbox.Timedout``); its thread cannot be killed and finishes in the background.
        """
        loop = asyncio.get_running_loop()
        listener = queue_listener()

        def run() -> Invocation:
            loop.call_soon_threadsafe(listener, True, loop.time())  # a pool thread picked it up
            return call_handler(function, event_json)

        listener(False, loop.time())
        future = loop.run_in_executor(self._pool, run)
        try:
            async with asyncio.timeout(function.timeout_seconds):
                return await asyncio.shield(future)
        except TimeoutError:
            request_id = str(uuid.uuid4())
            return Invocation(request_id, error={
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                                f"{function.timeout_seconds:.2f} seconds"})

    def close(self) -> None:
        """Stop the thread pool."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def call_handler(function: LambdaFunction, event_json: str) -> Invocation:
    """Call a handler synchronously with Lambda's semantics."""
    request_id = str(uuid.uuid4())
    context = LambdaContext(function, request_id, time.monotonic() + function.timeout_seconds)
    try:
        result = function.handler(json.loads(event_json), context)
        text = _response_text(result)
    except Exception as exc:  # noqa: BLE001 - any handler exception is a function error
        return Invocation(request_id, error=_error_payload(exc, request_id))
    return Invocation(request_id, payload=json.loads(text))


def _bytes_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _response_text(result: Any) -> str:
    """The response body: bytes are the raw body (JSON text), anything else is serialised."""
    if isinstance(result, bytes | bytearray):
        raw = bytes(result).decode()
        try:
            json.loads(raw)
        except ValueError:
            return json.dumps(raw)
        return raw
    return json.dumps(result, default=_bytes_default)


def _error_payload(exc: BaseException, request_id: str) -> dict[str, JSON]:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop call_handler's own frame
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }
