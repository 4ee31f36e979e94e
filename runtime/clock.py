"""Time, only through a Clock.

Every wait in the engine (Wait states, retry back-off, task timeouts, heartbeats) is an
``asyncio`` sleep or timeout on the engine's event loop, and the loop reads time from the
engine's :class:`Clock`:

* :class:`RealClock` is wall-clock time; the loop is a normal selector loop.
* :class:`VirtualClock` keeps its own time. The loop built by :func:`new_event_loop` asks the
  clock before blocking: when nothing is runnable and nothing holds time, the clock jumps to
  the next timer instead of sleeping, so a test of a one-year Wait finishes at once. While
  time is held, virtual time runs at real speed; :meth:`VirtualClock.advance` moves it by hand.

What holds time (Temporal's time-skipping rule):

* work in flight (:meth:`Clock.busy`: a Lambda handler running in a thread) always holds it,
  so a task timeout still fires while its handler runs;
* a callback awaited (:meth:`Clock.awaiting_callback`: a ``.waitForTaskToken`` task or an
  activity waiting for its worker) holds it so a test can still send the token, *unless*
  someone is blocked on the result it holds up (``Engine.wait`` on its execution, or on an
  execution that awaits it through ``.sync``/``.waitForTaskToken`` or a Map Run) or the code
  runs inside :meth:`VirtualClock.auto_skip`: then time skips over the callback's
  ``TimeoutSeconds``/``HeartbeatSeconds`` too, and a 24-hour review deadline times out at once.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import threading
import time
from collections.abc import Callable, Iterator
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

    def awaiting_callback(self, owner: object = None) -> AbstractContextManager[None]:
        """Mark a callback of ``owner`` (an execution) awaited: holds virtual time unless
        skipping."""
        ...

    def auto_skip(self, only: Callable[[object], bool] | None = None
                  ) -> AbstractContextManager[None]:
        """Let virtual time skip over awaited callbacks' timers meanwhile (of the owners
        ``only`` accepts; all when None)."""
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

    @contextmanager
    def awaiting_callback(self, owner: object = None) -> Iterator[None]:
        """Do nothing: real time never jumps."""
        yield

    @contextmanager
    def auto_skip(self, only: Callable[[object], bool] | None = None) -> Iterator[None]:
        """Do nothing: real time never jumps."""
        yield


class VirtualClock:
    """A clock that jumps ahead when every execution is only waiting for time to pass.

    See the module docstring for what holds time; ``auto_skip()`` and ``Engine.wait`` let it
    skip over awaited callbacks too.

    Args:
        start: the wall-clock time at virtual second 0 (default: the real time now).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start if start is not None else datetime.now(UTC)
        self._offset = 0.0
        self._busy = 0
        self._awaited: list[object] = []  # owners of the callbacks awaited
        self._skips: list[Callable[[object], bool] | None] = []
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
        """How many pieces of work and awaited callbacks currently hold the clock.

        Read by the loop when it is idle (never per state transition).
        """
        skips = list(self._skips)
        if None in skips:
            return self._busy
        return self._busy + sum(
            1 for owner in list(self._awaited) if not any(skip(owner) for skip in skips if skip))

    @property
    def skipping(self) -> bool:
        """True while someone waits on a result or inside :meth:`auto_skip`."""
        return bool(self._skips)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Hold the clock while a task invocation runs (always, even when skipping)."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    @contextmanager
    def awaiting_callback(self, owner: object = None) -> Iterator[None]:
        """Hold the clock while a callback of ``owner`` is awaited, unless time skips over it
        (see :meth:`auto_skip`)."""
        with self._lock:
            self._awaited.append(owner)
        try:
            yield
        finally:
            with self._lock:
                self._awaited.remove(owner)

    @contextmanager
    def auto_skip(self, only: Callable[[object], bool] | None = None) -> Iterator[None]:
        """Skip over awaited callbacks' timers while inside; ``Engine.wait`` enters it.

        Args:
            only: skip only over the callbacks whose owner this accepts (called on the loop
                thread when it is idle); None skips over every callback. Work in flight
                (:meth:`busy`) still holds time.
        """
        with self._lock:
            self._skips.append(only)
        self._wake()  # a loop blocked in real time while a callback held it re-decides
        try:
            yield
        finally:
            with self._lock:
                self._skips.remove(only)

    def _wake(self) -> None:
        for loop in list(self._loops):
            if not loop.is_closed():
                loop.call_soon_threadsafe(lambda: None)

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by hand and wake the loops that use this clock.

        Args:
            seconds: how far to move (>= 0).
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += seconds
        self._wake()

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
            # Time is held: virtual time runs at real speed until the holder is done (it wakes
            # the loop), so task timeouts still fire while a handler runs.
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
