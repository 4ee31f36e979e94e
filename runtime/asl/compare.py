"""Pure comparison helpers for the Choice state (JSONPath data-test expressions).

API summary (for the engine)::

    compare("NumericGreaterThan", value, 10)    # -> bool; also the "...Path" names, whose
                                                #    operand the engine resolved beforehand
    is_comparator("StringMatches")              # -> True (all data-test operator names)
    parse_timestamp("2016-03-14T01:59:00Z")     # -> aware datetime, or None if not RFC 3339
    timestamp_key("...")                        # -> (epoch seconds, nanoseconds) | None
    parse_iso_offset_datetime("2016-03-14T01:59Z")  # Wait Timestamp rules (Java ISO offset)
    string_matches("log-2024.txt", "log-*.txt") # '*' wildcard, '\\*' and '\\\\' escapes
    is_numeric(True)                            # -> False (booleans are not numbers)

Rules (AWS): a comparator whose variable has the wrong type is simply false (``"1"`` is not
``NumericEquals 1``, ``null`` is not a timestamp); numbers compare by value (``1 == 1.0``);
strings compare by UTF-16 code units as Java does; timestamps follow the RFC 3339 profile of
ISO 8601 with an uppercase ``T`` and an uppercase ``Z`` or a ``+hh:mm`` offset, fractional
seconds up to nanoseconds. ``IsPresent`` needs the path itself, so the engine handles it; the
value form here treats a value passed in as present.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from .jsonpath import JSON

__all__ = [
    "COMPARATORS",
    "compare",
    "is_boolean",
    "is_comparator",
    "is_numeric",
    "is_string",
    "is_timestamp",
    "parse_iso_offset_datetime",
    "parse_timestamp",
    "string_matches",
    "timestamp_key",
    "utf16_key",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)
_ISO_OFFSET: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?"
    r"([Zz]|[+-]\d{2}:\d{2}(?::\d{2})?)"
)


def is_numeric(value: JSON) -> bool:
    """True for JSON numbers; ``True``/``False`` are booleans, not numbers."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_string(value: JSON) -> bool:
    """True for JSON strings."""
    return isinstance(value, str)


def is_boolean(value: JSON) -> bool:
    """True for JSON booleans."""
    return isinstance(value, bool)


def is_timestamp(value: JSON) -> bool:
    """True for strings that are valid AWS timestamps (see :func:`parse_timestamp`)."""
    return isinstance(value, str) and timestamp_key(value) is not None


@functools.lru_cache(maxsize=1024)
def timestamp_key(text: str) -> tuple[int, int] | None:
    """Exact instant of an AWS timestamp as ``(epoch seconds, nanoseconds)``, or None."""
    found = _instant(text, _TIMESTAMP)
    return None if found is None else found[0]


