"""Filter predicates (``[?(...)]``) of the JSONPath dialect, used by :mod:`.jsonpath`.

:class:`FilterParser` turns the text after ``[?(`` into a closure ``(current, root) -> bool``.
It drives the host path parser through :class:`HostParser` (the host parses ``@``/``$``
sub-paths and returns their evaluators). Comparisons follow Jayway's value nodes: ordering
works on two numbers or two strings only; equality is typed except between a number and a
string (``@.n == '7'`` holds for ``7``: Jayway parses the string as a decimal); a missing
``@.x`` satisfies only ``!=``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Protocol, TypeAlias

__all__ = ["MISSING", "FilterParser", "HostParser", "Operand", "Predicate", "reference_operand"]

JSON: TypeAlias = Any
Operand: TypeAlias = Callable[[JSON, JSON], JSON]
"""Evaluates an operand for ``(current element, document root)``."""
Predicate: TypeAlias = Callable[[JSON, JSON], bool]

MISSING: Final = object()
"""What a definite sub-path that selects nothing evaluates to."""

_REGEX_BODY: Final = re.compile(r"(?:\\.|[^/\\])*")
_REGEX_FLAGS: Final = re.compile(r"[a-z]*")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class HostParser(Protocol):
    """The cursor operations FilterParser needs from the path parser."""

    def skip_ws(self) -> None:
        """Skip spaces and tabs."""

    def peek(self, s: str) -> bool:
        """True when the text at the cursor starts with ``s``."""

    def eat(self, s: str) -> bool:
        """Consume ``s`` if it is at the cursor."""

    def expect(self, s: str) -> None:
        """Consume ``s`` or raise a syntax error."""

    def fail(self, message: str) -> Exception:
        """A syntax error at the cursor."""

    def quoted(self) -> str:
        """Consume a quoted string and return its value."""

    def match(self, pattern: re.Pattern[str]) -> str | None:
        """Consume and return a regex match at the cursor."""

    def sub_path_operand(self, from_current: bool) -> Operand:
        """Parse the steps after ``@``/``$`` and return their evaluator."""


_COMPARATORS: Final = ("==", "!=", "<=", ">=", "<", ">")


class FilterParser:
    """Parses a filter predicate into closures ``(current, root) -> bool``.

    ``@`` sub-paths start at the candidate element, ``$`` sub-paths at the document root.
    """

    def __init__(self, outer: HostParser) -> None:
        self.p = outer

    def expression(self) -> Predicate:
        """``a || b || ...``."""
        left = self.conjunction()
        self.p.skip_ws()
        while self.p.eat("||"):
            right = self.conjunction()
            left = _or(left, right)
            self.p.skip_ws()
        return left

    def conjunction(self) -> Predicate:
        """``a && b && ...``."""
        left = self.unary()
        self.p.skip_ws()
        while self.p.eat("&&"):
            right = self.unary()
            left = _and(left, right)
            self.p.skip_ws()
        return left

    def unary(self) -> Predicate:
        """``!p``, ``(p)`` or a comparison."""
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
        """``operand [op operand]`` (a lone path is an existence test)."""
        left, left_is_path = self.operand()
        self.p.skip_ws()
        if self.p.eat("=~"):
            return self.regex(left)
        membership = self.membership()
        if membership is not None:
            right = self.literal_list() if self.p.peek("[") else self.operand()[0]
            return _membership(membership == "in", left, right)
        for op in _COMPARATORS:
            if self.p.eat(op):
                right, _ = self.operand()
                return _compare_op(op, left, right)
        if not left_is_path:
            raise self.p.fail("a literal alone is not a predicate")
        return lambda cur, root: left(cur, root) is not MISSING

    def regex(self, left: Operand) -> Predicate:
        """``=~ /pattern/flags``: the whole string must match (Java ``Matcher.matches``)."""
        p = self.p
        p.skip_ws()
        p.expect("/")
        source = p.match(_REGEX_BODY)
        p.expect("/")
        flags = p.match(_REGEX_FLAGS) or ""
        try:
            pattern = re.compile(source or "", re.IGNORECASE if "i" in flags else 0)
        except re.error as exc:
            raise p.fail(f"invalid regular expression: {exc}") from None
        return lambda cur, root: _regex_match(pattern, left(cur, root))

    def membership(self) -> str | None:
        """``in`` or ``nin`` followed by whitespace or ``[``, else None."""
        for word in ("nin", "in"):
            if self.p.match(re.compile(word + r"(?=[\s\[$@])")) is not None:
                self.p.skip_ws()
                return word
        return None

    def literal_list(self) -> Operand:
        """``[literal, ...]`` as the right side of ``in``/``nin``."""
        p = self.p
        p.expect("[")
        items: list[JSON] = []
        p.skip_ws()
        while not p.eat("]"):
            value, is_path = self.operand()
            if is_path:
                raise p.fail("a list after 'in' can only hold literals")
            items.append(value(None, None))
            p.skip_ws()
            if not p.eat(","):
                p.skip_ws()
                p.expect("]")
                break
            p.skip_ws()
        frozen = tuple(items)
        return lambda cur, root: list(frozen)

    def operand(self) -> tuple[Operand, bool]:
        """A sub-path or a string/number/boolean/null literal; returns (evaluator, is_path)."""
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
        """``@...`` or ``$...``."""
        p = self.p
        from_current = p.eat("@")
        if not from_current:
            p.expect("$")
        return p.sub_path_operand(from_current)


def _regex_match(pattern: re.Pattern[str], value: JSON) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _membership(inside: bool, left: Operand, right: Operand) -> Predicate:
    def predicate(cur: JSON, root: JSON) -> bool:
        """``left in right`` (or ``nin``) with Jayway's kind-strict equality."""
        value, options = left(cur, root), right(cur, root)
        if value is MISSING or not isinstance(options, list):
            return not inside
        found = any(_compare("==", value, option) for option in options)
        return found is inside

    return predicate


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda cur, root: a(cur, root) or b(cur, root)


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda cur, root: a(cur, root) and b(cur, root)


def _compare_op(op: str, left: Operand, right: Operand) -> Predicate:
    def predicate(cur: JSON, root: JSON) -> bool:
        """Compare the two operands for one candidate element."""
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
    """Jayway comparison: ordering needs two numbers or two strings; equality is typed,
    except that a number and a string compare as Jayway's value nodes do (see ``_equal``).
    A missing operand equals nothing (so ``!=`` holds)."""
    if a is MISSING or b is MISSING:
        return op == "!="
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    kind = _kind(a)
    if kind != _kind(b) or kind not in ("number", "str"):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _equal(a: JSON, b: JSON) -> bool:
    """Jayway ``ValueNode`` equality: a number on the left parses a string on the right as a
    decimal; a string on the left compares with the number's text; other kinds must match."""
    left, right = _kind(a), _kind(b)
    if left == "number" and right == "str":
        try:
            return Decimal(b) == Decimal(repr(a))
        except ArithmeticError:
            return False
    if left == "str" and right == "number":
        return bool(a == (str(b) if isinstance(b, int) else repr(b)))
    return left == right and bool(a == b)


def reference_operand(keys: tuple[str | int, ...], from_current: bool) -> Operand:
    """Fast evaluator of a definite ``@``/``$`` sub-path made of names and indexes."""

    def evaluate(cur: JSON, root: JSON) -> JSON:
        """The value of a definite sub-path for one candidate, or MISSING."""
        node = cur if from_current else root
        for key in keys:
            if isinstance(key, str):
                if type(node) is not dict or key not in node:
                    return MISSING
                node = node[key]
            elif type(node) is list and -len(node) <= key < len(node):
                node = node[key]
            else:
                return MISSING
        return node

    return evaluate
