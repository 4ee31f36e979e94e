"""Strict parser: ASL JSON → the typed model of :mod:`kbflow.runtime.asl.model`.

Unknown fields, wrong types and illegal combinations are collected (never just the first) and
raised as one :class:`kbflow.errors.DefinitionError` whose problems carry JSON pointers; so are
expressions (paths, templates, intrinsics, JSONata) that do not compile
(:mod:`kbflow.runtime.asl.expressions`), as CreateStateMachine rejects them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, Final

from kbflow.errors import DefinitionError, Problem

from . import model as m
from .expressions import expression_problems
from .model import UNSET, Unset

__all__ = ["parse", "parse_text"]

_JSONPATH_ONLY: Final = (
    "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath",
    "SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "ErrorPath",
    "CausePath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath", "Iterator",
)
_JSONATA_ONLY: Final = ("Arguments", "Output", "Items")
_TERMINAL: Final = (m.Succeed, m.Fail)


def parse_text(text: str) -> m.StateMachine:
    """Parse ASL JSON text.

    Args:
        text: the definition as JSON.

    Returns:
        The state machine.

    Raises:
        DefinitionError: the text is not JSON or not a valid definition.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise DefinitionError([Problem("", f"not valid JSON: {exc}")]) from exc
    return parse(doc)


def parse(doc: Any) -> m.StateMachine:
    """Parse an ASL document (already decoded from JSON).

    Args:
        doc: the definition.

    Returns:
        The state machine.

    Raises:
        DefinitionError: listing every problem found.
    """
    parser = _Parser()
    machine = parser.machine(doc, "", None, top=True)
    problems = parser.problems + expression_problems(doc)
    if problems:
        raise DefinitionError(problems)
    assert isinstance(machine, m.StateMachine)
    return machine


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_jsonata(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("{%") and v.endswith("%}")


_SCALAR_CHECKS: Final[Mapping[str, tuple[Callable[[Any], bool], str]]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "a boolean"),
    "number": (_is_num, "a number"),
    "posint": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "natint": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "json": (lambda v: True, "JSON"),
    "object": (lambda v: isinstance(v, dict) or _is_jsonata(v), "an object"),
    "path": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "strlist": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"
    ),
    "posint_or_jsonata": (
        lambda v: (_is_int(v) and v > 0) or _is_jsonata(v), "a positive integer"
    ),
    "natint_or_jsonata": (
        lambda v: (_is_int(v) and v >= 0) or _is_jsonata(v), "a non-negative integer"
    ),
    "percent_or_jsonata": (
        lambda v: (_is_num(v) and 0 <= v <= 100) or _is_jsonata(v), "a number from 0 to 100"
    ),
}

_NESTED: Final[Mapping[str, type[Any]]] = {
    "Retrier": m.Retrier,
    "Catcher": m.Catcher,
    "ReaderConfig": m.ReaderConfig,
    "ItemReader": m.ItemReader,
    "ItemBatcher": m.ItemBatcher,
    "ResultWriter": m.ResultWriter,
    "ProcessorConfig": m.ProcessorConfig,
    "ItemProcessor": m.ItemProcessor,
    "StateMachine": m.StateMachine,
}


