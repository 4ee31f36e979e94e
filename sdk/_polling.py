"""Pacing for polling calls: a client-side token bucket and an adaptive backoff.

Step Functions throttles DescribeExecution and GetExecutionHistory per account with token
buckets (DescribeExecution: bucket 250, refill 10/s in most Regions, 300 and 15/s in
us-east-1, us-west-2 and eu-west-1; GetExecutionHistory: 400 and 20/s). The client keeps its
own smaller bucket per API so one process cannot drain the account's, and backs off while an
execution keeps running. All waiting goes through injected ``monotonic``/``sleep``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kbflow._types import MonotonicFn, SleepFn

__all__ = ["Polling", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Polling:
    """How :meth:`kbflow.Client.wait` and :meth:`kbflow.Client.events` pace their polls."""

    initial: float = 0.05
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
        """Yield the pauses between polls: ``initial``, growing by ``multiplier`` up to ``maximum``."""
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

    def __init__(self, capacity: int, rate: float, *, monotonic: MonotonicFn, sleep: SleepFn) -> None:
        if capacity < 1 or rate <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and rate > 0")
        self.capacity = capacity
        self.rate = rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = float(capacity)
        self._stamp = monotonic()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        self._refill()
        if self._tokens < 1:
            self._sleep((1 - self._tokens) / self.rate)
            self._refill()
            # A fake sleeper may not move the clock; never go into debt by more than one token.
            self._tokens = max(self._tokens, 1.0)
        self._tokens -= 1
