"""Emit: the typed model → ASL JSON (``emit(parse(asl)) == asl``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from . import model as m
from .model import Unset

__all__ = ["emit"]

_TYPE_NAMES = {cls: name for name, cls in m.STATE_TYPES.items()}


def emit(node: Any) -> Any:
    """Turn a model object (state machine, state, rule, ...) back into ASL JSON.

    Args:
        node: any object of :mod:`kbflow.runtime.asl.model`.

    Returns:
        The JSON value (dicts, lists, scalars), equal to the parsed document.
    """
    if isinstance(node, m.ChoiceRule):
        return _choice_rule(node)
    if isinstance(node, m.Comparison):
        out = {"Variable": node.variable, node.operator: node.value}
        return _with_comment(out, node.comment)
    if isinstance(node, m.Combinator):
        body = emit(node.rules[0]) if node.operator == "Not" else [emit(r) for r in node.rules]
        return _with_comment({node.operator: body}, node.comment)
    if is_dataclass(node):
        return _record(node)
    if isinstance(node, tuple):
        return [emit(x) for x in node]
    if isinstance(node, Mapping):
        return {k: emit(v) for k, v in node.items()}
    return node


def _record(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    type_name = _TYPE_NAMES.get(type(node))
    if type_name is not None:
        out["Type"] = type_name
    for fld in fields(node):
        value = getattr(node, fld.name)
        if "asl" not in fld.metadata or isinstance(value, Unset):
            continue
        kind = fld.metadata["kind"]
        if kind in ("json", "object"):
            out[fld.metadata["asl"]] = value
        elif kind == "strlist":
            out[fld.metadata["asl"]] = list(value)
        else:
            out[fld.metadata["asl"]] = emit(value)
    return out


def _choice_rule(rule: m.ChoiceRule) -> dict[str, Any]:
    out: dict[str, Any] = {} if rule.rule is None else emit(rule.rule)
    for key, value in (("Condition", rule.condition), ("Assign", rule.assign),
                       ("Output", rule.output), ("Comment", rule.comment)):
        if not isinstance(value, Unset):
            out[key] = value
    out["Next"] = rule.next
    return out


def _with_comment(out: dict[str, Any], comment: Any) -> dict[str, Any]:
    if not isinstance(comment, Unset):
        out["Comment"] = comment
    return out
