"""Pacing for polling calls: a client-side token bucket and an adaptive backoff.

Step Functions throttles DescribeExecution and GetExecutionHistory per account with token
buckets (DescribeExecution: bucket 250, refill 10/s in most Regions, 300 and 15/s in
us-east-1, us-west-2 and eu-west-1; GetExecutionHistory: 400 and 20/s). The client keeps its
own smaller bucket per API so one process cannot drain the account's, and backs off while an
execution keeps running. All waiting goes through injected ``monotonic``/``sleep``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from kbflow._types import MonotonicFn, SleepFn
from kbflow.errors import ConfigurationError

__all__ = ["Polling", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Polling:
    """How :meth:`kbflow.Client.wait` and :meth:`kbflow.Client.events` pace their polls."""

    initial: float = 0.1
    """The first pause between polls, in seconds."""
    maximum: float = 5.0
    """The longest pause between polls, in seconds."""
    multiplier: float = 1.5
    """How much the pause grows after each poll that saw no change."""
    describe_burst: int = 15
    """Client-side bucket size for DescribeExecution calls."""
    describe_rate: float = 5.0
    """Client-side refill rate (calls per second) for DescribeExecution."""
    history_burst: int = 20
    """Client-side bucket size for GetExecutionHistory calls."""
    history_rate: float = 10.0
    """Client-side refill rate (calls per second) for GetExecutionHistory."""

    def delays(self) -> Iterator[float]:
        """Yield the pauses: ``initial``, then times ``multiplier``, at most ``maximum``."""
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.multiplier)


class TokenBucket:
    """A token bucket: ``capacity`` calls at once, refilled at ``rate`` calls per second.

    Args:
        capacity: the burst size.
        rate: tokens added per second.
        monotonic: the clock.
        sleep: how to wait for a token.
    """

    def __init__(
        self, capacity: int, rate: float, *, monotonic: MonotonicFn, sleep: SleepFn
    ) -> None:
        if capacity < 1 or rate <= 0:
            raise ConfigurationError(
                f"a token bucket needs capacity >= 1 and rate > 0, got {capacity}, {rate}"
            )
        self.capacity = capacity
        self.rate = rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = float(capacity)
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until it is available.

        Thread-safe: each caller reserves its token under the lock (the balance may go
        negative) and then sleeps, outside the lock, until the refill has paid for it.
        """
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            debt = -self._tokens
        if debt > 0:
            self._sleep(debt / self.rate)
