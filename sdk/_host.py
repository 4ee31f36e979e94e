"""The embedded host of the main job: one engine, kbflow's flows and their local task functions.

``kbflow ingest``, ``search``, ``reindex`` and ``review`` all run on a :class:`Host`:

- an :class:`~kbflow.runtime.engine.Engine` (durable over ``<store>/engine.sqlite3`` when the
  engine supports a store, in memory otherwise),
- every function of :data:`kbflow.tasks.catalog.FUNCTIONS` registered under its Lambda name
  (CPU-bound ``cpu`` functions on their own invoker sized by ``workers``),
- the three flows created from the committed definitions with the local placeholder values,
- the local task adapters of the store folder (:func:`kbflow.tasks.adapters.config.local_adapters`),
  installed for this process, whose object store also serves the Distributed Map's
  ``ItemReader``/``ResultWriter``.

History events of every execution (children included) fan out to :meth:`Host.subscribe`
listeners, which is how the CLI draws its progress bar.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from kbflow._local import LazyHandler

__all__ = [
    "DEFAULT_STORE",
    "BoundedInvoker",
    "HistoryListener",
    "Host",
    "SharedWorkers",
    "run_task",
    "worker_threads",
]

DEFAULT_STORE: Final = ".kbflow"
HistoryListener = Callable[[str, Mapping[str, Any]], None]
"""``(execution_arn, history_event)``."""


def worker_threads(workers: int) -> int:
    """Embedding threads per worker so ``workers`` workers share the CPUs (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _worker_pool_class() -> Any:
    try:
        from kbflow.runtime.workers import WorkerPool
    except ImportError:
        return None
    return WorkerPool


def run_task(envelope: dict[str, Any], context: Any) -> Any:
    """Worker-process entry of :class:`SharedWorkers`: call the catalog handler named inside.

    Args:
        envelope: ``{"handler": "package.module:function", "event": {...}}``.
        context: the Lambda context.
    """
    from kbflow.tasks.catalog import resolve_handler

    return resolve_handler(str(envelope["handler"]))(envelope["event"], context)


class SharedWorkers:
    """An Invoker running every CPU-bound task function in one pool of warm worker processes.

    ``kbflow.runtime.workers.WorkerPool`` gives each function its own execution environments,
    as Lambda does; with nine CPU-bound functions and two workers that means constant process
    churn (and reloading the embedding and OCR models). Locally the host instead routes every
    ``cpu`` function through one generic function whose workers import any catalog handler, so
    ``workers`` warm processes serve all stages and each loads a model once. The timeout is the
    longest of the catalog's CPU-bound functions (600 s); memory is capped at 3008 MB.

    Args:
        workers: worker processes.
        env: their environment (``local_environ`` of the store and file roots).
    """

    NAME: Final = "kbflow-cpu-worker"

    def __init__(self, workers: int, env: Mapping[str, str]) -> None:
        from kbflow.runtime.workers import WorkerPool

        self.pool = WorkerPool(workers, env=dict(env))
        self.pool.declare(self.NAME, f"{__name__}:run_task", timeout_seconds=600, memory_mb=3008)

    async def invoke(self, function: Any, event_json: str) -> Any:
        """Invoke ``function`` (a catalog function with a lazy handler) in a shared worker."""
        import dataclasses
        import json

        path = getattr(function.handler, "path", None)
        if not isinstance(path, str):
            raise TypeError(f"{function.name}: a shared worker needs a handler import path")
        envelope = '{"handler": ' + json.dumps(path) + ', "event": ' + event_json + "}"
        proxy = dataclasses.replace(function, name=self.NAME)
        return await self.pool.invoke(proxy, envelope)

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()


class BoundedInvoker:
    """Runs at most ``limit`` invocations at once on threads; the rest wait *before* starting.

    The function timeout starts when an invocation starts, as on Lambda (where a throttled or
    queued invocation is not running yet); a plain thread pool of ``limit`` threads would
    count the time spent queued against the timeout.

    Args:
        limit: invocations running at once.
    """

    def __init__(self, limit: int) -> None:
        from kbflow.runtime.invoke import InProcessInvoker

        self.limit = max(1, limit)
        self._inner = InProcessInvoker(max_workers=self.limit)
        self._gate: Any = None

    async def invoke(self, function: Any, event_json: str) -> Any:
        """Wait for a free slot, then invoke ``function`` (Lambda semantics, timeout included)."""
        import asyncio

        from kbflow.runtime.invoke import queue_listener

        if self._gate is None:  # created on the engine's loop, on first use
            self._gate = asyncio.Semaphore(self.limit)
        listener = queue_listener()
        loop = asyncio.get_running_loop()
        listener(False, loop.time())  # the state's TimeoutSeconds waits while it is queued
        async with self._gate:
            listener(True, loop.time())
            return await self._inner.invoke(function, event_json)

    def close(self) -> None:
        """Stop the threads."""
        self._inner.close()


def _durable_engine_class() -> Any:
    try:
        from kbflow.runtime.durable import DurableEngine
    except ImportError:
        return None
    return DurableEngine


class Host:
    """An embedded engine wired for kbflow's three flows over one store folder.

    Args:
        store: the store folder (created if missing).
        file_roots: folders ``file:///`` sources may read (the ingest SOURCE).
        workers: run CPU-bound task functions in this many shared worker processes (when the
            runtime provides them); ``None``: on one thread per CPU in this process.
        clock: the engine clock (tests pass a ``VirtualClock``).
        durable: keep executions in ``<store>/engine.sqlite3`` when the engine supports it.
        adapter_overrides: replace adapter fields (tests: a fake embedder or HTTP transport).

    Example:
        >>> with Host(".kbflow", file_roots=["docs"]) as host:
        ...     arn = host.engine.start_execution(host.workflows["ingestion"], {...})
    """

    def __init__(
        self,
        store: str | os.PathLike[str] = DEFAULT_STORE,
        *,
        file_roots: Sequence[str | os.PathLike[str]] = (),
        workers: int | None = None,
        clock: Any = None,
        durable: bool = True,
        adapter_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        from kbflow.tasks.adapters.config import install, local_adapters

        self.store = Path(store).absolute()
        self.store.mkdir(parents=True, exist_ok=True)
        self.file_roots = [Path(r).resolve() for r in file_roots]
        self.workers = workers
        self._listeners: list[HistoryListener] = []
        self._owned: list[Any] = []
        self._lock = threading.Lock()
        if workers:
            os.environ["KBFLOW_EMBED_THREADS"] = str(worker_threads(workers))
        self.adapters = local_adapters(
            self.store, file_roots=self.file_roots, **dict(adapter_overrides or {})
        )
        install(self.adapters)
        self.engine = self._new_engine(clock, durable)
        self.durable = self._engine_is_durable()
        self._register_functions()
        self.workflows = self._create_flows()

    # -- wiring ------------------------------------------------------------------------------

    def _new_engine(self, clock: Any, durable: bool) -> Any:
        """A durable engine over ``<store>/engine.sqlite3`` when the runtime has one."""
        kwargs: dict[str, Any] = {"clock": clock, "object_store": self.adapters.objects}
        durable_cls = _durable_engine_class() if durable else None
        if durable_cls is None:
            from kbflow.runtime.engine import Engine

            return Engine(history_listener=self._fan_out, **kwargs)
        engine = durable_cls(self.store, **kwargs)
        # The durable engine keeps its own listener (the store); chain ours after it.
        inner = engine._listener

        def both(execution_arn: str, event: dict[str, Any]) -> None:
            inner(execution_arn, event)
            self._fan_out(execution_arn, event)

        engine._listener = both
        return engine

    def _engine_is_durable(self) -> bool:
        return getattr(self.engine, "store", None) is not None

    def _cpu_invoker(self) -> Any:
        """The ``cpu`` functions' invoker: shared worker processes if available, else threads."""
        if not self.workers:
            # Threads of this process, at most one per CPU: OCR and embedding of many documents
            # at once would only add memory (each page image is decoded in full).
            return BoundedInvoker(os.cpu_count() or 1)
        if _worker_pool_class() is not None:
            from kbflow.tasks.adapters.config import local_environ

            env = local_environ(self.store, self.file_roots)
            env["KBFLOW_EMBED_THREADS"] = str(worker_threads(self.workers))
            env.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR"))
            return SharedWorkers(self.workers, env)
        return BoundedInvoker(self.workers)

    def _register_functions(self) -> None:
        from kbflow.tasks import catalog

        cpu = self._cpu_invoker()
        if cpu is not None:
            self._owned.append(cpu)
        for fn in catalog.FUNCTIONS:
            self.engine.register_function(
                fn.function_name(),
                LazyHandler(fn.handler, self.adapters),
                timeout_seconds=fn.timeout_s,
                memory_mb=fn.memory_mb,
                invoker=cpu if fn.execution == "cpu" else None,
            )

    def use_invoker(self, invoker: Any, *, cpu_only: bool = True) -> None:
        """Run the ``cpu`` task functions (or all with ``cpu_only=False``) on ``invoker``.

        The host closes the invoker when it closes (benchmarks: one handler thread, or a
        given number of shared workers).
        """
        from kbflow.tasks import catalog

        for fn in catalog.FUNCTIONS:
            if cpu_only and fn.execution != "cpu":
                continue
            registered = self.engine.functions[fn.function_name()]
            self.engine.register_function(registered.name, registered.handler,
                                          timeout_seconds=registered.timeout_seconds,
                                          memory_mb=registered.memory_mb, invoker=invoker)
        self._owned.append(invoker)

    def _create_flows(self) -> dict[str, str]:
        from kbflow import definitions
        from kbflow.tasks import catalog

        subs = catalog.substitutions()
        return {
            flow: self.engine.create_state_machine(
                f"{catalog.DEFAULT_PREFIX}{flow}", definitions.asl(flow), substitutions=subs
            )
            for flow in definitions.FLOWS
        }

    # -- history listeners ---------------------------------------------------------------------

    def subscribe(self, listener: HistoryListener) -> Callable[[], None]:
        """Call ``listener(execution_arn, event)`` for every history event from now on.

        Returns:
            A function that unsubscribes it.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _fan_out(self, execution_arn: str, event: Mapping[str, Any]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(execution_arn, event)
            except Exception:  # noqa: BLE001 - a display listener must never break the engine
                continue

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the engine (and its worker invokers) and the installed adapters' stores."""
        self.engine.close()
        for invoker in self._owned:
            close = getattr(invoker, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
