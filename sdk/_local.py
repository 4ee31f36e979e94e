"""Wiring for ``Client.local``: an embedded engine with kbflow's flows and task functions.

The host (this SDK, like the CLI) registers each task function of
``kbflow.tasks.catalog.FUNCTIONS`` with the engine under its Lambda name, creates the three
flows from the committed definitions with the local placeholder values, and points the task
adapters and the review source at the store folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kbflow._review_sources import StoreReviewSource

__all__ = ["LazyHandler", "LocalSetup", "build_local"]


class LazyHandler:
    """A Lambda handler imported on its first invocation (as a cold start would).

    Importing every handler module up front would load extraction and embedding code that
    a given run may never use.

    Args:
        path: ``package.module:function``.
        adapters: a ``kbflow.tasks`` adapter bundle to use for each call (``None``: whatever
            the process has installed or the environment describes).
    """

    def __init__(self, path: str, adapters: Any = None) -> None:
        self.path = path
        self.adapters = adapters
        self._handler: Any = None
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        """Import the handler if needed, then call it (with this client's adapters)."""
        if self._handler is None:
            from kbflow.tasks.catalog import resolve_handler

            with self._lock:
                if self._handler is None:
                    self._handler = resolve_handler(self.path)
        if self.adapters is None:
            return self._handler(event, context)
        from kbflow.tasks.adapters.config import use_adapters

        with use_adapters(self.adapters):
            return self._handler(event, context)


class LocalSetup:
    """What :func:`build_local` made: the engine, the flows' ARNs and the review source."""

    def __init__(
        self, engine: Any, workflows: Mapping[str, str], reviews: StoreReviewSource | None
    ) -> None:
        self.engine = engine
        self.workflows = dict(workflows)
        self.reviews = reviews


def build_local(
    store: str | os.PathLike[str] | None,
    *,
    clock: Any = None,
    engine: Any = None,
    file_roots: Sequence[str | os.PathLike[str]] = (),
) -> LocalSetup:
    """Build (or complete) an engine running kbflow's three flows with their local functions.

    Args:
        store: the store folder (``.kbflow``); ``None`` keeps task adapters as configured by
            the environment and leaves reviews unconfigured.
        clock: the engine's clock (``kbflow.runtime.clock.VirtualClock`` in tests).
        engine: an engine to register on instead of a new one.
        file_roots: folders ``file:///`` sources may read (the ingest sources).

    Returns:
        The engine, the workflow ARNs and the review source.
    """
    from kbflow import definitions
    from kbflow.tasks import catalog

    adapters = _adapters(store, file_roots) if store is not None else None
    if engine is None:
        from kbflow.runtime.engine import Engine

        # Distributed Map ItemReader/ResultWriter read and write through the tasks' object store.
        engine = Engine(
            clock=clock, object_store=adapters.objects if adapters is not None else None
        )
    for fn in catalog.FUNCTIONS:
        engine.register_function(
            fn.function_name(),
            LazyHandler(fn.handler, adapters),
            timeout_seconds=fn.timeout_s,
            memory_mb=fn.memory_mb,
        )
    subs = catalog.substitutions()
    workflows = {
        flow: engine.create_state_machine(
            f"{catalog.DEFAULT_PREFIX}{flow}", definitions.asl(flow), substitutions=subs
        )
        for flow in definitions.FLOWS
    }
    reviews = StoreReviewSource(adapters.reviews, adapters.audit) if adapters is not None else None
    return LocalSetup(engine, workflows, reviews)


def _adapters(store: str | os.PathLike[str], file_roots: Sequence[str | os.PathLike[str]]) -> Any:
    from kbflow.tasks.adapters.config import local_adapters

    return local_adapters(Path(store).absolute(), file_roots=file_roots)
