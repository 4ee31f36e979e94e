"""ValidateStateMachineDefinition and TestState.

``TestState`` runs one state in isolation, as AWS does: the state is wrapped in a one-state
machine whose transition targets (``Next``, Choice rules, ``Default``, Catch ``Next``) are
placeholder ``Succeed`` states, run on a private engine with a virtual clock (a ``Wait``
finishes at once) and the main engine's Lambda functions, and the history tells what
happened: ``SUCCEEDED`` (with ``nextState``), ``CAUGHT_ERROR`` (a Catch matched) or
``FAILED``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final

from kbflow.errors import DefinitionError, KbflowError

from .backend import EngineBackend
from .protocol import ApiError, Params

__all__ = ["test_state", "validate_definition"]

JSON = Any
TESTED: Final = "TestState"
_FAILURES: Final = (
    "TaskFailed",
    "LambdaFunctionFailed",
    "ActivityFailed",
    "TaskTimedOut",
    "LambdaFunctionTimedOut",
    "ExecutionFailed",
    "FailStateEntered",
)
_SUCCESSES: Final = ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")
_engine_lock = threading.Lock()


def validate_definition(b: EngineBackend, p: Params, s: Any) -> dict[str, JSON]:
    """ValidateStateMachineDefinition: every problem as an AWS diagnostic."""
    from kbflow.runtime.asl.validate import validate_text

    text = p.required("definition")
    limit = p.integer("maxResults", default=100, low=0, high=100)
    problems = validate_text(text, use_statelint=False)
    if not problems:
        try:
            _compile(text)
        except DefinitionError as exc:
            problems = list(exc.problems)
    diagnostics = [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": p_.message,
            "location": p_.pointer or "/",
        }
        for p_ in problems
    ]
    return {
        "result": "FAIL" if diagnostics else "OK",
        "diagnostics": diagnostics[:limit],
        "truncated": len(diagnostics) > limit,
    }


def _compile(text: str) -> None:
    from kbflow.runtime.asl.parse import parse
    from kbflow.runtime.plan import compile_machine

    try:
        compile_machine(parse(json.loads(text)))
    except DefinitionError:
        raise
    except KbflowError as exc:
        raise DefinitionError([]) from exc


def _targets(state: Mapping[str, JSON]) -> Iterator[str]:
    if isinstance(state.get("Next"), str):
        yield state["Next"]
    if isinstance(state.get("Default"), str):
        yield state["Default"]
    for rule in state.get("Choices") or ():
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            yield rule["Next"]
    for catcher in state.get("Catch") or ():
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            yield catcher["Next"]


def wrap_state(state: Mapping[str, JSON]) -> dict[str, JSON]:
    """A state machine running ``state`` first, its transition targets as Succeed states."""
    states: dict[str, JSON] = {TESTED: dict(state)}
    for target in _targets(state):
        if target != TESTED:
            states[target] = {"Type": "Succeed"}
    return {"StartAt": TESTED, "States": states}


def _state_definition(p: Params) -> dict[str, JSON]:
    try:
        doc = json.loads(p.required("definition"))
    except ValueError:
        raise ApiError(
            "InvalidDefinition", "Invalid State Machine Definition: 'the definition is not JSON'"
        ) from None
    if not isinstance(doc, dict):
        raise ApiError("InvalidDefinition", "Invalid State Machine Definition: 'not an object'")
    name = p.string("stateName", max_len=80)
    if "States" in doc:  # a whole machine: test one of its states
        states: dict[str, JSON] = doc["States"] if isinstance(doc["States"], dict) else {}
        chosen = states.get(str(name or doc.get("StartAt")))
        if not isinstance(chosen, dict):
            raise ApiError("ValidationException", f"State '{name}' is not in the definition")
        doc = {
            **chosen,
            **(
                {"QueryLanguage": doc["QueryLanguage"]}
                if "QueryLanguage" in doc and "QueryLanguage" not in chosen
                else {}
            ),
        }
    if doc.get("Type") in ("Map", "Parallel"):
        raise ApiError(
            "ValidationException", f"TestState does not support {doc.get('Type')} states in kbflow"
        )
    return doc


def _private_engine(b: EngineBackend) -> Any:
    """The backend's TestState engine (virtual clock), with the main engine's functions."""
    from kbflow.runtime.clock import VirtualClock
    from kbflow.runtime.engine import Engine

    with _engine_lock:
        engine = b.test_engine
        if engine is None:
            engine = b.test_engine = Engine(
                clock=VirtualClock(), region=b.region, account=b.account
            )
    for name, fn in b.engine.functions.items():
        if name not in engine.functions:
            engine.register_function(
                name, fn.handler, timeout_seconds=fn.timeout_seconds, memory_mb=fn.memory_mb
            )
    return engine


def test_state(b: EngineBackend, p: Params, s: Any) -> dict[str, JSON]:
    """TestState: run one Pass, Choice, Wait, Succeed, Fail or Task state."""
    state = _state_definition(p)
    input_text = p.string("input", max_len=1024 * 1024) or "{}"
    try:
        json.loads(input_text)
    except ValueError:
        raise ApiError("InvalidExecutionInput", "Invalid State Input: not JSON") from None
    engine = _private_engine(b)
    name = f"teststate-{uuid.uuid4().hex[:12]}"
    try:
        sm = engine.create_state_machine(name, wrap_state(state))
    except DefinitionError as exc:
        detail = "; ".join(str(x) for x in exc.problems) or str(exc)
        raise ApiError(
            "InvalidDefinition", f"Invalid State Machine Definition: '{detail}'"
        ) from None
    try:
        arn = engine.start_execution(sm, input_text)
        try:
            engine.wait(arn, timeout=s.sync_timeout_seconds if s is not None else 60)
        except TimeoutError:
            engine.stop_execution(
                arn, error="States.Timeout", cause="TestState gave up waiting for the state"
            )
            engine.wait(arn, timeout=5)
        return _result(engine.history(arn), p.string("inspectionLevel") or "INFO")
    finally:
        engine.delete_state_machine(sm)


def _last_failure(events: list[dict[str, JSON]], before: int | None) -> dict[str, JSON] | None:
    """The failure that decided the tested state (a retried attempt that succeeded is not)."""
    found = None
    for event in events:
        if before is not None and event["id"] >= before:
            break
        if event["type"] in _FAILURES:
            found = event
        elif event["type"] in _SUCCESSES:
            found = None
    return found


def _result(events: list[dict[str, JSON]], level: str) -> dict[str, JSON]:
    """TestState's response, read from the wrapped machine's history."""
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    first_input = entered[0]["stateEnteredEventDetails"].get("input") if entered else None
    failure = _last_failure(events, entered[1]["id"] if len(entered) > 1 else None)
    last = events[-1]
    out: dict[str, JSON] = {}
    if len(entered) > 1:  # the tested state handed over to one of its targets
        out["nextState"] = entered[1]["stateEnteredEventDetails"]["name"]
        out["output"] = entered[1]["stateEnteredEventDetails"].get("input")
        out["status"] = "CAUGHT_ERROR" if failure is not None else "SUCCEEDED"
    elif last["type"] == "ExecutionSucceeded":
        out["status"] = "SUCCEEDED"
        out["output"] = last["executionSucceededEventDetails"].get("output")
    else:
        out["status"] = "FAILED"
    source = failure if out["status"] != "SUCCEEDED" else None
    if out["status"] == "FAILED" and last["type"] != "ExecutionSucceeded":
        source = last
    if source is not None:
        details: dict[str, JSON] = (
            next((v for k, v in source.items() if k.endswith("EventDetails")), {}) or {}
        )
        if details.get("error") is not None:
            out["error"] = details["error"]
        if details.get("cause") is not None:
            out["cause"] = details["cause"]
    if level in ("DEBUG", "TRACE"):
        inspection: dict[str, JSON] = {"input": first_input}
        result = next((e for e in events if e["type"] in _SUCCESSES), None)
        if result is not None:
            details = next(v for k, v in result.items() if k.endswith("EventDetails"))
            inspection["result"] = details.get("output")
        out["inspectionData"] = inspection
    return out
