"""Parallel and inline Map states.

Branches and iterations run as coroutines on the engine loop. An inline Map runs at most
``MaxConcurrency`` iterations at a time (AWS runs inline maps with up to 40 concurrent
iterations, so 0/absent means 40); the first failure that exceeds the tolerated failures stops
the others, as on AWS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from kbflow.errors import StatesError

from .asl import model as m
from .asl.jsonata import expect_type, json_type
from .asl.jsonpath import compile_path
from .asl.model import Unset
from .asl.templates import compile_template
from .dataflow import EvaluationFailed, render_jsonata, resolve_path
from .history import payload
from .interpreter import Frame, Interpreter, Outcome, mark_state_failed, register_runner
from .plan import StatePlan

__all__ = ["MapSettings", "iterate", "map_items", "map_settings"]

JSON = Any
INLINE_CONCURRENCY: Final = 40
_QUERY: Final = "States.QueryEvaluationError"


# ---------------------------------------------------------------------------- Parallel


@register_runner("Parallel")
async def run_parallel(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                       ctx: dict[str, JSON]) -> Outcome:
    """Parallel: run every branch on the same input; the result is their outputs in order."""
    state = plan.state
    assert isinstance(state, m.Parallel)
    pipe = plan.pipeline
    variables = frame.variables
    if plan.jsonata:
        states = {"input": data, "context": ctx}
        args = data if isinstance(state.arguments, Unset) else render_jsonata(
            state.arguments, states, variables, "Arguments")
    else:
        args = pipe.effective_input(data, ctx, variables)
    history = frame.run.history
    frame.prev = history.add("ParallelStateStarted", frame.prev)
    children = [frame.child(frame.prev) for _ in plan.children]
    try:
        pairs = zip(children, plan.children, strict=True)
        results = await _all_or_first_error(
            [it.run_machine(child, branch, args) for child, branch in pairs])
    except StatesError as err:
        frame.prev = max(c.prev for c in children)
        raise mark_state_failed(err, plan) from None
    frame.prev = history.add("ParallelStateSucceeded", max(c.prev for c in children))
    if plan.jsonata:
        output, assigned = pipe.finish_jsonata(
            {"input": data, "context": ctx, "result": results}, results, variables)
        return Outcome(output, plan.next, assigned)
    output, assigned = pipe.finish_jsonpath(data, results, ctx, variables)
    return Outcome(output, plan.next, assigned)


async def _all_or_first_error(coros: list[Awaitable[JSON]]) -> list[JSON]:
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return [t.result() for t in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------------------- Map


class MapSettings:
    """A Map state's evaluated MaxConcurrency and failure tolerance."""

    __slots__ = ("max_concurrency", "tolerated_count", "tolerated_percentage")

    def __init__(self, max_concurrency: int, tolerated_count: int | None,
                 tolerated_percentage: float | None) -> None:
        self.max_concurrency = max_concurrency
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage

    @property
    def tolerates(self) -> bool:
        """True when any failure tolerance is configured."""
        return self.tolerated_count is not None or self.tolerated_percentage is not None

    def exceeded(self, failures: int, total: int) -> bool:
        """True when ``failures`` out of ``total`` is over the tolerance."""
        if failures == 0:
            return False
        if not self.tolerates:
            return True
        over_count = self.tolerated_count is None or failures > self.tolerated_count
        over_pct = self.tolerated_percentage is None or (
            total > 0 and failures * 100.0 / total > self.tolerated_percentage)
        return over_count and over_pct


