"""Choice comparison helpers: timestamps, wildcards, type tests and every operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from kbflow.runtime.asl.compare import (
    COMPARATORS,
    compare,
    is_boolean,
    is_comparator,
    is_numeric,
    is_string,
    is_timestamp,
    parse_iso_offset_datetime,
    parse_timestamp,
    string_matches,
    timestamp_key,
    utf16_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-03-14T01:59:00.5Z", datetime(2016, 3, 14, 1, 59, 0, 500000, tzinfo=UTC)),
        (
            "2016-03-05T21:29:29.243167252Z",  # nanoseconds, accepted by AWS (Wait state)
            datetime(2016, 3, 5, 21, 29, 29, 243167, tzinfo=UTC),
        ),
        (
            "2016-03-14T01:59:00+02:30",
            datetime(2016, 3, 14, 1, 59, tzinfo=timezone(timedelta(hours=2, minutes=30))),
        ),
        ("2024-02-29T23:59:59-00:00", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_parse_valid_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed is not None and parsed.utcoffset() is not None
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-13-05T21:29:29Z",  # AWS: invalid date (Wait state corpus case)
        "05-12-2016T21:29:29Z",  # AWS: not ISO
        "2016-12-05T25:29:29Z",  # AWS: invalid time
        "2016-12-05 21:29:29Z",  # AWS: no T
        "2016-12-05T21:29:29",  # AWS: no zone
        "2023-02-24 12:15:56.832957",
        "2016-12-05t21:29:29z",
        "2023-02-29T00:00:00Z",
        "2016-12-05T21:29:29.1234567890Z",
        "2016-12-05T21:29:29+19:00",
        "0000-01-01T00:00:00Z",
        "",
        " ",
    ],
)
def test_parse_invalid_timestamps(text: str) -> None:
    assert parse_timestamp(text) is None
    assert not is_timestamp(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-03-05T21:29:29.243167252Z", datetime(2016, 3, 5, 21, 29, 29, 243167, tzinfo=UTC)),
        ("2016-03-14T01:59Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-03-14t01:59:00z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        (
            "2016-03-14T01:59:00+01:00:30",
            datetime(2016, 3, 14, 1, 59, tzinfo=timezone(timedelta(hours=1, seconds=30))),
        ),
        ("2016-13-05T21:29:29Z", None),  # the Wait-state corpus cases AWS rejected
        ("05-12-2016T21:29:29Z", None),
        ("2016-12-05T25:29:29Z", None),
        ("2016-12-05 21:29:29Z", None),
        ("2016-12-05T21:29:29", None),
        ("2016-12-05T21:29:29+01", None),
    ],
)
def test_parse_iso_offset_datetime_follows_java(text: str, expected: datetime | None) -> None:
    assert parse_iso_offset_datetime(text) == expected


def test_instants_outside_datetime_range_still_compare() -> None:
    assert parse_timestamp("0001-01-01T00:00:00+01:00") is None
    assert is_timestamp("0001-01-01T00:00:00+01:00")
    assert compare("TimestampLessThan", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z")


def test_non_strings_are_not_timestamps() -> None:
    assert parse_timestamp(5) is None  # type: ignore[arg-type]
    assert not is_timestamp(None) and not is_timestamp(["2016-03-14T01:59:00Z"])


def test_timestamp_key_keeps_nanoseconds_and_offsets() -> None:
    assert timestamp_key("1970-01-01T00:00:00.000000001Z") == (0, 1)
    assert timestamp_key("1970-01-01T01:00:00+01:00") == (0, 0)
    assert compare(
        "TimestampLessThan", "2016-03-05T21:29:29.243167252Z", "2016-03-05T21:29:29.243167253Z"
    )
    assert compare("TimestampEquals", "2016-03-14T03:59:00+02:00", "2016-03-14T01:59:00Z")


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("log-2024.txt", "log-*.txt", True),
        ("log-.txt", "log-*.txt", True),
        ("log-2024.csv", "log-*.txt", False),
        ("anything", "*", True),
        ("", "*", True),
        ("a*b", "a\\*b", True),
        ("axb", "a\\*b", False),
        ("a\\b", "a\\\\b", True),
        ("a\\xyz", "a\\\\*", True),
        ("a.b", "a.b", True),
        ("aXb", "a.b", False),
        ("line1\nline2", "line1*", True),
        (5, "*", False),
    ],
)
def test_string_matches(value: Any, pattern: str, expected: bool) -> None:
    assert string_matches(value, pattern) is expected


def test_type_predicates() -> None:
    assert is_numeric(1) and is_numeric(1.5) and not is_numeric(True) and not is_numeric("1")
    assert is_string("") and not is_string(None)
    assert is_boolean(False) and not is_boolean(0)


def test_utf16_order_matches_java() -> None:
    # U+FF5E sorts after U+1F600 in UTF-16 (surrogates are 0xD83D...), unlike code points.
    assert utf16_key("\U0001f600") < utf16_key("\uff5e")
    assert compare("StringLessThan", "\U0001f600", "\uff5e")


@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        ("NumericEquals", 1, 1.0, True),
        ("NumericEquals", True, 1, False),
        ("NumericEquals", "1", 1, False),
        ("NumericLessThan", 1, 2, True),
        ("NumericLessThanEquals", 2, 2, True),
        ("NumericGreaterThan", 2.5, 2, True),
        ("NumericGreaterThanEquals", 1, 2, False),
        ("NumericEqualsPath", 3, 3, True),
        ("NumericLessThanPath", 3, "4", False),
        ("StringEquals", "a", "a", True),
        ("StringEquals", 1, "1", False),
        ("StringLessThan", "a", "b", True),
        ("StringGreaterThanEquals", "b", "b", True),
        ("StringLessThanEqualsPath", "a", None, False),
        ("BooleanEquals", True, True, True),
        ("BooleanEquals", 1, True, False),
        ("BooleanEqualsPath", False, False, True),
        ("TimestampGreaterThan", "2012-10-09T19:00:56Z", "2012-10-09T19:00:55Z", True),
        ("TimestampEquals", None, "2012-10-09T19:00:55Z", False),
        ("TimestampLessThanEqualsPath", "2012-10-09T19:00:55Z", "bad", False),
        ("IsNull", None, True, True),
        ("IsNull", 0, False, True),
        ("IsNumeric", True, True, False),
        ("IsString", "", True, True),
        ("IsBoolean", False, True, True),
        ("IsTimestamp", "2012-10-09T19:00:55Z", True, True),
        ("IsTimestamp", "2012-10-09", True, False),
        ("IsPresent", 1, True, True),
        ("StringMatches", "abc", "a*", True),
        ("StringMatches", "abc", 5, False),
    ],
)
def test_compare(operator: str, value: Any, operand: Any, expected: bool) -> None:
    assert compare(operator, value, operand) is expected


def test_comparator_names() -> None:
    assert len(COMPARATORS) == 39  # 3 x 5 orderings x (plain, Path) + Boolean x 2 + 7 others
    assert is_comparator("TimestampGreaterThanEqualsPath") and not is_comparator("And")
    with pytest.raises(KeyError):
        compare("Nope", 1, 1)
