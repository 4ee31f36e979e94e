"""The interpreter: runs a compiled state machine for one execution.

Each execution (and each Parallel branch and Map iteration inside it) is a chain of states run
by :meth:`Interpreter.run_machine`. States are coroutines, but a state that does not wait (Pass,
Choice, Succeed, Fail, most JSONPath/JSONata work) never suspends, so a chain of Pass states
costs only function calls. Waiting (Wait, retry back-off, task timeouts) is ``asyncio`` time on
the engine's loop, which reads the engine's Clock.

Errors are :class:`kbflow.errors.StatesError`; :meth:`Interpreter.run_state` applies Retry and
Catch with :func:`kbflow.runtime.asl.errors.error_matches` and AWS's back-off formula.
"""

from __future__ import annotations

import asyncio
import random
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kbflow.errors import StatesError

from .asl import intrinsics
from .asl import model as m
from .asl.errors import error_matches
from .asl.jsonpath import compile_path
from .asl.model import UNSET, Unset
from .asl.templates import compile_template
from .choice import evaluate_rule
from .dataflow import (
    DATA_LIMIT,
    EvaluationFailed,
    compile_path_field,
    data_limit_error,
    place_result,
    render_jsonata,
    resolve_path,
    state_prefix,
)
from .history import History, payload
from .plan import MachinePlan, StatePlan

if TYPE_CHECKING:
    from .execution import Run

__all__ = ["Frame", "Interpreter", "Outcome", "register_runner"]

JSON = Any
NOT_TRUNCATED: Final = {"truncated": False}
_PREFIXED: Final = ("States.Runtime", "States.QueryEvaluationError")
_NOTHING: Final = object()


@dataclass(slots=True)
class Outcome:
    """What a state's work produced."""

    output: JSON
    next: str | None
    assigned: dict[str, JSON] | None = None


class Frame:
    """One running chain of states: the execution itself, a branch or a Map iteration.

    Args:
        run: the execution.
        variables: the variables visible here (a ChainMap over outer scopes for children).
        prev: the id of this chain's latest history event.
    """

    __slots__ = ("run", "variables", "local", "prev", "last_value", "last_text")

    def __init__(self, run: Run, variables: MutableMapping[str, JSON], prev: int) -> None:
        self.run = run
        self.variables = variables
        self.local: MutableMapping[str, JSON] = (
            variables.maps[0] if isinstance(variables, ChainMap) else variables
        )
        self.prev = prev
        self.last_value: JSON = _NOTHING
        self.last_text = ""

    def text_of(self, value: JSON) -> str:
        """The history text of ``value``, reusing the previous state's output text."""
        if value is self.last_value:
            return self.last_text
        return payload(value)

    def child(self, prev: int, *, inherit: bool = True) -> Frame:
        """A frame for a branch or iteration: reads outer variables, assigns locally."""
        scope: MutableMapping[str, JSON] = ChainMap({}, self.variables) if inherit else {}
        return Frame(self.run, scope, prev)


Runner = Callable[["Interpreter", Frame, StatePlan, JSON, dict[str, JSON]], Awaitable[Outcome]]
_RUNNERS: dict[str, Runner] = {}


def register_runner(kind: str) -> Callable[[Runner], Runner]:
    """Register the coroutine that does a state type's work."""

    def deco(fn: Runner) -> Runner:
        _RUNNERS[kind] = fn
        return fn

    return deco