def _instant(text: str, pattern: re.Pattern[str]) -> tuple[tuple[int, int], int] | None:
    """``((epoch seconds, nanoseconds), offset seconds)`` of a timestamp, or None."""
    match = pattern.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
    second = int(match.group(6) or 0)
    fraction, zone = match.group(7), match.group(8)
    if not (year >= 1 and 1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    offset = _offset_seconds(zone)
    if offset is None:
        return None
    epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    nanos = int((fraction or "").ljust(9, "0"))
    return (epoch, nanos), offset


def _offset_seconds(zone: str) -> int | None:
    if zone in ("Z", "z"):
        return 0
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    seconds = int(zone[7:9]) if len(zone) > 6 else 0
    if hours > 18 or minutes > 59 or seconds > 59:
        return None
    total = hours * 3600 + minutes * 60 + seconds
    if total > 18 * 3600:
        return None
    return -total if zone[0] == "-" else total


def parse_timestamp(text: str) -> datetime | None:
    """Parse an AWS timestamp (Choice rules) into an aware datetime.

    Sub-microsecond digits are truncated. Returns None when ``text`` is not
    ``YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)``, names an impossible date or time, or
    lies outside :class:`datetime`'s range (compare such instants with :func:`timestamp_key`).
    """
    return _to_datetime(text, _TIMESTAMP)


def parse_iso_offset_datetime(text: str) -> datetime | None:
    """Parse like Java's ``DateTimeFormatter.ISO_OFFSET_DATE_TIME`` (the Wait ``Timestamp``).

    AWS reports Wait timestamps it cannot read as "cannot be parsed as an ISO-8601 extended
    offset date-time format string", i.e. Java's parser: seconds and fraction are optional,
    ``T``/``Z`` are case-insensitive and offsets may carry seconds (``+01:00:30``).
    """
    return _to_datetime(text, _ISO_OFFSET)


def _to_datetime(text: str, pattern: re.Pattern[str]) -> datetime | None:
    if not isinstance(text, str):
        return None
    found = _instant(text, pattern)
    if found is None:
        return None
    (seconds, nanos), offset = found
    tz = UTC if offset == 0 else timezone(timedelta(seconds=offset))
    try:
        instant = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
        return instant.astimezone(tz)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 lies before datetime.min in UTC
        return None


@functools.lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def string_matches(value: JSON, pattern: str) -> bool:
    """``StringMatches``: ``*`` matches any run of characters; ``\\*`` and ``\\\\`` escape."""
    return isinstance(value, str) and _wildcard_regex(pattern).fullmatch(value) is not None


def utf16_key(text: str) -> bytes:
    """Sort key ordering strings by UTF-16 code units (Java ``String.compareTo``)."""
    return text.encode("utf-16-be", "surrogatepass")


# --------------------------------------------------------------------------- comparators

Test = Callable[[JSON, JSON], bool]


def _numeric(op: Callable[[float, float], bool]) -> Test:
    return lambda v, x: is_numeric(v) and is_numeric(x) and op(v, x)


def _string(op: Callable[[bytes, bytes], bool]) -> Test:
    return lambda v, x: is_string(v) and is_string(x) and op(utf16_key(v), utf16_key(x))


def _timestamp(op: Callable[[tuple[int, int], tuple[int, int]], bool]) -> Test:
    def test(value: JSON, operand: JSON) -> bool:
        if not (isinstance(value, str) and isinstance(operand, str)):
            return False
        left, right = timestamp_key(value), timestamp_key(operand)
        return left is not None and right is not None and op(left, right)

    return test


def _type_test(check: Callable[[JSON], bool]) -> Test:
    return lambda v, x: check(v) is bool(x)


_ORDER: Final[dict[str, Callable[[object, object], bool]]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,  # type: ignore[operator]
    "LessThanEquals": lambda a, b: a <= b,  # type: ignore[operator]
    "GreaterThan": lambda a, b: a > b,  # type: ignore[operator]
    "GreaterThanEquals": lambda a, b: a >= b,  # type: ignore[operator]
}


def _build() -> dict[str, Test]:
    tests: dict[str, Test] = {}
    for suffix, op in _ORDER.items():
        tests[f"Numeric{suffix}"] = _numeric(op)
        tests[f"String{suffix}"] = _string(op)
        tests[f"Timestamp{suffix}"] = _timestamp(op)
    tests["BooleanEquals"] = lambda v, x: is_boolean(v) and is_boolean(x) and v is x
    tests["StringMatches"] = lambda v, x: is_string(x) and string_matches(v, x)
    tests["IsNull"] = _type_test(lambda v: v is None)
    tests["IsNumeric"] = _type_test(is_numeric)
    tests["IsString"] = _type_test(is_string)
    tests["IsBoolean"] = _type_test(is_boolean)
    tests["IsTimestamp"] = _type_test(is_timestamp)
    tests["IsPresent"] = lambda v, x: bool(x)
    for name in [n for n in tests if not n.startswith(("Is", "StringMatches"))]:
        tests[f"{name}Path"] = tests[name]
    return tests


_TESTS: Final = _build()
COMPARATORS: Final = frozenset(_TESTS)
"""Every data-test operator name, including the ``...Path`` variants."""


def is_comparator(name: str) -> bool:
    """True when ``name`` is a Choice data-test operator (``NumericEquals``, ``IsNull``...)."""
    return name in _TESTS


def compare(operator: str, value: JSON, operand: JSON) -> bool:
    """Apply a Choice data-test operator to the variable's value.

    Args:
        operator: e.g. ``NumericLessThan`` or ``NumericLessThanPath`` (operand pre-resolved).
        value: the value the rule's ``Variable`` path selected.
        operand: the operator's value (a literal, or what its ``...Path`` resolved to).

    Raises:
        KeyError: unknown operator (the parser rejects those first).
    """
    return _TESTS[operator](value, operand)
