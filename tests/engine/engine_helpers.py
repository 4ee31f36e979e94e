"""Helpers for engine tests."""

from __future__ import annotations

from typing import Any

from kbflow.runtime.engine import Engine


def run_machine(engine: Engine, definition: dict[str, Any], input: Any = None,
                **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Register, run to the end, and return (describe_execution, history)."""
    sm = engine.create_state_machine(kwargs.pop("machine_name", "m"), definition,
                                     **kwargs)
    arn = engine.start_execution(sm, {} if input is None else input)
    described = engine.wait(arn, timeout=30)
    return described, engine.history(arn)


def event_types(history: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in history:
        name = (e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}).get(
            "name")
        out.append(f"{e['type']}:{name}" if name else e["type"])
    return out