class _Parser:
    """Collects problems while building the model."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, pointer: str, message: str) -> None:
        self.problems.append(Problem(pointer, message))

    # ---------------------------------------------------------------- generic record parsing

    def record(
        self, cls: type[Any], doc: Any, ptr: str, ql: str | None, skip: tuple[str, ...] = ()
    ) -> Any:
        """Build ``cls`` from ``doc`` by its fields' metadata; report every bad field."""
        if not isinstance(doc, dict):
            self.bad(ptr, f"must be an object, got {type(doc).__name__}")
            return None
        known = {f.metadata["asl"]: f for f in fields(cls) if "asl" in f.metadata}
        for key in doc:
            if key not in known and key not in skip:
                self.bad(f"{ptr}/{_esc(key)}", f"unknown field {key!r}")
        kwargs: dict[str, Any] = {}
        for key, fld in known.items():
            if key in doc:
                kwargs[fld.name] = self.value(fld.metadata["kind"], doc[key], f"{ptr}/{key}", ql)
        return cls(**kwargs)

    def value(self, kind: str, v: Any, ptr: str, ql: str | None) -> Any:
        if kind in _SCALAR_CHECKS:
            check, what = _SCALAR_CHECKS[kind]
            if not check(v):
                self.bad(ptr, f"must be {what}, got {json.dumps(v)[:60]}")
                return UNSET
            return tuple(v) if kind == "strlist" else v
        if kind == "states":
            return self.states(v, ptr, ql)
        if kind == "choices":
            return self.choices(v, ptr, ql)
        if kind.startswith("nested:"):
            name = kind.split(":", 1)[1]
            if name == "ItemProcessor":
                return self.item_processor(v, ptr, ql)
            out = self.record(_NESTED[name], v, ptr, ql)
            return UNSET if out is None else out
        if kind.startswith("list:"):
            name = kind.split(":", 1)[1]
            if not isinstance(v, list):
                self.bad(ptr, "must be an array")
                return UNSET
            if name == "StateMachine":
                items = [self.machine(x, f"{ptr}/{i}", ql) for i, x in enumerate(v)]
            else:
                items = [self.record(_NESTED[name], x, f"{ptr}/{i}", ql) for i, x in enumerate(v)]
            return tuple(x for x in items if x is not None)
        raise AssertionError(kind)

    # ---------------------------------------------------------------- machines and states

    def machine(self, doc: Any, ptr: str, ql: str | None, *, top: bool = False) -> Any:
        if not isinstance(doc, dict):
            self.bad(ptr, "a state machine must be an object")
            return None
        ql = self.query_language(doc, ptr, ql)
        skip = () if top else ("Version", "TimeoutSeconds")
        for key in skip:
            if key in doc:
                self.bad(f"{ptr}/{key}", f"unknown field {key!r}")
        sm = self.record(m.StateMachine, doc, ptr, ql)
        self.require(doc, ptr, "StartAt", "States")
        if sm is not None and isinstance(sm.states, dict) and isinstance(sm.start_at, str):
            self.graph(sm.start_at, sm.states, ptr)
        return sm

    def item_processor(self, doc: Any, ptr: str, ql: str | None) -> Any:
        if not isinstance(doc, dict):
            self.bad(ptr, "must be an object")
            return UNSET
        ql = self.query_language(doc, ptr, ql)
        proc = self.record(m.ItemProcessor, doc, ptr, ql)
        self.require(doc, ptr, "StartAt", "States")
        if isinstance(proc.states, dict) and isinstance(proc.start_at, str):
            self.graph(proc.start_at, proc.states, ptr)
        return proc

    def query_language(self, doc: Mapping[str, Any], ptr: str, inherited: str | None) -> str:
        ql = doc.get("QueryLanguage", inherited or "JSONPath")
        if ql not in ("JSONPath", "JSONata"):
            self.bad(f"{ptr}/QueryLanguage", f"must be 'JSONPath' or 'JSONata', got {ql!r}")
            return inherited or "JSONPath"
        return str(ql)

    def require(self, doc: Mapping[str, Any], ptr: str, *keys: str) -> None:
        for key in keys:
            if key not in doc:
                self.bad(ptr, f"missing required field {key!r}")

    def states(self, doc: Any, ptr: str, ql: str | None) -> dict[str, m.State]:
        if not isinstance(doc, dict) or not doc:
            self.bad(ptr, "States must be a non-empty object")
            return {}
        out: dict[str, m.State] = {}
        for name, body in doc.items():
            st = self.state(name, body, f"{ptr}/{_esc(name)}", ql)
            if st is not None:
                out[name] = st
        return out

    def state(self, name: str, doc: Any, ptr: str, ql: str | None) -> m.State | None:
        if len(name) > 80:
            self.bad(ptr, "state names must be at most 80 characters")
        if not isinstance(doc, dict):
            self.bad(ptr, "a state must be an object")
            return None
        cls = m.STATE_TYPES.get(doc.get("Type"))  # type: ignore[arg-type]
        if cls is None:
            self.bad(f"{ptr}/Type", f"unknown state type {doc.get('Type')!r}")
            return None
        ql = self.query_language(doc, ptr, ql)
        st: m.State = self.record(cls, doc, ptr, ql, skip=("Type",))
        self.check_query_language_fields(doc, ptr, ql)
        self.check_transition(st, doc, ptr)
        self.check_state(st, doc, ptr)
        return st

    # ---------------------------------------------------------------- rules

    def check_query_language_fields(self, doc: Mapping[str, Any], ptr: str, ql: str) -> None:
        illegal = _JSONPATH_ONLY if ql == "JSONata" else _JSONATA_ONLY
        for key in illegal:
            if key in doc:
                self.bad(f"{ptr}/{key}", f"field {key!r} is not supported in {ql} states")
        for i, catcher in enumerate(doc.get("Catch") or []):
            if isinstance(catcher, dict):
                key = "ResultPath" if ql == "JSONata" else "Output"
                if key in catcher:
                    self.bad(f"{ptr}/Catch/{i}/{key}", f"{key!r} is not supported in {ql} states")

    def check_transition(self, st: m.State, doc: Mapping[str, Any], ptr: str) -> None:
        if isinstance(st, m.Choice | m.Succeed | m.Fail):
            return
        has_next, has_end = "Next" in doc, doc.get("End") is True
        if has_next == has_end:
            self.bad(ptr, "a state must have exactly one of 'Next' or 'End: true'")

    def check_state(self, st: m.State, doc: Mapping[str, Any], ptr: str) -> None:
        self.exclusive(doc, ptr, ("TimeoutSeconds", "TimeoutSecondsPath"))
        self.exclusive(doc, ptr, ("HeartbeatSeconds", "HeartbeatSecondsPath"))
        self.exclusive(doc, ptr, ("Error", "ErrorPath"))
        self.exclusive(doc, ptr, ("Cause", "CausePath"))
        self.exclusive(doc, ptr, ("MaxConcurrency", "MaxConcurrencyPath"))
        self.exclusive(doc, ptr, ("ItemProcessor", "Iterator"))
        self.exclusive(doc, ptr, ("ItemSelector", "Parameters"))
        self.exclusive(doc, ptr, ("Items", "ItemsPath"))
        if isinstance(st, m.Wait):
            n = sum(k in doc for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath"))
            if n != 1:
                self.bad(ptr, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, "
                         "TimestampPath")
        if isinstance(st, m.Task):
            self.require(doc, ptr, "Resource")
        if isinstance(st, m.Parallel):
            self.require(doc, ptr, "Branches")
        if isinstance(st, m.Map) and "ItemProcessor" not in doc and "Iterator" not in doc:
            self.bad(ptr, "a Map state needs 'ItemProcessor'")
        if isinstance(st, m.Choice) and not st.choices:
            self.bad(f"{ptr}/Choices", "a Choice state needs a non-empty 'Choices' array")
        for key in ("Retry", "Catch"):
            for i, entry in enumerate(doc.get(key) or []):
                if isinstance(entry, dict):
                    self.error_equals(entry.get("ErrorEquals"), f"{ptr}/{key}/{i}/ErrorEquals")
                    self.require(entry, f"{ptr}/{key}/{i}", "ErrorEquals")
                    if key == "Catch":
                        self.require(entry, f"{ptr}/{key}/{i}", "Next")
            self.all_last(doc.get(key), f"{ptr}/{key}")

    def exclusive(self, doc: Mapping[str, Any], ptr: str, keys: tuple[str, str]) -> None:
        if keys[0] in doc and keys[1] in doc:
            self.bad(ptr, f"'{keys[0]}' and '{keys[1]}' are mutually exclusive")

    def error_equals(self, names: Any, ptr: str) -> None:
        if not isinstance(names, list) or not names:
            self.bad(ptr, "ErrorEquals must be a non-empty array of strings")
            return
        if "States.ALL" in names and len(names) != 1:
            self.bad(ptr, "States.ALL must appear alone in the ErrorEquals array")

    def all_last(self, entries: Any, ptr: str) -> None:
        if not isinstance(entries, list):
            return
        for i, entry in enumerate(entries[:-1]):
            if isinstance(entry, dict) and "States.ALL" in (entry.get("ErrorEquals") or []):
                self.bad(f"{ptr}/{i}", "a retrier or catcher with States.ALL must be the last one")

    def graph(self, start: str, states: Mapping[str, m.State], ptr: str) -> None:
        if start not in states:
            self.bad(f"{ptr}/StartAt", f"StartAt names a state that does not exist: {start!r}")
        for name, st in states.items():
            for target, where in _targets(st):
                if target not in states:
                    self.bad(f"{ptr}/States/{_esc(name)}/{where}",
                             f"transition to a state that does not exist: {target!r}")

    # ---------------------------------------------------------------- choice

    def choices(self, doc: Any, ptr: str, ql: str | None) -> tuple[m.ChoiceRule, ...]:
        if not isinstance(doc, list):
            self.bad(ptr, "Choices must be an array")
            return ()
        out = []
        for i, rule in enumerate(doc):
            parsed = self.choice_rule(rule, f"{ptr}/{i}", ql)
            if parsed is not None:
                out.append(parsed)
        return tuple(out)

    def choice_rule(self, doc: Any, ptr: str, ql: str | None) -> m.ChoiceRule | None:
        if not isinstance(doc, dict):
            self.bad(ptr, "a choice rule must be an object")
            return None
        nxt = doc.get("Next")
        if not isinstance(nxt, str):
            self.bad(f"{ptr}/Next", "a choice rule needs a string 'Next'")
            nxt = ""
        extra = {k: doc[k] for k in ("Assign", "Output", "Comment") if k in doc}
        if "Output" in extra and ql != "JSONata":
            self.bad(f"{ptr}/Output", "'Output' is not supported in JSONPath states")
        if ql == "JSONata":
            for key in doc:
                if key not in ("Condition", "Next", "Assign", "Output", "Comment"):
                    self.bad(f"{ptr}/{_esc(key)}", f"unknown field {key!r}")
            if "Condition" not in doc:
                self.bad(ptr, "a JSONata choice rule needs 'Condition'")
            return m.ChoiceRule(next=nxt, condition=doc.get("Condition", UNSET),
                                assign=extra.get("Assign", UNSET),
                                output=extra.get("Output", UNSET),
                                comment=extra.get("Comment", UNSET))
        body = {k: v for k, v in doc.items() if k not in ("Next", "Assign", "Output")}
        rule = self.rule(body, ptr)
        return m.ChoiceRule(next=nxt, rule=rule, assign=extra.get("Assign", UNSET),
                            comment=UNSET)

    def rule(self, doc: Any, ptr: str) -> m.Rule | None:
        if not isinstance(doc, dict):
            self.bad(ptr, "a choice rule must be an object")
            return None
        comment = doc.get("Comment", UNSET)
        body = {k: v for k, v in doc.items() if k != "Comment"}
        for op in ("And", "Or", "Not"):
            if op in body:
                return self.combinator(op, body, ptr, comment)
        ops = [k for k in body if k in m.COMPARATORS]
        for key in body:
            if key != "Variable" and key not in m.COMPARATORS:
                self.bad(f"{ptr}/{_esc(key)}", f"unknown field {key!r}")
        if len(ops) != 1 or not isinstance(body.get("Variable"), str):
            self.bad(ptr, "a data-test rule needs a string 'Variable' and exactly one comparator")
            return None
        op = ops[0]
        self.operand(op, body[op], f"{ptr}/{op}")
        return m.Comparison(variable=body["Variable"], operator=op, value=body[op],
                            comment=comment)

    def combinator(self, op: str, body: Mapping[str, Any], ptr: str, comment: Any) -> m.Rule | None:
        if len(body) != 1:
            self.bad(ptr, f"'{op}' cannot be combined with other fields")
        sub = body[op]
        if op == "Not":
            inner = self.rule(sub, f"{ptr}/Not")
            return None if inner is None else m.Combinator("Not", (inner,), comment)
        if not isinstance(sub, list) or not sub:
            self.bad(f"{ptr}/{op}", f"'{op}' must be a non-empty array")
            return None
        rules = [self.rule(r, f"{ptr}/{op}/{i}") for i, r in enumerate(sub)]
        return m.Combinator(op, tuple(r for r in rules if r is not None), comment)  # type: ignore[arg-type]

    def operand(self, op: str, v: Any, ptr: str) -> None:
        if op.endswith("Path"):
            ok, what = isinstance(v, str), "a path string"
        elif op.startswith("Is"):
            ok, what = isinstance(v, bool), "a boolean"
        elif op.startswith("Numeric"):
            ok, what = _is_num(v), "a number"
        elif op.startswith("Boolean"):
            ok, what = isinstance(v, bool), "a boolean"
        else:
            ok, what = isinstance(v, str), "a string"
        if not ok:
            self.bad(ptr, f"{op} must be {what}, got {json.dumps(v)[:60]}")


def _targets(st: m.State) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    nxt = getattr(st, "next", UNSET)
    if isinstance(nxt, str):
        out.append((nxt, "Next"))
    if isinstance(st, m.Choice):
        out += [(r.next, f"Choices/{i}/Next") for i, r in enumerate(st.choices)]
        if isinstance(st.default, str):
            out.append((st.default, "Default"))
    catch = getattr(st, "catch", UNSET)
    if not isinstance(catch, Unset):
        out += [(c.next, f"Catch/{i}/Next") for i, c in enumerate(catch) if c is not None]
    return out


def _esc(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