def map_items(plan: StatePlan, data: JSON, ctx: dict[str, JSON],
              frame: Frame) -> tuple[JSON, list[JSON]]:
    """The effective input and the items array of a Map state (ItemsPath / Items)."""
    state = plan.state
    assert isinstance(state, m.Map)
    variables = frame.variables
    if plan.jsonata:
        if isinstance(state.items, Unset):
            items = data
            if not isinstance(items, list):
                raise EvaluationFailed(_QUERY, _items_type_error("$states.input", items),
                                       location="Items")
        elif isinstance(state.items, list):
            items = render_jsonata(state.items, {"input": data, "context": ctx}, variables, "Items")
        else:
            items = render_jsonata(state.items, {"input": data, "context": ctx}, variables, "Items")
            text = str(state.items)[2:-2].strip()
            items = expect_type(items, "array", text, field="Items")
        return data, items
    effective = plan.pipeline.select_input(data, ctx, variables)
    path = "$" if isinstance(state.items_path, Unset) else state.items_path
    items = resolve_path(compile_path(path), effective, ctx, variables)
    if not isinstance(items, list):
        raise StatesError("States.Runtime",
                          f"Invalid path '{path}': The ItemsPath field must resolve to a JSON "
                          f"array, but was {payload(items)}")
    return effective, items


def _items_type_error(text: str, value: JSON) -> str:
    return (f"The JSONata expression '{text}' specified for the field 'Items' returned an "
            f"unexpected result type. Expected 'array', but was '{json_type(value)}' for "
            f"value: {payload(value)}")


def map_settings(plan: StatePlan, data: JSON, ctx: dict[str, JSON], frame: Frame) -> MapSettings:
    """Evaluate MaxConcurrency(Path) and ToleratedFailure*(Path)."""
    state = plan.state
    assert isinstance(state, m.Map)
    conc = _number(plan, state.max_concurrency, state.max_concurrency_path, "MaxConcurrency",
                   data, ctx, frame)
    count = _number(plan, state.tolerated_failure_count, state.tolerated_failure_count_path,
                    "ToleratedFailureCount", data, ctx, frame)
    pct = _number(plan, state.tolerated_failure_percentage,
                  state.tolerated_failure_percentage_path, "ToleratedFailurePercentage",
                  data, ctx, frame, integer=False)
    return MapSettings(int(conc or 0), None if count is None else int(count), pct)


def _number(plan: StatePlan, value: Any, path: Any, field: str, data: JSON,
            ctx: dict[str, JSON], frame: Frame, *, integer: bool = True) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        result = render_jsonata(value, {"input": data, "context": ctx}, frame.variables, field)
        if not isinstance(result, int | float) or isinstance(result, bool) or result < 0:
            raise EvaluationFailed(
                _QUERY, f"The JSONata expression '{value[2:-2].strip()}' specified for the field "
                f"'{field}' returned an unexpected result type. Expected 'integer', but was "
                f"'{type(result).__name__}' for value: {payload(result)}", location=field)
        return float(result)
    if not isinstance(path, str):
        return None
    found = resolve_path(compile_path(path), data, ctx, frame.variables)
    if isinstance(found, str) and found.strip().lstrip("-").isdigit():
        found = int(found)
    ok = isinstance(found, int | float) and not isinstance(found, bool) and found >= 0 and (
        not integer or float(found).is_integer())
    if not ok:
        shown = found if isinstance(found, str) else payload(found)
        kind = "integer" if integer else "number"
        raise StatesError("States.Runtime",
                          f"The {field}Path field refers to value \"{shown}\" which is not a "
                          f"valid {kind}: {path}")
    return float(found)


def item_input(plan: StatePlan, effective: JSON, item: JSON, index: int, ctx: dict[str, JSON],
               frame: Frame) -> JSON:
    """An iteration's input: ItemSelector (or legacy Parameters) with ``$$.Map.Item``."""
    state = plan.state
    assert isinstance(state, m.Map)
    selector = state.item_selector if not isinstance(state.item_selector, Unset) else (
        state.parameters)
    if isinstance(selector, Unset):
        return item
    item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
    if plan.jsonata:
        return render_jsonata(selector, {"input": effective, "context": item_ctx},
                              frame.variables, "ItemSelector")
    template = plan.extra.get("item_selector")
    if template is None:
        template = plan.extra["item_selector"] = compile_template(selector)
    return template.render(effective, item_ctx, frame.variables, field="ItemSelector")


IterationRunner = Callable[[int, JSON], Awaitable[JSON]]


