"""AWS Step Functions' JSONPath dialect (Jayway-flavoured), precompiled for speed.

API summary (for the engine)::

    p = compile_path("$.a.b")          # cached; PathSyntaxError on bad syntax
    p.get(data)                        # definite path -> the value; PathNotFound if missing
    compile_path("$.a[*].b").get(d)    # indefinite path -> list (possibly empty)
    p.is_definite, p.is_reference      # reference path = only .name / ['name'] / [n]
    p.root                             # "$" (data), "$$" (context object) or a variable name
    p.normalized                       # Jayway form "$['a']['b']" (used in AWS error messages)
    set_path(data, compile_path("$.r"), value)   # ResultPath: returns new data, copy-on-write
    resolve("$$.Execution.Id", data, context, variables)   # picks the root, then get()

Supported syntax (as AWS/Jayway): ``$``, ``$.a``, ``$['a b']``, ``$["a"]``, ``$.a[0]``,
``$.a[-1]`` (from the end), ``$[*]``/``$.*``, slices ``[1:3]``/``[:2]``/``[-2:]``/``[::2]``,
index unions ``[0,2]``, name unions ``['a','b']`` (a leaf name union returns an object of the
names present, as Jayway does), filters ``[?(@.x > 1 && @.y == 'a' || !@.z)]`` with
``== != < <= > >=``, ``=~ /regex/i``, ``in``/``nin [..]``, string/number/true/false/null
literals and ``@``/``$`` sub-paths (see :mod:`.jsonpath_filter`), and deep scan ``..name``/
``..*``/``..[0]``. The context object is ``$$``, a workflow variable ``$name`` (``$name.f``).

The compiled steps and their evaluation (incl. Jayway's deep-scan walk) live in
:mod:`.jsonpath_steps`, filter predicates in :mod:`.jsonpath_filter`.

Quirks kept from AWS: indefinite paths skip elements lacking the next key (``$.a[*].b`` over
``[{"b": 1}, {}]`` is ``[1]``) and never raise; a definite path raises :class:`PathNotFound`
when any step is missing, indexes a non-array or reads a field of a non-object.

Errors: ``PathNotFound.detail`` is Jayway's ``No results for path: $['x']`` (AWS: ``Invalid
path '$.x' : <detail>``); :class:`ResultPathError` reads ``Unable to apply ReferencePath $.a.b
to input {"a":1}``, its ASL error (``.error``) being ``States.ResultPathMatchFailure``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from kbflow.errors import KbflowError

from .jsonpath_filter import MISSING, FilterParser, Operand, reference_operand
from .jsonpath_steps import Field, Filter, Index, Scan, Slice, Step, Union, Wildcard, select_all

__all__ = [
    "JSON",
    "JsonPath",
    "PathNotFound",
    "PathSyntaxError",
    "ResultPathError",
    "compile_path",
    "resolve",
    "set_path",
]

JSON: TypeAlias = Any
"""A JSON value as produced by :func:`json.loads` (dict, list, str, int, float, bool, None)."""


class PathSyntaxError(KbflowError):
    """A JSONPath expression is not valid syntax."""

    def __init__(self, path: str, message: str, position: int = 0) -> None:
        self.path = path
        self.position = position
        self.reason = message
        super().__init__(f"invalid JSONPath {path!r} at {position}: {message}")


class PathNotFound(KbflowError):
    """A definite path does not resolve in the data it was applied to."""

    def __init__(self, path: str, normalized: str, detail: str | None = None) -> None:
        self.path = path
        self.normalized = normalized
        self.detail = detail or f"No results for path: {normalized}"
        """Jayway's wording, as AWS embeds it in ``Invalid path '<p>' : <detail>`` causes:
        ``Missing property in path $['a']`` when an intermediate field is absent, otherwise
        ``No results for path: $['a']['b']``."""
        super().__init__(self.detail)


class ResultPathError(KbflowError):
    """``set_path`` cannot place a value (an intermediate value is not a container).

    The message is AWS's cause, ``Unable to apply ReferencePath <path> to input <json>``;
    :attr:`error` is the ASL error name AWS reports for it.
    """

    error: str = "States.ResultPathMatchFailure"

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


_MISSING: Final = MISSING


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A compiled JSONPath. Build with :func:`compile_path`."""

    text: str
    """The source text, e.g. ``$.a.b``."""
    root: str
    """``"$"`` for the state data, ``"$$"`` for the context object, else a variable name."""
    steps: tuple[Step, ...]
    is_definite: bool
    """True when the path selects at most one node (returns a value, not a list)."""
    is_reference: bool
    """True when the path only uses ``.name``, ``['name']`` and ``[n]`` (a Reference Path)."""
    _keys: tuple[str | int, ...] | None

    @property
    def normalized(self) -> str:
        """The Jayway-normalised form, e.g. ``$['a']['b'][0]``."""
        return "$" + "".join(s.text() for s in self.steps)

    def get(self, data: JSON) -> JSON:
        """Apply the path to ``data`` (the root value chosen by the caller).

        Returns the value for a definite path (raises :class:`PathNotFound` when missing) or
        the list of matches for an indefinite path.
        """
        if self.is_definite:
            keys = self._keys
            if keys is not None:
                return _get_keys(self, data, keys)
            return _get_definite_mixed(self, data)
        return select_all(data, self.steps, 0, data)


