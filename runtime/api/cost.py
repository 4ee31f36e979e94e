"""What an execution would cost on AWS Step Functions (us-east-1 list prices).

Assumptions, shown in the console next to the figures:

* **Standard**: $0.025 per 1,000 state transitions. A transition is counted for every state
  entered and for every retry attempt (AWS bills retries as transitions). The free tier
  (4,000 transitions a month) is ignored.
* **Express**: $1.00 per million requests (one request per execution) plus $0.00001667 per
  GB-second of duration, billed in 100 ms increments, at the smallest billed memory (64 MB:
  Express bills memory by the size of the execution's data, and kbflow's payloads pass
  references, so they stay far under 64 MB). The duration is this execution's wall-clock
  time here; on AWS an Express execution is limited to 5 minutes.
* Lambda invocations, S3 requests and other services the tasks use are not included, nor
  the child executions of a distributed Map (each is billed as its own execution).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

__all__ = ["ASSUMPTIONS", "estimate", "transitions"]

JSON = Any
STANDARD_PER_TRANSITION: Final = 0.025 / 1000
EXPRESS_PER_REQUEST: Final = 1.00 / 1_000_000
EXPRESS_PER_GB_SECOND: Final = 0.00001667
EXPRESS_MEMORY_GB: Final = 64 / 1024
ASSUMPTIONS: Final = (
    "us-east-1 list prices, free tier ignored",
    "Standard: $0.025 per 1,000 state transitions (states entered + retry attempts)",
    "Express: $1.00 per million requests + $0.00001667 per GB-second, 100 ms increments, "
    "64 MB billed memory",
    "Lambda and other service charges, and distributed Map child executions, not included",
)
_SCHEDULED: Final = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")


def transitions(events: Sequence[Mapping[str, JSON]]) -> int:
    """State transitions billed for a history: states entered plus retry attempts."""
    entered = sum(1 for e in events if str(e["type"]).endswith("StateEntered"))
    task_entries = sum(1 for e in events if e["type"] == "TaskStateEntered")
    attempts = sum(1 for e in events if e["type"] in _SCHEDULED)
    return entered + max(0, attempts - task_entries)


def estimate(
    events: Sequence[Mapping[str, JSON]], start: datetime, stop: datetime | None, now: datetime
) -> dict[str, JSON]:
    """The cost of one execution at Standard and Express prices.

    Args:
        events: the execution's history.
        start: when it started.
        stop: when it ended (``None`` while running: the estimate so far).
        now: the current time.

    Returns:
        ``{"transitions", "standard_usd", "express_usd", "duration_ms", "billed_ms",
        "assumptions"}``.
    """
    count = transitions(events)
    duration_ms = max(0.0, ((stop or now) - start).total_seconds() * 1000)
    billed_ms = max(100, math.ceil(duration_ms / 100) * 100)
    express = EXPRESS_PER_REQUEST + EXPRESS_PER_GB_SECOND * EXPRESS_MEMORY_GB * billed_ms / 1000
    return {
        "transitions": count,
        "standard_usd": count * STANDARD_PER_TRANSITION,
        "express_usd": express,
        "duration_ms": round(duration_ms),
        "billed_ms": billed_ms,
        "assumptions": list(ASSUMPTIONS),
    }
