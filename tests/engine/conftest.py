"""Engine fixtures: an engine on a virtual clock (no test sleeps for real)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def engine(clock: VirtualClock) -> Iterator[Engine]:
    with Engine(clock=clock) as eng:
        yield eng