def _get_keys(path: JsonPath, data: JSON, keys: tuple[str | int, ...]) -> JSON:
    """Fast path: a chain of ``Field``/``Index`` steps."""
    for i, key in enumerate(keys):
        if type(key) is str:
            if type(data) is not dict:
                raise PathNotFound(path.text, path.normalized)
            value = data.get(key, _MISSING)
        else:
            if type(data) is not list:
                raise PathNotFound(path.text, path.normalized)
            try:
                value = data[key]  # type: ignore[index]
            except IndexError:
                raise PathNotFound(path.text, path.normalized) from None
        if value is _MISSING:
            raise _not_found(path, i)
        data = value
    return data


def _not_found(path: JsonPath, position: int) -> PathNotFound:
    """Jayway reports a missing *intermediate* field as ``Missing property in path``."""
    steps = path.steps
    if position == len(steps) - 1:
        return PathNotFound(path.text, path.normalized)
    prefix = "$" + "".join(s.text() for s in steps[: position + 1])
    return PathNotFound(path.text, path.normalized, f"Missing property in path {prefix}")


def _get_definite_mixed(path: JsonPath, data: JSON) -> JSON:
    """A definite path ending in a leaf name union (Jayway merges it into an object)."""
    *head, last = path.steps
    current = select_all(data, tuple(head), 0, data) if head else [data]
    if not current or not isinstance(last, Union):
        raise PathNotFound(path.text, path.normalized)
    node = current[0]
    if not isinstance(node, dict):
        raise PathNotFound(path.text, path.normalized)
    return {k: node[k] for k in last.keys if isinstance(k, str) and k in node}


def set_path(data: JSON, path: JsonPath, value: JSON) -> JSON:
    """Return ``data`` with ``value`` placed at the reference ``path`` (ResultPath semantics).

    ``$`` replaces the whole input. Missing intermediate object fields are created as
    objects; only the containers on the way are copied, ``data`` itself is never mutated.

    Raises:
        ResultPathError: the path is not a reference path, or a step meets a value of the
            wrong type (a field of a non-object, an index of a non-array or out of range).
    """
    if not path.is_reference:
        raise ResultPathError(path.text, f"ResultPath '{path.text}' is not a reference path")
    try:
        return _set_from(data, path, 0, value)
    except _Unplaceable:
        shown = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        raise ResultPathError(
            path.text, f"Unable to apply ReferencePath {path.text} to input {shown}"
        ) from None


class _Unplaceable(Exception):
    """Internal: a step of a ResultPath met a value it cannot descend into."""


def _set_from(node: JSON, path: JsonPath, i: int, value: JSON) -> JSON:
    if i == len(path.steps):
        return value
    step = path.steps[i]
    if isinstance(step, Field):
        if node is _MISSING:
            node = {}
        if not isinstance(node, dict):
            raise _Unplaceable
        copy = dict(node)
        copy[step.name] = _set_from(node.get(step.name, _MISSING), path, i + 1, value)
        return copy
    assert isinstance(step, Index)
    if not isinstance(node, list) or not -len(node) <= step.index < len(node):
        raise _Unplaceable
    items = list(node)
    items[step.index] = _set_from(node[step.index], path, i + 1, value)
    return items


def resolve(
    text: str | JsonPath,
    data: JSON,
    context: JSON,
    variables: Mapping[str, JSON] | None = None,
) -> JSON:
    """Evaluate a path against the root it names: ``$`` data, ``$$`` context, ``$var``.

    Raises:
        PathSyntaxError: invalid path text.
        PathNotFound: a definite path is missing, or the variable is not defined.
    """
    path = compile_path(text) if isinstance(text, str) else text
    root = path.root
    if root == "$":
        return path.get(data)
    if root == "$$":
        return path.get(context)
    if variables is None or root not in variables:
        raise PathNotFound(path.text, "$" + root + path.normalized[1:])
    return path.get(variables[root])


@functools.lru_cache(maxsize=4096)
def compile_path(text: str) -> JsonPath:
    """Compile JSONPath ``text`` (cached).

    Raises:
        PathSyntaxError: the text is not a valid Step Functions JSONPath.
    """
    if not isinstance(text, str):
        raise PathSyntaxError(repr(text), "a path must be a string")
    parser = _Parser(text)
    root = parser.root()
    steps = parser.steps()
    return _build(text, root, steps)


