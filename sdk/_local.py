"""Wiring for ``Client.local``: an embedded engine with kbflow's flows and task functions.

:func:`build_local` builds a :class:`kbflow._host.Host` (each task function of
``kbflow.tasks.catalog.FUNCTIONS`` registered under its Lambda name as a :class:`LazyHandler`,
the three flows created from the committed definitions, the store folder's task adapters) and
the review source over the store folder's reviews and audit tables.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from kbflow._reviews import StoreReviewSource

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
    """What :func:`build_local` made: the host, its engine, the flows' ARNs, the review source."""

    def __init__(self, host: Any, reviews: StoreReviewSource) -> None:
        self.host = host
        self.engine: Any = host.engine
        self.workflows: dict[str, str] = dict(host.workflows)
        self.reviews = reviews


def build_local(
    store: str | os.PathLike[str],
    *,
    clock: Any = None,
    file_roots: Sequence[str | os.PathLike[str]] = (),
    workers: int | None = None,
    durable: bool | None = None,
) -> LocalSetup:
    """An embedded engine running kbflow's three flows with their local task functions.

    The wiring is :class:`kbflow._host.Host`'s (the CLI's main job uses the same): the engine is
    durable over the store folder when the runtime supports it, the task adapters of the store
    folder are installed for this process, and reviews are read from its task store.

    Args:
        store: the store folder.
        clock: the engine's clock (``kbflow.runtime.clock.VirtualClock`` in tests).
        file_roots: folders ``file:///`` sources may read (the ingest sources).
        workers: how many CPU-bound task invocations run at once (``None``: the default).
        durable: keep executions in the store folder (``None``: yes, unless ``clock`` is a
            ``VirtualClock``, which the durable engine refuses: virtual time is for tests).

    Returns:
        The host, its engine, the workflow ARNs and the review source.
    """
    from kbflow._host import Host
    from kbflow.runtime.clock import VirtualClock

    if durable is None:
        durable = not isinstance(clock, VirtualClock)
    host = Host(store, file_roots=file_roots, workers=workers, clock=clock, durable=durable)
    return LocalSetup(host, StoreReviewSource(host.adapters.reviews, host.adapters.audit))
