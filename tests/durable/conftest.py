"""Fixtures of the durable-execution tests (helpers live in ``durable_helpers``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture()
def flow_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a definition to ``tmp_path/<name>.asl.json``."""

    def write(definition: dict[str, Any], name: str = "flow") -> Path:
        path = tmp_path / f"{name}.asl.json"
        path.write_text(json.dumps(definition))
        return path

    return write


@pytest.fixture()
def handlers_on_path() -> Iterator[None]:
    """Make ``durable_handlers`` importable in this process (workers inherit the path)."""
    sys.path.insert(0, str(HERE))
    try:
        yield
    finally:
        sys.path.remove(str(HERE))
