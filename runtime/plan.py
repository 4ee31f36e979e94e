"""Compiled state machines: the model plus everything the interpreter precomputes once.

A :class:`MachinePlan` is built when a state machine is registered: each state gets a
:class:`StatePlan` with its effective query language, compiled paths and templates and its
history event names, so running a state does no parsing and no string building.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from .asl import model as m
from .asl.emit import emit
from .asl.model import UNSET, Unset
from .dataflow import Pipeline

__all__ = ["MachinePlan", "StatePlan", "compile_machine"]

# ``$states`` used as a whole or through ``.context`` (not just .input/.result/.errorOutput).
_STATES_CONTEXT: Final = re.compile(r"\$states(?!\.(?:input|result|errorOutput)\b)")


class StatePlan:
    """One state, ready to run.

    Attributes:
        name: the state name.
        state: the model state.
        kind: the ASL ``Type``.
        jsonata: the effective query language is JSONata.
        next: the next state name (None when the state ends its machine).
        pipeline: the compiled input/output fields.
        entered, exited: the history event types (``PassStateEntered``...).
        children: compiled branches (Parallel) or item processor (Map).
    """

    __slots__ = (
        "name", "state", "kind", "jsonata", "next", "pipeline", "entered", "exited",
        "children", "retriers", "catchers", "extra", "uses_context",
    )

    def __init__(self, name: str, state: m.State, inherited: str) -> None:
        self.name = name
        self.state = state
        self.kind = type(state).__name__
        ql = state.query_language if not isinstance(state.query_language, Unset) else inherited
        self.jsonata = ql == "JSONata"
        nxt = getattr(state, "next", UNSET)
        self.next: str | None = nxt if isinstance(nxt, str) else None
        self.pipeline = Pipeline(state, jsonata=self.jsonata)
        self.entered = f"{self.kind}StateEntered"
        self.exited = f"{self.kind}StateExited"
        self.children: tuple[MachinePlan, ...] = ()
        retry = getattr(state, "retry", UNSET)
        catch = getattr(state, "catch", UNSET)
        self.retriers: tuple[m.Retrier, ...] = () if isinstance(retry, Unset) else retry
        self.catchers: tuple[m.Catcher, ...] = () if isinstance(catch, Unset) else catch
        self.extra: dict[str, Any] = {}
        # The context object is only built for states whose fields can read it.
        shallow = {k: v for k, v in emit(state).items() if k not in ("Branches", "ItemProcessor",
                                                                    "Iterator")}
        text = json.dumps(shallow)
        self.uses_context = "$$" in text or _STATES_CONTEXT.search(text) is not None
        ql_name = "JSONata" if self.jsonata else "JSONPath"
        if isinstance(state, m.Parallel):
            self.children = tuple(_compile(b.start_at, b.states, b.query_language, ql_name)
                                  for b in state.branches)
        elif isinstance(state, m.Map):
            proc = state.processor
            self.children = (_compile(proc.start_at, proc.states, proc.query_language, ql_name),)


class MachinePlan:
    """A compiled state machine (top level, Parallel branch or Map item processor)."""

    __slots__ = ("start_at", "states")

    def __init__(self, start_at: str, states: Mapping[str, StatePlan]) -> None:
        self.start_at = start_at
        self.states = states


def _compile(start_at: str, states: Mapping[str, m.State], ql: Any, inherited: str) -> MachinePlan:
    effective = ql if not isinstance(ql, Unset) else inherited
    return MachinePlan(start_at, {n: StatePlan(n, s, effective) for n, s in states.items()})


def compile_machine(machine: m.StateMachine) -> MachinePlan:
    """Compile a parsed state machine.

    Args:
        machine: the parsed definition.

    Returns:
        The plan the interpreter runs.
    """
    return _compile(machine.start_at, machine.states, machine.query_language, "JSONPath")
