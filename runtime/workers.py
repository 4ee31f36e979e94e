"""Lambda-like workers: task handlers run in warm worker processes (or threads), as on Lambda.

:class:`WorkerPool` implements the engine's :class:`~kbflow.runtime.invoke.Invoker` protocol::

    pool = WorkerPool(max_workers=2)                       # default: os.cpu_count()
    pool.add("kbflow-ExtractPdf", "kbflow.tasks.handlers.ingestion:extract_pdf",
             timeout_seconds=60, memory_mb=1024)           # a worker process per environment
    pool.add("kbflow-FetchDocument", "...:fetch_document", mode="thread")  # I/O-bound
    engine.register_function("kbflow-ExtractPdf", pool.handler("kbflow-ExtractPdf"),
                             timeout_seconds=60, invoker=pool)

Semantics, following Lambda:

* **Execution environments.** A function's environment is a worker process
  (``python -m kbflow.runtime.workers``) that imports the handler's module once and serves
  invocations one at a time, warm, until it is recycled. At most ``max_workers`` invocations
  run at once (default: the CPU count, so CPU-bound handlers use every core); an invocation
  waits for a free slot. Idle environments stay warm (up to ``max_environments`` processes,
  least recently used recycled first). Handlers are named by import path (``module:callable``).
* **JSON boundary.** Events and results cross the pipe as JSON text.
* **Timeout.** A handler running past its function timeout is killed (its environment is
  discarded) and the invocation fails with ``Sandbox.Timedout`` /
  ``"RequestId: <id> Error: Task timed out after 3.00 seconds"``, as Lambda reports it.
* **Memory.** Each worker runs under ``RLIMIT_AS`` = ``memory_mb`` + ``overhead_mb`` (address
  space, not RSS: the interpreter and native libraries reserve virtual memory up front, hence
  the overhead). A handler that runs out fails with ``Runtime.OutOfMemory`` and the
  environment is recycled.
* **Reserved concurrency.** More concurrent invocations of a function than its
  ``reserved_concurrency`` are throttled at once with ``Lambda.TooManyRequestsException``
  (flows retry it with back-off).
* **Crash.** A worker that dies mid-invocation (segfault, ``os._exit``, killed) fails the
  invocation with ``Lambda.Unknown``; a fresh environment serves the next one.
* **Thread mode** (``mode="thread"``) runs the handler in a thread of the engine process (for
  I/O-bound handlers) with the same JSON boundary, timeout and concurrency semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, Literal

from kbflow.errors import ConfigurationError

from .invoke import Invocation, LambdaFunction, call_handler, queue_listener

__all__ = ["FunctionSpec", "WorkerPool", "WorkerPoolInvoker", "import_handler"]

JSON = Any
Mode = Literal["process", "thread"]
_HEADER: Final = struct.Struct(">I")
DEFAULT_OVERHEAD_MB: Final = 512


def import_handler(path: str) -> Callable[[Any, Any], Any]:
    """Import ``module:callable``.

    Raises:
        ConfigurationError: the path is malformed, the module or the attribute is missing.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"handler {path!r} is not 'module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import handler module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ConfigurationError(f"{path!r}: module {module_name!r} has no callable {attr!r}")
    return target  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """How one function runs."""

    name: str
    path: str
    """``module:callable``."""
    mode: Mode = "process"
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None


def _error(request_id: str, error_type: str, message: str) -> Invocation:
    text = f"RequestId: {request_id} Error: {message}"
    return Invocation(request_id, error={"errorType": error_type, "errorMessage": text})


