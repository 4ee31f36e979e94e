"""The one place kbflow talks to logging, tracing and metrics back ends.

Tracing goes through Powertools' ``Tracer`` (aws-xray-sdk) and *only* through this module, so a
move to OpenTelemetry (the X-Ray SDKs are in maintenance from 2026-02-25) touches this file
alone. On AWS Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set):

- logs are Powertools JSON lines on stdout at ``POWERTOOLS_LOG_LEVEL`` (default INFO);
- :func:`stage` opens an X-Ray subsegment;
- metrics are CloudWatch EMF, flushed once per invocation.

Locally (the embedded engine, tests, the CLI):

- logs go to stderr at WARNING unless ``POWERTOOLS_LOG_LEVEL`` says otherwise, so the CLI's
  stdout stays clean;
- :func:`stage` is a ``nullcontext`` (no X-Ray import, no cost);
- metrics are counted in memory (:func:`local_metrics`), never printed.

Nothing here ever receives event bodies, task tokens or document text: callers pass names and
numbers only.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from typing import Any, Final

from aws_lambda_powertools import Logger

__all__ = [
    "SERVICE",
    "flush_metrics",
    "get_logger",
    "in_lambda",
    "local_metrics",
    "log_context",
    "put_metric",
    "reset_local_metrics",
    "stage",
]

SERVICE: Final = "kbflow"
NAMESPACE: Final = "kbflow"
_lock = threading.Lock()
_local: Counter[str] = Counter()


def in_lambda() -> bool:
    """Whether the code runs inside AWS Lambda (the runtime sets ``AWS_LAMBDA_FUNCTION_NAME``)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (pytest's capture, the CLI's console)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@cache
def get_logger() -> Logger:
    """The shared Powertools logger (JSON).

    Returns:
        A Logger writing to stdout on Lambda, to stderr (WARNING by default) elsewhere.
    """
    if in_lambda():
        return Logger(service=SERVICE)
    level = os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING")
    return Logger(service=SERVICE, level=level, logger_handler=_StderrHandler())


@contextmanager
def log_context(**keys: str) -> Iterator[None]:
    """Add keys (task name, correlation id) to every log line of this thread, then remove them.

    Args:
        **keys: Key/value pairs; ``correlation_id`` is the execution ARN.
    """
    logger = get_logger()
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer  # imported lazily: pulls in aws-xray-sdk

    return Tracer(service=SERVICE)


def _tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in {"1", "true"}
    return in_lambda() and not disabled


def stage(name: str) -> Any:
    """A context manager tracing one stage of a task (an X-Ray subsegment on Lambda).

    Args:
        name: Stage name, e.g. ``FetchDocument`` or ``FetchDocument.validate``.

    Returns:
        A context manager; a cheap ``nullcontext`` when tracing is off.
    """
    if not _tracing_enabled():
        return nullcontext()
    return _tracer().provider.in_subsegment(name=f"## {name}")


@cache
def _metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


def put_metric(name: str, value: float = 1.0, unit: str = "Count") -> None:
    """Record one metric value (EMF on Lambda, an in-memory counter locally).

    Args:
        name: Metric name, e.g. ``FetchDocument.Failures``.
        value: The value to add.
        unit: A CloudWatch unit name (``Count``, ``Milliseconds``, ``Bytes``).
    """
    if in_lambda():
        _metrics().add_metric(name=name, unit=unit, value=value)
        return
    with _lock:
        _local[name] += value  # type: ignore[assignment]


def flush_metrics() -> None:
    """Publish the invocation's metrics (Lambda only; locally there is nothing to flush)."""
    if in_lambda():
        metrics = _metrics()
        if metrics.metric_set:
            metrics.flush_metrics()


def local_metrics() -> dict[str, float]:
    """A snapshot of the metrics counted locally (for tests and the CLI summary)."""
    with _lock:
        return dict(_local)


def reset_local_metrics() -> None:
    """Forget the locally counted metrics."""
    with _lock:
        _local.clear()
