"""Step Functions intrinsic functions (``States.*``) for JSONPath states.

API summary (for the engine)::

    is_intrinsic("States.Format('x{}', $.a)")          # -> True (cheap prefix check)
    call = parse_intrinsic("States.Format('x{}', $.a)")  # cached; IntrinsicSyntaxError if bad
    evaluate(call, data, context, variables, rng=random.Random())   # -> JSON
    call.text                                            # the source text, for messages

Runtime failures raise ``kbflow.errors.StatesError("States.Runtime", cause)``; the cause is the
part after AWS's ``"An error occurred while executing the state '<S>' (entered at the event id
#<n>). "`` prefix, which the engine adds. Argument counts are checked when parsing (AWS rejects
those definitions), so :class:`IntrinsicSyntaxError` should become a ``DefinitionError``.

Literals: strings in single quotes with ``\\'``, ``\\{``, ``\\}``, ``\\\\`` escapes (a backslash
makes the next character literal), integers, decimals, ``true``, ``false``, ``null``. Paths:
``$``/``$.x``/``$$.x``/``$var.x`` (any JSONPath, resolved through :mod:`.jsonpath`). Calls nest.

Semantics checked against AWS recordings: ``States.MathAdd`` rounds each operand half-up
(Java ``Math.round``) and works on 32-bit integers; ``States.StringSplit`` splits on every
character of the delimiter string and drops empty parts; ``States.Format`` renders objects and
arrays the way Java's ``toString`` does (``{a=1, b=[]}``); ``States.StringToJson('')`` is
``null``; ``States.MathRandom`` with a seed follows ``java.util.Random`` so seeded results are
reproducible. From the AWS documentation: non-integer ``MathRandom``/``MathAdd`` (and here
``ArrayRange``) numbers are rounded to the nearest integer; ``ArrayRange`` produces at most
1000 items; ``Hash``/``Base64Encode``/``Base64Decode`` take strings of at most 10,000
characters; ``JsonMerge`` only supports the shallow mode (``false``); at most 10 calls nest.
The function bodies live in :mod:`.intrinsic_functions`.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from kbflow.errors import KbflowError, StatesError

from .intrinsic_functions import (
    FUNCTIONS,
    ArgumentError,
    CallInfo,
    JavaRandom,
    compact,
    java_round,
    java_string,
    json_equal,
)
from .jsonpath import JSON, JsonPath, PathNotFound, PathSyntaxError, compile_path, resolve

__all__ = [
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "JavaRandom",
    "Literal",
    "PathArg",
    "StringLit",
    "argument_kinds",
    "compact",
    "evaluate",
    "is_intrinsic",
    "java_round",
    "java_string",
    "json_equal",
    "parse_intrinsic",
]

RUNTIME: Final = "States.Runtime"
MAX_NESTING: Final = 10


class IntrinsicSyntaxError(KbflowError):
    """An intrinsic function call is malformed (bad syntax, unknown function, wrong arity)."""

    def __init__(self, text: str, message: str, position: int = 0) -> None:
        self.text = text
        self.position = position
        self.reason = message
        super().__init__(f"invalid intrinsic function {text!r} at {position}: {message}")


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, boolean or null literal."""

    value: JSON


@dataclass(frozen=True, slots=True)
class StringLit:
    """A quoted string literal; ``raw`` keeps the escapes for ``States.Format`` templates."""

    value: str
    raw: str


@dataclass(frozen=True, slots=True)
class PathArg:
    """A JSONPath argument (``$.x``, ``$$.x``, ``$var``)."""

    path: JsonPath


@dataclass(frozen=True, slots=True)
class IntrinsicCall:
    """A parsed ``States.<Name>(args...)`` call."""

    name: str
    """The full function name, e.g. ``States.Format``."""
    args: tuple[Arg, ...]
    text: str
    """The source text of this call."""
    info: CallInfo = field(compare=False, repr=False)


Arg: TypeAlias = Literal | StringLit | PathArg | IntrinsicCall

# name -> (min args, max args or None)
_ARITY: Final[dict[str, tuple[int, int | None]]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}


def is_intrinsic(text: object) -> bool:
    """True when ``text`` looks like an intrinsic function call (``States.X(...)``)."""
    return isinstance(text, str) and text.startswith("States.") and text.rstrip().endswith(")")


# --------------------------------------------------------------------------- parser