def _worker_env(extra: dict[str, str]) -> dict[str, str]:
    """The worker's environment: this process's, with its import path (so any handler this
    process can import, the worker can too), plus ``extra``."""
    env = {**os.environ, **extra}
    env.setdefault("MALLOC_ARENA_MAX", "2")  # fewer malloc arenas: less address space per thread
    paths = [p or os.getcwd() for p in sys.path if p == "" or os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class _Worker:
    """One execution environment: a worker process serving one function."""

    def __init__(self, spec: FunctionSpec, overhead_mb: int, env: dict[str, str]) -> None:
        limit = (spec.memory_mb + overhead_mb) * 1024 * 1024
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kbflow.runtime.workers", "--memory-bytes", str(limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, bufsize=0,
            env=_worker_env(env))
        self.invocations = 0
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60.0)
        if not ready or _read_frame(self.proc.stdout) != b"ready":  # type: ignore[arg-type]
            self.kill()
            raise ConfigurationError("a worker process failed to start")

    def call(self, event_json: str, request_id: str, timeout: float) -> Invocation:
        """Send one invocation and wait for its outcome (blocking; run in a thread)."""
        spec = self.spec
        request = json.dumps({"path": spec.path, "name": spec.name, "event": event_json,
                              "timeout": spec.timeout_seconds, "memory": spec.memory_mb})
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _write_frame(self.proc.stdin, request.encode())  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            return self._crashed(request_id)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            return _error(request_id, "Sandbox.Timedout",
                          f"Task timed out after {timeout:.2f} seconds")
        body = _read_frame(self.proc.stdout)  # type: ignore[arg-type]
        if body is None:
            return self._crashed(request_id)
        self.invocations += 1
        reply = json.loads(body)
        if "error" in reply:
            error = dict(reply["error"])
            if error.get("errorType") == "Runtime.OutOfMemory":
                self.kill()
                return _error(request_id, "Runtime.OutOfMemory",
                              "Runtime exited with error: signal: killed")
            error["requestId"] = request_id
            return Invocation(request_id, error=error)
        return Invocation(request_id, payload=json.loads(reply["payload"]))

    def _crashed(self, request_id: str) -> Invocation:
        code = self.proc.wait(timeout=5)
        how = f"signal: {-code}" if code < 0 else f"exit status {code}"
        return _error(request_id, "Lambda.Unknown", f"Runtime exited with error: {how}")

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """Discard this environment."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # a broken pipe to a dead worker
                    stream.close()


class WorkerPool:
    """An :class:`~kbflow.runtime.invoke.Invoker` running handlers in warm worker processes.

    Functions are declared with :meth:`add`; a function that was not declared runs in a worker
    process when its handler names its import path (a ``path`` attribute, as lazy handlers
    have), else in a thread.

    Args:
        max_workers: worker processes running at once (default: CPU count).
        overhead_mb: address space allowed on top of each function's memory size.
        thread_workers: threads for thread-mode functions.
        env: extra environment variables for worker processes.
        max_environments: worker processes kept alive, idle ones included (default
            ``4 * max_workers + 8``); past it the least recently used idle one is recycled.
    """

    def __init__(self, max_workers: int | None = None, *, overhead_mb: int = DEFAULT_OVERHEAD_MB,
                 thread_workers: int = 32, env: dict[str, str] | None = None,
                 max_environments: int | None = None) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.max_environments = max(self.max_workers,
                                    max_environments or 4 * self.max_workers + 8)
        self._lru: list[_Worker] = []
        self.env = dict(env or {})
        self.overhead_mb = overhead_mb
        self._specs: dict[str, FunctionSpec] = {}
        self._idle: dict[str, list[_Worker]] = {}
        self._running: dict[str, int] = {}
        self._live = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self._threads = ThreadPoolExecutor(max_workers=self.max_workers + thread_workers,
                                           thread_name_prefix="kbflow-worker")
        self.spawned = 0
        self._closed = False

    def add(self, name: str, path: str, *, mode: Mode = "process", timeout_seconds: float = 3.0,
            memory_mb: int = 128, reserved_concurrency: int | None = None) -> FunctionSpec:
        """Declare a function (``path`` is ``module:callable``; checked by importing it here)."""
        import_handler(path)
        return self.declare(name, path, mode=mode, timeout_seconds=timeout_seconds,
                            memory_mb=memory_mb, reserved_concurrency=reserved_concurrency)

    def declare(self, name: str, path: str, *, mode: Mode = "process",
                timeout_seconds: float = 3.0, memory_mb: int = 128,
                reserved_concurrency: int | None = None) -> FunctionSpec:
        """Declare a function without importing it here (it is imported where it runs)."""
        spec = FunctionSpec(name, path, mode, float(timeout_seconds), memory_mb,
                            reserved_concurrency)
        self._specs[name] = spec
        return spec

    def handler(self, name: str) -> Callable[[Any, Any], Any]:
        """The in-process callable of a declared function (for ``register_function``)."""
        return import_handler(self._specs[name].path)

    def spec(self, function: LambdaFunction) -> FunctionSpec:
        """The spec of ``function`` (functions not declared run in thread mode)."""
        found = self._specs.get(function.name)
        if found is not None:
            return found
        path = getattr(function.handler, "path", None)
        if isinstance(path, str) and ":" in path:
            return FunctionSpec(function.name, path, "process", function.timeout_seconds,
                                function.memory_mb)
        return FunctionSpec(function.name, "", "thread", function.timeout_seconds,
                            function.memory_mb)

    async def invoke(self, function: LambdaFunction, event_json: str) -> Invocation:
        """Invoke ``function`` with Lambda's semantics (see the module docstring)."""
        spec = self.spec(function)
        request_id = str(uuid.uuid4())
        with self._lock:
            running = self._running.get(spec.name, 0)
            if spec.reserved_concurrency is not None and running >= spec.reserved_concurrency:
                return Invocation(request_id, error={
                    "errorType": "Lambda.TooManyRequestsException",
                    "errorMessage": "Rate Exceeded. (Service: Lambda; Status Code: 429; "
                                    "Error Code: TooManyRequestsException)"})
            self._running[spec.name] = running + 1
        loop = asyncio.get_running_loop()
        try:
            if spec.mode == "thread":
                return await self._in_thread(loop, function, spec, event_json, request_id)
            listener = queue_listener()
            listener(False, loop.time())
            return await loop.run_in_executor(
                self._threads, self._in_process, spec, event_json, request_id,
                lambda: loop.call_soon_threadsafe(listener, True, loop.time()))
        finally:
            with self._lock:
                self._running[spec.name] -= 1

    async def _in_thread(self, loop: asyncio.AbstractEventLoop, function: LambdaFunction,
                         spec: FunctionSpec, event_json: str, request_id: str) -> Invocation:
        future = loop.run_in_executor(self._threads, call_handler, function, event_json)
        try:
            return await asyncio.wait_for(asyncio.shield(future), spec.timeout_seconds)
        except TimeoutError:
            return _error(request_id, "Sandbox.Timedout",
                          f"Task timed out after {spec.timeout_seconds:.2f} seconds")

    def _in_process(self, spec: FunctionSpec, event_json: str, request_id: str,
                    started: Callable[[], Any] = lambda: None) -> Invocation:
        self._slots.acquire()
        started()  # a worker slot is free: the state's TimeoutSeconds counts from here
        try:
            try:
                worker = self._checkout(spec)
            except ConfigurationError as exc:  # the environment could not start
                return _error(request_id, "Lambda.Unknown", str(exc))
            outcome = worker.call(event_json, request_id, spec.timeout_seconds)
            self._checkin(worker)
            return outcome
        finally:
            self._slots.release()

    def _checkout(self, spec: FunctionSpec) -> _Worker:
        with self._lock:
            idle = self._idle.setdefault(spec.name, [])
            while idle:
                worker = idle.pop()
                self._lru.remove(worker)
                if worker.alive:
                    return worker
                self._live -= 1
                worker.kill()
            victim = self._evict_idle() if self._live >= self.max_environments else None
            self._live += 1
            self.spawned += 1
        if victim is not None:
            victim.kill()
        try:
            return _Worker(spec, self.overhead_mb, self.env)
        except BaseException:
            with self._lock:
                self._live -= 1
            raise

    def _evict_idle(self) -> _Worker | None:
        """The least recently used idle environment (removed from the pool), if any."""
        if not self._lru:
            return None
        victim = self._lru.pop(0)
        self._idle[victim.spec.name].remove(victim)
        self._live -= 1
        return victim

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.spec.name, []).append(worker)
                self._lru.append(worker)
                return
            self._live -= 1
        worker.kill()

    def close(self) -> None:
        """Stop every worker process."""
        with self._lock:
            self._closed = True
            workers = [w for ws in self._idle.values() for w in ws]
            self._idle.clear()
            self._lru.clear()
        for worker in workers:
            worker.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)


