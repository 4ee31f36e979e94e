"""The Clock: virtual time jumps when idle, holds while work is in flight."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from kbflow.runtime.clock import Clock, RealClock, VirtualClock, new_event_loop


def test_virtual_loop_jumps_over_long_sleeps() -> None:
    clock = VirtualClock(datetime(2024, 1, 1, tzinfo=UTC))
    loop = new_event_loop(clock)
    try:
        async def sleeps() -> float:
            await asyncio.sleep(3600 * 24 * 400)
            await asyncio.sleep(0.5)
            return clock.monotonic()

        assert loop.run_until_complete(sleeps()) == pytest.approx(3600 * 24 * 400 + 0.5)
        assert clock.now().year == 2025
    finally:
        loop.close()


def test_busy_work_makes_virtual_time_run_at_real_speed() -> None:
    clock = VirtualClock()
    loop = new_event_loop(clock)
    release = threading.Event()
    try:
        async def scenario() -> tuple[float, float]:
            timer = asyncio.ensure_future(asyncio.sleep(100))
            with clock.busy():
                await loop.run_in_executor(None, release.wait, 5)
                held = clock.monotonic()
            await timer
            return held, clock.monotonic()

        loop.call_soon(release.set)
        held, after = loop.run_until_complete(scenario())
        # the handler thread took (real) milliseconds; the 100 s timer did not jump meanwhile
        assert held < 1 and after == pytest.approx(100)
    finally:
        loop.close()


def test_advance_by_hand_and_protocol() -> None:
    clock = VirtualClock()
    clock.advance(10)
    assert clock.monotonic() == 10
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert isinstance(clock, Clock) and isinstance(RealClock(), Clock)
    assert RealClock().now().tzinfo is not None