@functools.lru_cache(maxsize=2048)
def parse_intrinsic(text: str) -> IntrinsicCall:
    """Parse an intrinsic call (cached).

    Raises:
        IntrinsicSyntaxError: malformed text, unknown function, wrong number of arguments or
            more than 10 nested calls.
    """
    parser = _Parser(text)
    parser.skip_ws()
    call = parser.call(depth=1)
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the call")
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(self.text, message, self.pos)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def call(self, depth: int) -> IntrinsicCall:
        if depth > MAX_NESTING:
            raise self.fail(f"more than {MAX_NESTING} nested intrinsic functions")
        start = self.pos
        name = self.name()
        if name not in _ARITY:
            raise IntrinsicSyntaxError(self.text, f"unknown intrinsic function {name!r}", start)
        self.skip_ws()
        if self.peek() != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args = self.arguments(depth)
        low, high = _ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            want = str(low) if low == high else f"{low}..{high if high is not None else 'n'}"
            raise IntrinsicSyntaxError(
                self.text, f"{name} takes {want} argument(s), got {len(args)}", start
            )
        first = args[0] if args else None
        raw = first.raw if isinstance(first, StringLit) else None
        return IntrinsicCall(name, tuple(args), self.text[start : self.pos], CallInfo(name, raw))

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.peek() in "._"):
            self.pos += 1
        return self.text[start : self.pos]

    def arguments(self, depth: int) -> list[Arg]:
        args: list[Arg] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return args
        while True:
            self.skip_ws()
            args.append(self.argument(depth))
            self.skip_ws()
            ch = self.peek()
            self.pos += 1
            if ch == ")":
                return args
            if ch != ",":
                self.pos -= 1
                raise self.fail("expected ',' or ')'")

    def argument(self, depth: int) -> Arg:
        ch = self.peek()
        if ch == "'":
            return self.string()
        if ch == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        return self.literal()

    def string(self) -> StringLit:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                if self.pos + 1 >= len(self.text):
                    break
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif ch == "'":
                self.pos += 1
                return StringLit("".join(out), self.text[start + 1 : self.pos - 1])
            else:
                out.append(ch)
                self.pos += 1
        self.pos = start
        raise self.fail("unterminated string literal")

    def path(self) -> PathArg:
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (ch == "," or ch in " \t\r\n"):
                break
            self.pos += 1
        try:
            return PathArg(compile_path(self.text[start : self.pos]))
        except PathSyntaxError as exc:
            raise IntrinsicSyntaxError(self.text, exc.reason, start + exc.position) from None

    def literal(self) -> Literal:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",) \t\r\n":
            self.pos += 1
        word = self.text[start : self.pos]
        value = _LITERALS.get(word, _MISSING)
        if value is not _MISSING:
            return Literal(value)
        try:
            number = json.loads(word)
        except ValueError:
            number = None
        if isinstance(number, int | float) and not isinstance(number, bool):
            return Literal(number)
        self.pos = start
        raise self.fail(f"invalid argument {word!r}")


_MISSING: Final = object()
_LITERALS: Final[dict[str, JSON]] = {"true": True, "false": False, "null": None}


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class _Env:
    data: JSON
    context: JSON
    variables: Mapping[str, JSON] | None
    rng: random.Random


def evaluate(
    call: IntrinsicCall | str,
    data: JSON,
    context: JSON,
    variables: Mapping[str, JSON] | None = None,
    *,
    rng: random.Random,
) -> JSON:
    """Evaluate an intrinsic call against the state input, context object and variables.

    Raises:
        StatesError: ``States.Runtime`` with AWS's cause when an argument is missing or of the
            wrong type, or the function itself fails.
    """
    parsed = parse_intrinsic(call) if isinstance(call, str) else call
    return _eval_call(parsed, _Env(data, context, variables, rng), parsed)


def _eval_call(call: IntrinsicCall, env: _Env, top: IntrinsicCall) -> JSON:
    values = [_eval_arg(arg, env, top) for arg in call.args]
    try:
        return FUNCTIONS[call.name](call.info, values, env.rng)
    except ArgumentError as exc:
        raise StatesError(
            RUNTIME, f"The function '{top.text}' had the following error: {exc}"
        ) from None


def _eval_arg(arg: Arg, env: _Env, top: IntrinsicCall) -> JSON:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, StringLit):
        return arg.value
    if isinstance(arg, IntrinsicCall):
        return _eval_call(arg, env, top)
    try:
        return resolve(arg.path, env.data, env.context, env.variables)
    except PathNotFound:
        shown = env.context if arg.path.root == "$$" else env.data
        raise StatesError(
            RUNTIME,
            f"The function '{top.text}' had the following error: The JsonPath argument for "
            f"the field '{arg.path.text}' could not be found in the input '{compact(shown)}'",
        ) from None


def argument_kinds(call: IntrinsicCall) -> Sequence[str]:
    """The syntactic kind of each argument (``string``, ``literal``, ``path``, ``call``)."""
    kinds = {StringLit: "string", Literal: "literal", PathArg: "path", IntrinsicCall: "call"}
    return [kinds[type(a)] for a in call.args]