WorkerPoolInvoker = WorkerPool
"""Alias used by the embedded host (``WorkerPoolInvoker(workers, env=...)``)."""


# ---------------------------------------------------------------------------- framing


def _write_frame(stream: BinaryIO, body: bytes) -> None:
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    return _read_exact(stream, _HEADER.unpack(header)[0])


# ---------------------------------------------------------------------------- the worker process


def _serve(limit: int) -> None:
    """Serve invocations on stdin/stdout until stdin closes (runs in the worker process)."""
    import resource

    _die_with_parent()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # handler prints go to stderr, not into the protocol
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    handlers: dict[str, Callable[[Any, Any], Any]] = {}
    stdin = sys.stdin.buffer
    try:
        _write_frame(out, b"ready")
    except BrokenPipeError:
        return
    while True:
        body = _read_frame(stdin)
        if body is None:
            return
        try:
            _write_frame(out, _handle(json.loads(body), handlers))
        except BrokenPipeError:  # the engine went away
            return


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the engine process dies (``PR_SET_PDEATHSIG``)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends at stdin EOF instead
        pass


def _handle(request: dict[str, Any], handlers: dict[str, Callable[[Any, Any], Any]]) -> bytes:
    try:
        handler = handlers.get(request["path"])
        if handler is None:
            try:
                handler = handlers[request["path"]] = import_handler(request["path"])
            except ConfigurationError as exc:  # as Lambda reports a handler it cannot load
                module = request["path"].partition(":")[0]
                return json.dumps({"error": {
                    "errorType": "Runtime.ImportModuleError",
                    "errorMessage": f"Unable to import module '{module}': {exc}",
                    "stackTrace": []}}).encode()
        function = LambdaFunction(request["name"], handler, float(request["timeout"]),
                                  int(request["memory"]))
        outcome = call_handler(function, request["event"])
        if outcome.error is not None:
            if outcome.error.get("errorType") == "MemoryError":
                return json.dumps({"error": {"errorType": "Runtime.OutOfMemory"}}).encode()
            return json.dumps({"error": outcome.error}).encode()
        return json.dumps({"payload": json.dumps(outcome.payload)}).encode()
    except MemoryError:
        return b'{"error": {"errorType": "Runtime.OutOfMemory"}}'
    except Exception as exc:  # noqa: BLE001 - reported as the function's error
        return json.dumps({"error": {"errorType": type(exc).__name__,
                                     "errorMessage": str(exc), "stackTrace": []}}).encode()


def main(argv: list[str] | None = None) -> None:
    """Entry point of a worker process: ``python -m kbflow.runtime.workers --memory-bytes N``."""
    args = sys.argv[1:] if argv is None else argv
    limit = int(args[args.index("--memory-bytes") + 1]) if "--memory-bytes" in args else 0
    _serve(limit)


if __name__ == "__main__":
    main()
