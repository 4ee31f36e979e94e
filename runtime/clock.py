"""Time, only through a Clock.

Every wait in the engine (Wait states, retry back-off, task timeouts, heartbeats) is an
``asyncio`` sleep or timeout on the engine's event loop, and the loop reads time from the
engine's :class:`Clock`:

* :class:`RealClock` is wall-clock time; the loop is a normal selector loop.
* :class:`VirtualClock` keeps its own time. The loop built by :func:`new_event_loop` asks the
  clock before blocking: when nothing is runnable and nothing is in flight (no task invocation
  running in a thread, no callback awaited), the clock jumps to the next timer instead of
  sleeping, so a test of a one-year Wait finishes at once. While work is in flight, virtual
  time runs at real speed (so a task timeout still fires while its handler runs);
  :meth:`VirtualClock.advance` moves it by hand (e.g. to time out a callback task).
"""

from __future__ import annotations

import asyncio
import math
import selectors
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "VirtualClock", "new_event_loop"]


@runtime_checkable
class Clock(Protocol):
    """Where the engine reads time."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (the event loop's time)."""
        ...

    def now(self) -> datetime:
        """The current UTC wall-clock time (history timestamps, Wait Timestamp)."""
        ...

    def busy(self) -> AbstractContextManager[None]:
        """Mark work in flight that must finish before virtual time may jump."""
        ...


class RealClock:
    """Wall-clock time."""

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Do nothing: real time never jumps."""
        yield


class VirtualClock:
    """A clock that jumps ahead when every execution is only waiting for time to pass.

    Args:
        start: the wall-clock time at virtual second 0 (default: the real time now).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start if start is not None else datetime.now(UTC)
        self._offset = 0.0
        self._busy = 0
        self._lock = threading.Lock()
        self._loops: list[asyncio.AbstractEventLoop] = []

    def monotonic(self) -> float:
        """Virtual seconds since the clock started."""
        return self._offset

    def now(self) -> datetime:
        """The virtual UTC wall-clock time."""
        return self._start + timedelta(seconds=self._offset)

    @property
    def in_flight(self) -> int:
        """How many pieces of work currently hold the clock."""
        return self._busy

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Hold the clock while a task invocation or callback wait is in flight."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by hand and wake the loops that use this clock.

        Args:
            seconds: how far to move (>= 0).
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += seconds
        for loop in list(self._loops):
            if not loop.is_closed():
                loop.call_soon_threadsafe(lambda: None)

    def _jump(self, seconds: float) -> None:
        # Always move by at least one ulp: far in the future, offset + a tiny timeout can
        # round back to offset and the loop would spin forever.
        self._offset = max(self._offset + seconds, math.nextafter(self._offset, math.inf))


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that advances a VirtualClock instead of blocking when the loop is idle."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0 and self._clock.in_flight == 0:
            self._clock._jump(timeout)
            return super().select(0)
        if timeout is not None and timeout > 0:
            # Work in flight: virtual time runs at real speed until it is done (it wakes the
            # loop), so task timeouts still fire while a handler runs.
            start = time.monotonic()
            events = super().select(timeout)
            self._clock._jump(time.monotonic() - start)
            return events
        return super().select(timeout)


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self._vclock = clock
        # asyncio fires timers due before time() + resolution; with virtual time far ahead,
        # a nanosecond is below float precision, so use a microsecond.
        self._clock_resolution = 1e-6

    def time(self) -> float:
        return self._vclock.monotonic()


def new_event_loop(clock: Clock) -> asyncio.AbstractEventLoop:
    """Make an event loop whose timers run on ``clock``.

    Args:
        clock: the engine's clock.

    Returns:
        A plain selector loop for a real clock; a loop that reads and advances virtual time
        for a :class:`VirtualClock`.
    """
    if isinstance(clock, VirtualClock):
        loop = _VirtualLoop(clock)
        clock._loops.append(loop)
        return loop
    return asyncio.new_event_loop()
