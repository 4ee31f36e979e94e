"""The conformance adapter: ``run(definition, input, **opts)`` (see ../shared/conformance).

One engine (virtual clock, so Wait states and retry back-off cost no real time) serves every
case run in this process; each call registers the definition, registers the case's Lambda
functions (their handler source is executed as ``/var/task/handler.py``, as on Lambda) and
runs one execution to its end.
"""

from __future__ import annotations

import atexit
import itertools
import json
import linecache
from collections.abc import Mapping
from typing import Any, Final

from kbflow.errors import KbflowError

from .clock import VirtualClock
from .engine import Engine

__all__ = ["SUPPORTED_KINDS", "run"]

SUPPORTED_KINDS: Final = {"core", "lambda"}
_HANDLER_FILE: Final = "/var/task/handler.py"
_ENGINE: Engine | None = None
_COUNTER = itertools.count(1)


def _engine() -> Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(clock=VirtualClock(), account="111111111111")
        atexit.register(_ENGINE.close)
    return _ENGINE


def _load_handler(source: str) -> Any:
    linecache.cache[_HANDLER_FILE] = (len(source), None, source.splitlines(True), _HANDLER_FILE)
    namespace: dict[str, Any] = {"__name__": "handler", "__file__": _HANDLER_FILE}
    exec(compile(source, _HANDLER_FILE, "exec"), namespace)  # noqa: S102 - test fixture code
    return namespace["handler"]


def _register_lambdas(engine: Engine, lambdas: Mapping[str, Any] | None) -> None:
    for name, spec in (lambdas or {}).items():
        code = spec.get("code") if isinstance(spec, Mapping) else None
        if isinstance(code, str):
            engine.register_function(name, _load_handler(code), timeout_seconds=60)


def run(definition: dict[str, Any], input: Any, **opts: Any) -> dict[str, Any]:
    """Run one conformance case.

    Args:
        definition: the ASL definition.
        input: the execution input.
        **opts: ``state_machine_type``, ``lambdas``, ``execution_name``, ``timeout``.

    Returns:
        ``{"status", "output", "error", "cause", "events"}``.
    """
    engine = _engine()
    _register_lambdas(engine, opts.get("lambdas"))
    n = next(_COUNTER)
    try:
        sm = engine.create_state_machine(f"conformance-{n}", definition,
                                         type=opts.get("state_machine_type") or "STANDARD",
                                         role_arn="snf_role_arn")
    except KbflowError as exc:
        return {"status": "FAILED", "output": None, "error": "States.Runtime",
                "cause": str(exc), "events": []}
    name = opts.get("execution_name") or f"exec-{n}"
    arn = engine.start_execution(sm, json.dumps(input), name=name)
    try:
        described = engine.wait(arn, timeout=opts.get("timeout") or 60)
    except TimeoutError:  # still running after the runner's time limit: stop it
        engine.stop_execution(arn, error="Conformance.Timeout",
                              cause="the execution did not end within the runner's timeout")
        described = engine.wait(arn, timeout=10)
    events = engine.history(arn)
    engine.delete_state_machine(sm)
    return {"status": described["Status"], "output": described.get("Output"),
            "error": described.get("Error"), "cause": described.get("Cause"),
            "events": events}


run.SUPPORTED_KINDS = SUPPORTED_KINDS  # type: ignore[attr-defined]