class Interpreter:
    """Runs states. One interpreter serves every execution of an engine.

    Args:
        rng: randomness for retry jitter.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    async def run_machine(self, frame: Frame, machine: MachinePlan, data: JSON) -> JSON:
        """Run states from ``StartAt`` until one ends the chain; return the final output."""
        name: str | None = machine.start_at
        states = machine.states
        while name is not None:
            data, name = await self.run_state(frame, states[name], data)
        return data

    async def run_state(self, frame: Frame, plan: StatePlan, data: JSON) -> tuple[JSON, str | None]:
        """Run one state: entered event, its work with Retry/Catch, exited event."""
        run = frame.run
        history = run.history
        entered = history.add(plan.entered, frame.prev, {
            "input": frame.text_of(data), "inputDetails": NOT_TRUNCATED, "name": plan.name})
        frame.prev = entered
        ctx = run.context(plan)
        runner = _RUNNERS[plan.kind]
        counts: list[int] | None = None
        while True:
            try:
                outcome = await runner(self, frame, plan, data, ctx)
                break
            except StatesError as err:
                err = self._qualify(err, plan, entered, frame)
                if counts is None:
                    counts = [0] * len(plan.retriers)
                delay = self._retry_delay(plan, err, counts)
                if delay is not None:
                    await run.sleep(delay)
                    if "State" in ctx:
                        ctx["State"]["RetryCount"] = sum(counts)
                    continue
                if getattr(err, "failed_plan", None) is plan:
                    frame.prev = run.history.add(f"{plan.kind}StateFailed", frame.prev)
                outcome = self._catch(frame, plan, data, ctx, err)
                break
        return self._exit(frame, plan, outcome)

    # ------------------------------------------------------------------ helpers

    def _exit(self, frame: Frame, plan: StatePlan, outcome: Outcome) -> tuple[JSON, str | None]:
        text = payload(outcome.output)
        frame.last_value, frame.last_text = outcome.output, text
        if len(text) > DATA_LIMIT // 4 and len(text.encode()) > DATA_LIMIT:
            raise data_limit_error(plan.name)
        details: dict[str, JSON] = {"name": plan.name, "output": text,
                                    "outputDetails": NOT_TRUNCATED}
        if outcome.assigned is not None:
            frame.local.update(outcome.assigned)
            details["assignedVariables"] = {k: payload(v) for k, v in outcome.assigned.items()}
            details["assignedVariablesDetails"] = NOT_TRUNCATED
        if plan.kind not in ("Fail",):
            frame.prev = frame.run.history.add(plan.exited, frame.prev, details)
        return outcome.output, outcome.next

    def _qualify(self, err: StatesError, plan: StatePlan, entered: int,
                 frame: Frame) -> StatesError:
        location = getattr(err, "location", None)
        if err.error in _PREFIXED and not getattr(err, "prefixed", False):
            cause = state_prefix(plan.name, entered) + (err.cause or "")
            new: StatesError = (
                EvaluationFailed(err.error, cause, location=location)
                if location is not None else StatesError(err.error, cause)
            )
            new.prefixed = True  # type: ignore[attr-defined]
            new.recorded = getattr(err, "recorded", False)  # type: ignore[attr-defined]
            new.failed_plan = getattr(err, "failed_plan", None)  # type: ignore[attr-defined]
            err = new
        if isinstance(err, EvaluationFailed) and not getattr(err, "recorded", False):
            frame.prev = frame.run.history.add("EvaluationFailed", frame.prev, {
                "error": err.error, "cause": err.cause, "location": err.location,
                "state": plan.name})
            err.recorded = True  # type: ignore[attr-defined]
        return err

    def _retry_delay(self, plan: StatePlan, err: StatesError, counts: list[int]) -> float | None:
        for i, retrier in enumerate(plan.retriers):
            if not error_matches(retrier.error_equals, err.error):
                continue
            return self._backoff(retrier, counts, i)
        return None

    def _backoff(self, retrier: m.Retrier, counts: list[int], i: int) -> float | None:
        max_attempts = 3 if isinstance(retrier.max_attempts, Unset) else retrier.max_attempts
        if counts[i] >= max_attempts:
            return None
        interval = 1 if isinstance(retrier.interval_seconds, Unset) else retrier.interval_seconds
        rate = 2.0 if isinstance(retrier.backoff_rate, Unset) else retrier.backoff_rate
        delay = interval * rate ** counts[i]
        if not isinstance(retrier.max_delay_seconds, Unset):
            delay = min(delay, retrier.max_delay_seconds)
        if retrier.jitter_strategy == "FULL":
            delay = self.rng.uniform(0, delay)
        counts[i] += 1
        return float(delay)

    def _catch(self, frame: Frame, plan: StatePlan, data: JSON, ctx: dict[str, JSON],
               err: StatesError) -> Outcome:
        for catcher in plan.catchers:
            if not error_matches(catcher.error_equals, err.error):
                continue
            error_output: dict[str, JSON] = {"Error": err.error}
            if err.cause is not None:
                error_output["Cause"] = err.cause
            return self._catch_output(frame, plan, catcher, data, ctx, error_output)
        raise err

    def _catch_output(self, frame: Frame, plan: StatePlan, catcher: m.Catcher, data: JSON,
                      ctx: dict[str, JSON], error_output: dict[str, JSON]) -> Outcome:
        variables = frame.variables
        if plan.jsonata:
            states = {"input": data, "context": ctx, "errorOutput": error_output}
            assigned = None
            if not isinstance(catcher.assign, Unset):
                assigned = render_jsonata(catcher.assign, states, variables, "Assign")
            output = error_output
            if not isinstance(catcher.output, Unset):
                output = render_jsonata(catcher.output, states, variables, "Output")
            return Outcome(output, catcher.next, assigned)
        assigned = None
        if not isinstance(catcher.assign, Unset):
            assigned = compile_template(catcher.assign).render(
                error_output, ctx, variables, field="Assign")
        output = place_result(data, error_output, compile_path_field(catcher.result_path))
        return Outcome(output, catcher.next, assigned)


def new_history_frame(run: Run, history: History) -> Frame:
    """The top-level frame of an execution."""
    return Frame(run, {}, history.last_id)


# ---------------------------------------------------------------------------- simple states


@register_runner("Pass")
async def run_pass(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                   ctx: dict[str, JSON]) -> Outcome:
    """Pass: ``Result`` (or the effective input) through ResultPath/OutputPath."""
    pipe = plan.pipeline
    variables = frame.variables
    if plan.jsonata:
        output, assigned = pipe.finish_jsonata({"input": data, "context": ctx}, data, variables)
        return Outcome(output, plan.next, assigned)
    state = plan.state
    assert isinstance(state, m.Pass)
    result = pipe.effective_input(data, ctx, variables)
    if not isinstance(state.result, Unset):
        result = state.result
    output, assigned = pipe.finish_jsonpath(data, result, ctx, variables)
    return Outcome(output, plan.next, assigned)


@register_runner("Succeed")
async def run_succeed(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                      ctx: dict[str, JSON]) -> Outcome:
    """Succeed: ends the chain with its (filtered) input."""
    pipe = plan.pipeline
    if plan.jsonata:
        output, _ = pipe.finish_jsonata({"input": data, "context": ctx}, data, frame.variables)
        return Outcome(output, None)
    effective = pipe.select_input(data, ctx, frame.variables)
    return Outcome(pipe.select_output(effective, ctx, frame.variables), None)


@register_runner("Fail")
async def run_fail(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                   ctx: dict[str, JSON]) -> Outcome:
    """Fail: raises its Error and Cause (literal, path or JSONata)."""
    state = plan.state
    assert isinstance(state, m.Fail)
    error = _fail_field(plan, state.error, state.error_path, "Error", data, ctx, frame)
    cause = _fail_field(plan, state.cause, state.cause_path, "Cause", data, ctx, frame)
    exc = StatesError(error if error is not None else "", cause)
    exc.prefixed = True  # type: ignore[attr-defined]
    raise exc


def _fail_field(plan: StatePlan, literal: Any, path: Any, field: str, data: JSON,
                ctx: dict[str, JSON], frame: Frame) -> str | None:
    if plan.jsonata and isinstance(literal, str):
        value = render_jsonata(literal, {"input": data, "context": ctx}, frame.variables, field)
        return value if isinstance(value, str) else payload(value)
    if isinstance(literal, str):
        return literal
    if isinstance(path, str):
        if intrinsics.is_intrinsic(path):
            value = intrinsics.evaluate(intrinsics.parse_intrinsic(path), data, ctx,
                                        frame.variables, rng=frame.run.host.rng)
        else:
            value = resolve_path(compile_path(path), data, ctx, frame.variables)
        if not isinstance(value, str):
            raise StatesError("States.Runtime",
                              f"The {field}Path '{path}' did not resolve to a string")
        return value
    return None


@register_runner("Choice")
async def run_choice(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                     ctx: dict[str, JSON]) -> Outcome:
    """Choice: the first matching rule's Next, else Default, else States.NoChoiceMatched."""
    state = plan.state
    assert isinstance(state, m.Choice)
    pipe = plan.pipeline
    variables = frame.variables
    if plan.jsonata:
        states = {"input": data, "context": ctx}
        for i, rule in enumerate(state.choices):
            cond = render_jsonata(rule.condition, states, variables, f"Choices/{i}/Condition")
            if not isinstance(cond, bool):
                raise EvaluationFailed("States.QueryEvaluationError", _not_boolean(rule, cond),
                                       location=f"Choices/{i}/Condition")
            if cond:
                return _jsonata_choice_exit(plan, state, rule, states, variables, data)
        return _choice_default(plan, state, states, data, variables)
    effective = pipe.select_input(data, ctx, variables)
    for rule in state.choices:
        assert rule.rule is not None
        if evaluate_rule(rule.rule, effective, ctx, variables):
            assigned = _jsonpath_assign(pipe, rule.assign, effective, ctx, variables)
            return Outcome(pipe.select_output(effective, ctx, variables), rule.next, assigned)
    if isinstance(state.default, str):
        assigned = _jsonpath_assign(pipe, UNSET, effective, ctx, variables)
        return Outcome(pipe.select_output(effective, ctx, variables), state.default, assigned)
    raise _no_choice(plan)


