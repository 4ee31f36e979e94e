"""Implementations of the ``States.*`` intrinsic functions (used by :mod:`.intrinsics`).

Each function takes the call's :class:`CallInfo`, its evaluated arguments and the random
source, and returns a JSON value or raises :class:`ArgumentError` (worded as the tail of AWS's
``The function '<call>' had the following error: <detail>`` cause). :data:`FUNCTIONS` maps the
full name (``States.Format``) to its implementation.

Shared helpers used elsewhere: :func:`compact` (JSON as AWS prints it in messages),
:func:`json_equal` (structural JSON equality), :func:`java_string` (Java ``toString``) and
:class:`JavaRandom` (``java.util.Random``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeAlias

__all__ = [
    "FUNCTIONS",
    "ArgumentError",
    "CallInfo",
    "JavaRandom",
    "compact",
    "java_round",
    "java_string",
    "json_equal",
    "strict_json_loads",
]

JSON: TypeAlias = Any
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_MAX_INPUT: Final = 10000
_MAX_RANGE: Final = 1000


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a function needs to know about its call besides the argument values."""

    name: str
    """The full function name, e.g. ``States.Format``."""
    template_raw: str | None = None
    """The raw text (escapes kept) of a string-literal first argument, for ``States.Format``."""


class ArgumentError(Exception):
    """An argument check or the function failed; becomes a ``States.Runtime`` error."""


def _reject_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not JSON")


def strict_json_loads(text: str) -> JSON:
    """``json.loads`` without Python's ``NaN``/``Infinity`` extensions (strict JSON)."""
    return json.loads(text, parse_constant=_reject_constant)


def compact(value: JSON) -> str:
    """Compact JSON as AWS prints values inside messages."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- checks


def _kind(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _want(value: JSON, kind: str, position: int, name: str) -> None:
    if _kind(value) != kind:
        raise ArgumentError(
            f"The value of argument {position} of {name} must be of type {kind}, "
            f"but was {_kind(value)}: {compact(value)}"
        )


def _want_int(value: JSON, position: int, name: str) -> int:
    _want(value, "number", position, name)
    if isinstance(value, float) and not value.is_integer():
        raise ArgumentError(
            f"The value of argument {position} of {name} must be an integer: {value}"
        )
    return int(value)


def _rounded(value: JSON, position: int, name: str) -> int:
    _want(value, "number", position, name)
    return java_round(value)


def java_round(value: float | int) -> int:
    """Java ``Math.round``: half-up towards positive infinity (``-1.5 -> -1``)."""
    return math.floor(value + 0.5) if isinstance(value, float) else value


def json_equal(a: JSON, b: JSON) -> bool:
    """Structural JSON equality (``true`` is not ``1``; ``1`` equals ``1.0``)."""
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return False
    if ka == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# --------------------------------------------------------------------------- functions

Impl: TypeAlias = Callable[[CallInfo, list[JSON], random.Random], JSON]


def _format(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    template = args[0]
    _want(template, "string", 1, call.name)
    pieces = _template_pieces(call.template_raw, template)
    holes = len(pieces) - 1
    values = args[1:]
    if holes != len(values):
        raise ArgumentError(
            f"The number of arguments ({len(values)}) does not match the number of "
            f"placeholders ({holes}) in the format string"
        )
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(java_string(value))
        out.append(piece)
    return "".join(out)


def _template_pieces(raw: str | None, value: str) -> list[str]:
    """Split a format template at its unescaped ``{}`` placeholders."""
    if raw is None:
        return value.split("{}")
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            current.append(raw[i + 1])
            i += 2
        elif raw.startswith("{}", i):
            pieces.append("".join(current))
            current = []
            i += 2
        else:
            current.append(ch)
            i += 1
    pieces.append("".join(current))
    return pieces


def java_string(value: JSON) -> str:
    """Render a value the way AWS's ``States.Format`` does (Java ``toString``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _java_number(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"


