"""Fixtures: a fresh engine behind the API, and a boto3 client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_helpers import Served, serve
from kbflow.runtime.engine import Engine


@pytest.fixture
def served() -> Iterator[Served]:
    """A fresh engine behind the API."""
    engine = Engine()
    try:
        yield from serve(engine)
    finally:
        engine.close()


@pytest.fixture
def sfn(served: Served) -> Any:
    """A boto3 client for ``served``."""
    return served.client()
