"""Definition-time checks of every expression in a definition, as CreateStateMachine does.

AWS compiles a definition's expressions when the state machine is created and rejects it
with every problem listed; :func:`expression_problems` does the same with the engine's own
compilers, so an expression that would fail to compile at run time is a
:class:`~kbflow.errors.Problem` located at its exact field instead:

* JSONPath states: every ``*Path`` field and Choice ``Variable`` (:func:`compile_path`;
  ``ErrorPath``/``CausePath`` may be intrinsic calls, ``ResultPath`` must be a Reference
  Path), every ``.$`` entry of a payload template (``Parameters``, ``ResultSelector``,
  ``ItemSelector``, ``Assign``, ``BatchInput``, ...: :func:`compile_template`, which parses
  intrinsic calls with :func:`parse_intrinsic`);
* JSONata states: every ``{% ... %}`` string in any field (:func:`compile_expression`);
* both: ``Assign`` may not name the reserved variable ``states`` (AWS: "Step Functions
  defines a single reserved variable called ``$states``").

Pointers are RFC 6901, e.g. ``/States/A/Parameters/x.$``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from kbflow.errors import Problem

from .intrinsics import IntrinsicSyntaxError, is_intrinsic, parse_intrinsic
from .jsonata import JsonataSyntaxError, compile_expression, is_jsonata, strip_jsonata
from .jsonpath import PathSyntaxError, compile_path
from .templates import TemplateSyntaxError, compile_template

__all__ = ["expression_problems"]

_TEMPLATES: Final = frozenset(
    {"Parameters", "ResultSelector", "ItemSelector", "Assign", "BatchInput", "Credentials"}
)
"""JSONPath fields whose ``.$`` keys are evaluated (payload templates)."""
_LITERAL: Final = frozenset({"Comment", "Result", "Type", "Resource", "Next", "Default",
                             "ErrorEquals", "End", "QueryLanguage"})
"""Fields never evaluated (``Result`` is a literal value)."""
_NESTED: Final = frozenset({"Branches", "ItemProcessor", "Iterator"})
_RESERVED: Final = frozenset({"states"})
_PATH_OR_INTRINSIC: Final = frozenset({"ErrorPath", "CausePath"})


def expression_problems(doc: Any) -> list[Problem]:
    """Every expression in ``doc`` that does not compile, and reserved variable names.

    Args:
        doc: an ASL document (a malformed one is walked as far as it goes).

    Returns:
        The problems, in document order.
    """
    return list(_machine(doc, "", "JSONPath"))


def _esc(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _language(doc: dict[str, Any], inherited: str) -> str:
    value = doc.get("QueryLanguage", inherited)
    return value if value in ("JSONPath", "JSONata") else inherited


def _machine(doc: Any, ptr: str, inherited: str) -> Iterator[Problem]:
    if not isinstance(doc, dict) or not isinstance(doc.get("States"), dict):
        return
    ql = _language(doc, inherited)
    for name, state in doc["States"].items():
        if isinstance(state, dict):
            yield from _state(state, f"{ptr}/States/{_esc(name)}", _language(state, ql))


def _state(state: dict[str, Any], ptr: str, ql: str) -> Iterator[Problem]:
    for key, value in state.items():
        where = f"{ptr}/{_esc(key)}"
        if key in _NESTED:
            branches = value if key == "Branches" and isinstance(value, list) else [value]
            for i, branch in enumerate(branches):
                yield from _machine(branch, f"{where}/{i}" if key == "Branches" else where, ql)
        elif ql == "JSONata":
            yield from _jsonata(key, value, where)
        else:
            yield from _jsonpath(key, value, where)


# --------------------------------------------------------------------------- JSONata


def _jsonata(key: str, value: Any, ptr: str) -> Iterator[Problem]:
    if key in _LITERAL:
        return
    if key == "Assign":
        yield from _reserved(value, ptr, suffix="")
    if isinstance(value, str) and is_jsonata(value):
        try:
            compile_expression(strip_jsonata(value))
        except JsonataSyntaxError as exc:
            yield Problem(ptr, f"invalid JSONata expression {exc.text!r}: {exc.reason}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _jsonata(k, v, f"{ptr}/{_esc(k)}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _jsonata("", v, f"{ptr}/{i}")


# --------------------------------------------------------------------------- JSONPath


def _jsonpath(key: str, value: Any, ptr: str) -> Iterator[Problem]:
    if key in _LITERAL:
        return
    if key in _TEMPLATES:
        if key == "Assign":
            yield from _reserved(value, ptr, suffix=".$")
        yield from _template(value, ptr)
    elif isinstance(value, str) and (key.endswith("Path") or key == "Variable"):
        problem = _path(key, value)
        if problem is not None:
            yield Problem(ptr, problem)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _jsonpath(k, v, f"{ptr}/{_esc(k)}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _jsonpath("", v, f"{ptr}/{i}")


def _path(key: str, text: str) -> str | None:
    """Why ``text`` is not a valid value for the path field ``key`` (None when it is)."""
    if key in _PATH_OR_INTRINSIC and is_intrinsic(text):
        try:
            parse_intrinsic(text)
        except IntrinsicSyntaxError as exc:
            return str(exc)
        return None
    try:
        path = compile_path(text)
    except PathSyntaxError as exc:
        return str(exc)
    if key == "ResultPath" and (path.root != "$" or not path.is_reference):
        return f"ResultPath {text!r} must be a Reference Path into the state input ($...)"
    return None


def _template(value: Any, ptr: str) -> Iterator[Problem]:
    """Compile each ``.$`` entry of a payload template on its own (for exact pointers)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _template(item, f"{ptr}/{i}")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        where = f"{ptr}/{_esc(key)}"
        if isinstance(key, str) and key.endswith(".$"):
            try:
                compile_template({key: item})
            except TemplateSyntaxError as exc:
                yield Problem(where, str(exc).split(": ", 1)[-1])
        else:
            yield from _template(item, where)


def _reserved(assign: Any, ptr: str, *, suffix: str) -> Iterator[Problem]:
    if not isinstance(assign, dict):
        return
    for key in assign:
        name = key[: -len(suffix)] if suffix and key.endswith(suffix) else key
        if name in _RESERVED:
            yield Problem(f"{ptr}/{_esc(key)}",
                          f"the variable name {name!r} is reserved (the $states variable)")
