"""Type aliases shared by the SDK modules.

Kept in one place (as httpx's ``_types.py`` does) so signatures read the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TypeAlias

__all__ = [
    "JSON",
    "JSONObject",
    "MonotonicFn",
    "SleepFn",
    "Timeout",
    "WorkflowMapping",
]

JSON: TypeAlias = "None | bool | int | float | str | Sequence[JSON] | Mapping[str, JSON]"
"""Any JSON value as Python holds it after ``json.loads`` (or before ``json.dumps``)."""

JSONObject: TypeAlias = "Mapping[str, JSON]"
"""A JSON object."""

Timeout: TypeAlias = "float | timedelta"
"""A duration: seconds as a number, or a :class:`~datetime.timedelta`."""

MonotonicFn: TypeAlias = Callable[[], float]
"""Returns seconds on a monotonic scale (``time.monotonic`` or a fake clock)."""

SleepFn: TypeAlias = Callable[[float], None]
"""Blocks for the given number of seconds (``time.sleep`` or a fake sleeper)."""

WorkflowMapping: TypeAlias = Mapping[str, str]
"""Workflow name (``"ingestion"``) to state machine ARN."""


def seconds(value: Timeout) -> float:
    """Convert a :data:`Timeout` to seconds.

    Args:
        value: seconds or a timedelta.

    Returns:
        The duration in seconds as a float.
    """
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
