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
``== != < <= > >=``, string/number/true/false/null literals and ``@``/``$`` sub-paths, and deep
scan ``..name``/``..*``/``..[0]``. The context object is ``$$`` and a workflow variable is
``$name`` (``$name.field``...).

Quirks kept from AWS: indefinite paths skip elements lacking the next key (``$.a[*].b`` over
``[{"b": 1}, {}]`` is ``[1]``) and never raise; a definite path raises :class:`PathNotFound`
when any step is missing, indexes a non-array or reads a field of a non-object.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from kbflow.errors import KbflowError

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

    def __init__(self, path: str, normalized: str) -> None:
        self.path = path
        self.normalized = normalized
        super().__init__(f"No results for path: {normalized}")

    @property
    def detail(self) -> str:
        """Jayway's wording, as AWS embeds it in ``Invalid path '<p>' : <detail>`` causes."""
        return f"No results for path: {self.normalized}"


class ResultPathError(KbflowError):
    """``set_path`` cannot place a value (an intermediate value is not a container)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Field:
    """``.name`` or ``['name']``."""

    name: str

    def text(self) -> str:
        return f"['{self.name}']"


@dataclass(frozen=True, slots=True)
class Index:
    """``[n]`` (negative counts from the end)."""

    index: int

    def text(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``[*]`` or ``.*``: every element of an array or every value of an object."""

    def text(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class Slice:
    """``[start:end:step]``."""

    start: int | None
    end: int | None
    step: int | None

    def text(self) -> str:
        parts = ["" if v is None else str(v) for v in (self.start, self.end)]
        tail = "" if self.step is None else f":{self.step}"
        return f"[{parts[0]}:{parts[1]}{tail}]"


@dataclass(frozen=True, slots=True)
class Union:
    """``[0,2]`` (indices) or ``['a','b']`` (names)."""

    keys: tuple[str | int, ...]

    def text(self) -> str:
        return "[" + ",".join(f"'{k}'" if isinstance(k, str) else str(k) for k in self.keys) + "]"


@dataclass(frozen=True, slots=True)
class Filter:
    """``[?(<predicate>)]``."""

    source: str
    predicate: Callable[[JSON, JSON], bool]

    def text(self) -> str:
        return f"[?({self.source})]"


@dataclass(frozen=True, slots=True)
class Scan:
    """``..`` followed by one selector, applied to the node and all its descendants."""

    selector: Field | Index | Wildcard | Slice | Union | Filter

    def text(self) -> str:
        return ".." + self.selector.text()


Step: TypeAlias = Field | Index | Wildcard | Slice | Union | Filter | Scan

_MISSING: Final = object()


# --------------------------------------------------------------------------- JsonPath


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
        return list(_select_all(data, self.steps, 0, data))


def _get_keys(path: JsonPath, data: JSON, keys: tuple[str | int, ...]) -> JSON:
    """Fast path: a chain of ``Field``/``Index`` steps."""
    for key in keys:
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
            raise PathNotFound(path.text, path.normalized)
        data = value
    return data


def _get_definite_mixed(path: JsonPath, data: JSON) -> JSON:
    """A definite path ending in a leaf name union (Jayway merges it into an object)."""
    *head, last = path.steps
    current = list(_select_all(data, tuple(head), 0, data)) if head else [data]
    if not current or not isinstance(last, Union):
        raise PathNotFound(path.text, path.normalized)
    node = current[0]
    if not isinstance(node, dict):
        raise PathNotFound(path.text, path.normalized)
    return {k: node[k] for k in last.keys if isinstance(k, str) and k in node}


def _select_all(node: JSON, steps: tuple[Step, ...], i: int, root: JSON) -> Iterator[JSON]:
    """Yield every match of ``steps[i:]`` under ``node`` (indefinite semantics)."""
    if i == len(steps):
        yield node
        return
    for child in _apply(node, steps[i], root):
        yield from _select_all(child, steps, i + 1, root)


def _apply(node: JSON, step: Step, root: JSON) -> Iterator[JSON]:
    """Yield the nodes one step selects from ``node``; missing children are skipped."""
    if isinstance(step, Field):
        if isinstance(node, dict) and step.name in node:
            yield node[step.name]
    elif isinstance(step, Index):
        if isinstance(node, list) and -len(node) <= step.index < len(node):
            yield node[step.index]
    elif isinstance(step, Wildcard):
        yield from _children(node)
    elif isinstance(step, Slice):
        if isinstance(node, list):
            yield from node[step.start : step.end : step.step]
    elif isinstance(step, Union):
        yield from _apply_union(node, step)
    elif isinstance(step, Filter):
        yield from _apply_filter(node, step, root)
    else:
        yield from _apply_scan(node, step.selector, root)


def _children(node: JSON) -> Iterator[JSON]:
    if isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _apply_union(node: JSON, step: Union) -> Iterator[JSON]:
    for key in step.keys:
        if isinstance(key, str):
            if isinstance(node, dict) and key in node:
                yield node[key]
        elif isinstance(node, list) and -len(node) <= key < len(node):
            yield node[key]


def _apply_filter(node: JSON, step: Filter, root: JSON) -> Iterator[JSON]:
    # Jayway applies a filter to each element of an array, or to an object itself.
    candidates = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    for item in candidates:
        if step.predicate(item, root):
            yield item


def _apply_scan(node: JSON, selector: Step, root: JSON) -> Iterator[JSON]:
    """Deep scan in document (pre-)order: the node itself, then each descendant."""
    yield from _apply(node, selector, root)
    for child in _children(node):
        if isinstance(child, dict | list):
            yield from _apply_scan(child, selector, root)


# --------------------------------------------------------------------------- set_path


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
    return _set_from(data, path, 0, value)


def _set_from(node: JSON, path: JsonPath, i: int, value: JSON) -> JSON:
    if i == len(path.steps):
        return value
    step = path.steps[i]
    if isinstance(step, Field):
        if node is _MISSING:
            node = {}
        if not isinstance(node, dict):
            raise ResultPathError(path.text, _set_error(path, node))
        copy = dict(node)
        copy[step.name] = _set_from(node.get(step.name, _MISSING), path, i + 1, value)
        return copy
    assert isinstance(step, Index)
    if not isinstance(node, list) or not -len(node) <= step.index < len(node):
        raise ResultPathError(path.text, _set_error(path, node))
    items = list(node)
    items[step.index] = _set_from(node[step.index], path, i + 1, value)
    return items


def _set_error(path: JsonPath, node: JSON) -> str:
    shown = "null" if node is _MISSING else json.dumps(node, separators=(",", ":"))
    return f"Unable to apply ResultPath '{path.text}' to value {shown}"


# --------------------------------------------------------------------------- resolve


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


# --------------------------------------------------------------------------- parser


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


def _build(text: str, root: str, steps: tuple[Step, ...]) -> JsonPath:
    reference = all(isinstance(s, Field | Index) for s in steps)
    leaf_union = (
        bool(steps)
        and isinstance(steps[-1], Union)
        and all(isinstance(k, str) for k in steps[-1].keys)
        and all(isinstance(s, Field | Index) for s in steps[:-1])
    )
    keys = tuple(s.name if isinstance(s, Field) else s.index for s in steps) if reference else None
    return JsonPath(
        text=text,
        root=root,
        steps=steps,
        is_definite=reference or leaf_union,
        is_reference=reference,
        _keys=keys,
    )


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOT_NAME = re.compile(r"[^.\[\]()\s]+")
_INT = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


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
            predicate = _FilterParser(self).expression()
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


# --------------------------------------------------------------------------- filters

Operand: TypeAlias = Callable[[JSON, JSON], JSON]
Predicate: TypeAlias = Callable[[JSON, JSON], bool]

_COMPARATORS: Final = ("==", "!=", "<=", ">=", "<", ">")


class _FilterParser:
    """Parses a filter predicate into closures ``(current, root) -> bool``.

    ``@`` sub-paths start at the candidate element, ``$`` sub-paths at the document root.
    """

    def __init__(self, outer: _Parser) -> None:
        self.p = outer

    def expression(self) -> Predicate:
        left = self.conjunction()
        self.p.skip_ws()
        while self.p.eat("||"):
            right = self.conjunction()
            left = _or(left, right)
            self.p.skip_ws()
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        self.p.skip_ws()
        while self.p.eat("&&"):
            right = self.unary()
            left = _and(left, right)
            self.p.skip_ws()
        return left

    def unary(self) -> Predicate:
        self.p.skip_ws()
        if self.p.eat("!"):
            inner = self.unary()
            return lambda cur, root: not inner(cur, root)
        if self.p.eat("("):
            inner = self.expression()
            self.p.skip_ws()
            self.p.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        left, left_is_path = self.operand()
        self.p.skip_ws()
        for op in _COMPARATORS:
            if self.p.eat(op):
                right, _ = self.operand()
                return _compare_op(op, left, right)
        if not left_is_path:
            raise self.p.fail("a literal alone is not a predicate")
        return lambda cur, root: left(cur, root) is not _MISSING

    def operand(self) -> tuple[Operand, bool]:
        p = self.p
        p.skip_ws()
        if p.peek("@") or p.peek("$"):
            return self.sub_path(), True
        if p.peek("'") or p.peek('"'):
            text = p.quoted()
            return (lambda cur, root: text), False
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if p.eat(word):
                return (lambda cur, root, v=literal: v), False
        number = p.match(_NUMBER)
        if number is None:
            raise p.fail("expected a path, a string, a number, true, false or null")
        num: int | float = float(number) if any(c in number for c in ".eE") else int(number)
        return (lambda cur, root: num), False

    def sub_path(self) -> Operand:
        p = self.p
        from_current = p.eat("@")
        if not from_current:
            p.expect("$")
        steps: list[Step] = []
        while p.peek(".") or p.peek("["):
            steps.append(p.step())
        compiled = tuple(steps)
        definite = all(isinstance(s, Field | Index) for s in compiled)

        def evaluate(cur: JSON, root: JSON) -> JSON:
            found = list(_select_all(cur if from_current else root, compiled, 0, root))
            if definite:
                return found[0] if found else _MISSING
            return found

        return evaluate


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda cur, root: a(cur, root) or b(cur, root)


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda cur, root: a(cur, root) and b(cur, root)


def _compare_op(op: str, left: Operand, right: Operand) -> Predicate:
    def predicate(cur: JSON, root: JSON) -> bool:
        return _compare(op, left(cur, root), right(cur, root))

    return predicate


def _kind(v: JSON) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def _compare(op: str, a: JSON, b: JSON) -> bool:
    """Jayway comparison: values of different kinds are unequal and unordered."""
    if a is _MISSING or b is _MISSING:
        return op == "!=" and not (a is _MISSING and b is _MISSING)
    same = _kind(a) == _kind(b)
    if op == "==":
        return same and a == b
    if op == "!=":
        return not (same and a == b)
    if not same or _kind(a) not in ("number", "str"):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)