def _not_boolean(rule: m.ChoiceRule, value: JSON) -> str:
    expr = str(rule.condition)[2:-2].strip()
    return (f"The JSONata expression '{expr}' specified for the field 'Condition' returned an "
            f"unexpected result type. Expected 'boolean', but was "
            f"'{_json_type(value)}' for value: {payload(value)}")


def _json_type(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _no_choice(plan: StatePlan) -> StatesError:
    exc = StatesError("States.NoChoiceMatched",
                      f"No Matches! at state '{plan.name}'")
    return exc


def _jsonpath_assign(pipe: Any, rule_assign: Any, effective: JSON, ctx: dict[str, JSON],
                     variables: Mapping[str, JSON]) -> dict[str, JSON] | None:
    assigned: dict[str, JSON] | None = None
    if pipe.has_assign:
        assigned = dict(pipe.assign.render(effective, ctx, variables, field="Assign"))
    if not isinstance(rule_assign, Unset):
        extra = compile_template(rule_assign).render(effective, ctx, variables, field="Assign")
        assigned = {**(assigned or {}), **extra}
    return assigned


def _jsonata_choice_exit(plan: StatePlan, state: m.Choice, rule: m.ChoiceRule,
                         states: Mapping[str, JSON], variables: Mapping[str, JSON],
                         data: JSON) -> Outcome:
    output, assigned = plan.pipeline.finish_jsonata(states, data, variables)
    if not isinstance(rule.assign, Unset):
        extra = render_jsonata(rule.assign, states, variables, "Assign")
        assigned = {**(assigned or {}), **extra}
    if not isinstance(rule.output, Unset):
        output = render_jsonata(rule.output, states, variables, "Output")
    return Outcome(output, rule.next, assigned)


def _choice_default(plan: StatePlan, state: m.Choice, states: Mapping[str, JSON], data: JSON,
                    variables: Mapping[str, JSON]) -> Outcome:
    if not isinstance(state.default, str):
        raise _no_choice(plan)
    output, assigned = plan.pipeline.finish_jsonata(states, data, variables)
    return Outcome(output, state.default, assigned)


async def sleep(seconds: float) -> None:
    """Wait on the engine loop's clock."""
    if seconds > 0:
        await asyncio.sleep(seconds)


def mark_state_failed(err: StatesError, plan: StatePlan) -> StatesError:
    """Ask :meth:`Interpreter.run_state` to record ``<Type>StateFailed`` if ``err`` is final."""
    err.failed_plan = plan  # type: ignore[attr-defined]
    return err