async def iterate(inputs: list[JSON], settings: MapSettings, run_one: IterationRunner,
                  limit: int) -> tuple[list[JSON], list[StatesError]]:
    """Run iterations with at most ``limit`` in flight; stop early past the tolerance.

    Returns:
        The outputs (an error output ``{"Error", "Cause"}`` for a tolerated failure) and the
        errors in the order they happened.

    Raises:
        StatesError: the first error that took the failures over the tolerance.
    """
    total = len(inputs)
    results: list[JSON] = [None] * total
    errors: list[StatesError] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            try:
                results[i] = await run_one(i, inputs[i])
            except StatesError as err:
                errors.append(err)
                results[i] = {"Error": err.error, "Cause": err.cause}
                if settings.exceeded(len(errors), total):
                    raise

    workers = max(1, min(limit, total))
    if workers == 1:
        await worker()
    else:
        await _all_or_first_error([worker() for _ in range(workers)])
    return results, errors


@register_runner("Map")
async def run_map(it: Interpreter, frame: Frame, plan: StatePlan, data: JSON,
                  ctx: dict[str, JSON]) -> Outcome:
    """Map: run the item processor for each item (inline), or hand over to a Map Run."""
    state = plan.state
    assert isinstance(state, m.Map)
    try:
        effective, items = _items_or_reader(plan, data, ctx, frame)
        settings = map_settings(plan, effective, ctx, frame)
    except StatesError as err:
        if err.error == _QUERY:
            raise mark_state_failed(err, plan) from None
        raise
    if state.distributed or not isinstance(state.item_reader, Unset):
        from .distributed_map import run_map_run

        results = await run_map_run(it, frame, plan, effective, items, settings, ctx)
    else:
        results = await _inline(it, frame, plan, effective, items, settings, ctx)
    return _map_outcome(plan, frame, data, ctx, results)


def _items_or_reader(plan: StatePlan, data: JSON, ctx: dict[str, JSON],
                     frame: Frame) -> tuple[JSON, list[JSON]]:
    state = plan.state
    assert isinstance(state, m.Map)
    if not isinstance(state.item_reader, Unset):
        effective = data if plan.jsonata else plan.pipeline.select_input(data, ctx, frame.variables)
        return effective, []
    return map_items(plan, data, ctx, frame)


async def _inline(it: Interpreter, frame: Frame, plan: StatePlan, effective: JSON,
                  items: list[JSON], settings: MapSettings, ctx: dict[str, JSON]) -> list[JSON]:
    history = frame.run.history
    frame.prev = history.add("MapStateStarted", frame.prev, {"length": len(items)})
    processor = plan.children[0]
    inputs = [item_input(plan, effective, item, i, ctx, frame) for i, item in enumerate(items)]
    started = frame.prev

    async def run_one(index: int, value: JSON) -> JSON:
        ident = {"index": index, "name": plan.name}
        child = frame.child(history.add("MapIterationStarted", started, ident))
        try:
            out = await it.run_machine(child, processor, value)
        except StatesError:
            history.add("MapIterationFailed", child.prev, ident)
            raise
        except asyncio.CancelledError:
            history.add("MapIterationAborted", child.prev, ident)
            raise
        frame.prev = history.add("MapIterationSucceeded", child.prev, ident)
        return out

    limit = settings.max_concurrency or INLINE_CONCURRENCY
    try:
        results, _ = await iterate(inputs, settings, run_one, limit)
    except StatesError as err:
        frame.prev = history.last_id
        if settings.tolerates:
            raise mark_state_failed(StatesError(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded"), plan) from err
        raise mark_state_failed(err, plan) from None
    frame.prev = history.add("MapStateSucceeded", history.last_id)
    return results


def _map_outcome(plan: StatePlan, frame: Frame, data: JSON, ctx: dict[str, JSON],
                 results: JSON) -> Outcome:
    pipe = plan.pipeline
    if plan.jsonata:
        output, assigned = pipe.finish_jsonata(
            {"input": data, "context": ctx, "result": results}, results, frame.variables)
        return Outcome(output, plan.next, assigned)
    output, assigned = pipe.finish_jsonpath(data, results, ctx, frame.variables)
    return Outcome(output, plan.next, assigned)