def _java_number(value: int | float) -> str:
    """Java's ``Long``/``Double.toString``: plain in [1e-3, 1e7), else ``d.dddE<n>``."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    mantissa = text[0] + "." + (text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def _string_to_json(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    text = args[0]
    _want(text, "string", 1, call.name)
    if not text.strip():
        return None
    try:
        return strict_json_loads(text)
    except ValueError:
        raise ArgumentError(f"The string '{text}' is not valid JSON") from None


def _json_to_string(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    return compact(args[0])


def _array(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    return list(args)


def _array_partition(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    items, size = args
    _want(items, "array", 1, call.name)
    chunk = _want_int(size, 2, call.name)
    if chunk <= 0:
        raise ArgumentError(f"The chunk size argument must be a positive integer, but was {chunk}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_contains(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    items, needle = args
    _want(items, "array", 1, call.name)
    return any(json_equal(item, needle) for item in items)


def _array_range(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    # Non-integer bounds and steps are rounded to the nearest integer, as in MathAdd.
    start, end, step = (_rounded(v, i + 1, call.name) for i, v in enumerate(args))
    if step == 0:
        raise ArgumentError("The step argument cannot be zero")
    values = range(start, end + (1 if step > 0 else -1), step)
    if len(values) > _MAX_RANGE:
        raise ArgumentError(
            f"The array range cannot contain more than {_MAX_RANGE} items ({len(values)})"
        )
    return list(values)


def _array_get_item(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    items, index = args
    _want(items, "array", 1, call.name)
    position = _want_int(index, 2, call.name)
    if not 0 <= position < len(items):
        raise ArgumentError(f"Index {position} out of bounds for length {len(items)}")
    return items[position]


def _array_length(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    _want(args[0], "array", 1, call.name)
    return len(args[0])


def _array_unique(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    items = args[0]
    _want(items, "array", 1, call.name)
    unique: list[JSON] = []
    for item in items:
        if not any(json_equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _limited_string(call: CallInfo, value: JSON) -> str:
    _want(value, "string", 1, call.name)
    _check_length(value)
    return str(value)


def _check_length(text: str) -> None:
    if len(text) > _MAX_INPUT:
        raise ArgumentError(
            f"The input string exceeds the maximum of {_MAX_INPUT} characters ({len(text)})"
        )


def _base64_encode(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    return base64.b64encode(_limited_string(call, args[0]).encode()).decode("ascii")


def _base64_decode(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    text = _limited_string(call, args[0])
    # Like java.util.Base64's basic decoder, trailing '=' padding is optional.
    padded = text + "=" * (-len(text) % 4) if len(text) % 4 != 1 else text
    try:
        return base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ArgumentError(f"The input '{text}' is not a valid Base64 string") from None


_HASHES: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    data, algorithm = args
    _want(data, "string", 1, call.name)
    _check_length(data)
    _want(algorithm, "string", 2, call.name)
    if algorithm not in _HASHES:
        raise ArgumentError(
            f"The hash algorithm '{algorithm}' is not supported; use one of " + ", ".join(_HASHES)
        )
    return hashlib.new(_HASHES[algorithm], str(data).encode()).hexdigest()


def _json_merge(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    left, right, deep = args
    _want(left, "object", 1, call.name)
    _want(right, "object", 2, call.name)
    _want(deep, "boolean", 3, call.name)
    if deep:
        # AWS documents the shallow mode as the only one supported.
        raise ArgumentError(
            "Currently, Step Functions only supports the shallow merging mode; therefore, you "
            "must specify the boolean value as false."
        )
    return {**left, **right}


def _math_random(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    # "If you specify a non-integer value for the start number or end number argument,
    # Step Functions will round it off to the nearest integer." (AWS docs)
    start, end = (_rounded(v, i + 1, call.name) for i, v in enumerate(args[:2]))
    if end <= start:
        raise ArgumentError(f"The end value {end} must be greater than the start value {start}")
    if len(args) == 3:
        seed = _rounded(args[2], 3, call.name)
        return start + JavaRandom(seed).next_int(end - start)
    return rng.randrange(start, end)


def _math_add(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    total = 0
    for i, value in enumerate(args):
        _want(value, "number", i + 1, call.name)
        rounded = java_round(value)
        if not _INT32_MIN <= rounded <= _INT32_MAX:
            raise ArgumentError(
                f"The value of argument {i + 1} of {call.name} is outside the integer range: "
                f"{compact(value)}"
            )
        total += rounded
    return total


def _string_split(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    text, delimiters = args
    _want(text, "string", 1, call.name)
    _want(delimiters, "string", 2, call.name)
    parts: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch in delimiters:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p]


def _uuid(call: CallInfo, args: list[JSON], rng: random.Random) -> JSON:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


FUNCTIONS: Final[dict[str, Impl]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}


class JavaRandom:
    """``java.util.Random`` (48-bit LCG), so seeded ``MathRandom`` matches AWS's JVM."""

    _MULT: Final = 0x5DEECE66D
    _MASK: Final = (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ self._MULT) & self._MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * self._MULT + 0xB) & self._MASK
        value = self._seed >> (48 - bits)
        # Java casts to a 32-bit int: only a 32-bit draw can come out negative.
        return value - (1 << 32) if bits == 32 and value >= 1 << 31 else value

    def next_int(self, bound: int) -> int:
        """``Random.nextInt(bound)`` for ``bound > 0``."""
        if bound & -bound == bound:
            return (bound * (self._next(31) & 0x7FFFFFFF)) >> 31
        while True:
            bits = self._next(31) & 0x7FFFFFFF
            value = bits % bound
            if bits - value + (bound - 1) < 1 << 31:
                return value