def _build(text: str, root: str, parsed: tuple[Step, ...]) -> JsonPath:
    last = len(parsed) - 1
    steps = tuple(
        Scan(s.selector, leaf=False) if isinstance(s, Scan) and i < last else s
        for i, s in enumerate(parsed)
    )
    reference = all(isinstance(s, Field | Index) for s in steps)
    leaf_union = (
        bool(steps)
        and isinstance(steps[-1], Union)
        and all(isinstance(k, str) for k in steps[-1].keys)
        and all(isinstance(s, Field | Index) for s in steps[:-1])
    )
    keys = _reference_keys(steps) if reference else None
    return JsonPath(
        text=text,
        root=root,
        steps=steps,
        is_definite=reference or leaf_union,
        is_reference=reference,
        _keys=keys,
    )


def _reference_keys(steps: tuple[Step, ...]) -> tuple[str | int, ...]:
    keys: list[str | int] = []
    for step in steps:
        assert isinstance(step, Field | Index)
        keys.append(step.name if isinstance(step, Field) else step.index)
    return tuple(keys)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOT_NAME = re.compile(r"[^.\[\]()\s]+")
_INT = re.compile(r"-?\d+")


class _Parser:
    """Recursive-descent parser for one path (and the sub-paths inside filters)."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos

    # -- helpers
    def fail(self, message: str) -> PathSyntaxError:
        return PathSyntaxError(self.text, message, self.pos)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def eat(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str) -> None:
        if not self.eat(s):
            raise self.fail(f"expected {s!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def match(self, pattern: re.Pattern[str]) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group(0)

    # -- grammar
    def root(self) -> str:
        if self.eat("$$"):
            return "$$"
        self.expect("$")
        name = self.match(_IDENT)
        return "$" if name is None else name

    def steps(self) -> tuple[Step, ...]:
        steps: list[Step] = []
        while self.pos < len(self.text):
            steps.append(self.step())
        return tuple(steps)

    def step(self) -> Step:
        if self.eat(".."):
            return Scan(self.selector_after_dot())
        if self.eat("."):
            return self.selector_after_dot()
        if self.peek("["):
            return self.bracket()
        raise self.fail("expected '.' or '['")

    def selector_after_dot(self) -> Field | Index | Wildcard | Slice | Union | Filter:
        if self.eat("*"):
            return Wildcard()
        if self.peek("["):  # "$.[0]" is accepted by AWS
            step = self.bracket()
            assert not isinstance(step, Scan)
            return step
        name = self.match(_DOT_NAME)
        if name is None:
            raise self.fail("expected a property name")
        if self.peek("("):
            raise self.fail("JSONPath functions are not supported")
        return Field(name)

    def bracket(self) -> Field | Index | Wildcard | Slice | Union | Filter:
        self.expect("[")
        self.skip_ws()
        if self.eat("*"):
            result: Field | Index | Wildcard | Slice | Union | Filter = Wildcard()
        elif self.eat("?("):
            start = self.pos
            predicate = FilterParser(self).expression()
            result = Filter(self.text[start : self.pos], predicate)
            self.skip_ws()
            self.expect(")")
        elif self.peek("'") or self.peek('"'):
            result = self.names()
        else:
            result = self.indices()
        self.skip_ws()
        self.expect("]")
        return result

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif ch == quote:
                return "".join(out)
            else:
                out.append(ch)
        raise self.fail("unterminated string")

    def names(self) -> Field | Union:
        names = [self.quoted()]
        self.skip_ws()
        while self.eat(","):
            self.skip_ws()
            if not (self.peek("'") or self.peek('"')):
                raise self.fail("expected a quoted name")
            names.append(self.quoted())
            self.skip_ws()
        return Field(names[0]) if len(names) == 1 else Union(tuple(names))

    def opt_int(self) -> int | None:
        self.skip_ws()
        text = self.match(_INT)
        self.skip_ws()
        return None if text is None else int(text)

    def indices(self) -> Index | Slice | Union:
        first = self.opt_int()
        if self.peek(":"):
            self.eat(":")
            end = self.opt_int()
            step = self.opt_int() if self.eat(":") else None
            if step == 0:
                raise self.fail("slice step cannot be zero")
            return Slice(first, end, step)
        if first is None:
            raise self.fail("expected an index, a slice, '*', a quoted name or a filter")
        values = [first]
        while self.eat(","):
            value = self.opt_int()
            if value is None:
                raise self.fail("expected an index")
            values.append(value)
        return Index(first) if len(values) == 1 else Union(tuple(values))

    def sub_path_operand(self, from_current: bool) -> Operand:
        """Parse the steps of an ``@``/``$`` sub-path inside a filter into an evaluator."""
        steps: list[Step] = []
        while self.peek(".") or self.peek("["):
            steps.append(self.step())
        compiled = tuple(steps)
        if all(isinstance(s, Field | Index) for s in compiled):
            return reference_operand(_reference_keys(compiled), from_current)

        def evaluate(cur: JSON, root: JSON) -> JSON:
            """The matches of an indefinite sub-path for one candidate."""
            return select_all(cur if from_current else root, compiled, 0, root)

        return evaluate
