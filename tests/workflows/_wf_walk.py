"""Helpers for walking ASL documents in tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def states(graph: dict[str, Any], pointer: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(pointer, name, state)`` for every state, nested ones included."""
    for name, state in graph["States"].items():
        ptr = f"{pointer}/States/{name}"
        yield ptr, name, state
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from states(state[key], f"{ptr}/{key}")
        for i, branch in enumerate(state.get("Branches", [])):
            yield from states(branch, f"{ptr}/Branches/{i}")


def strings(value: Any) -> Iterator[str]:
    """Every string value in a JSON document."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value
