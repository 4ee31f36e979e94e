"""PII detection and redaction: every kind found, validators enforced, no false positives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kbflow.tasks.core.errors import InvalidInput
from kbflow.tasks.core.pii import (
    KINDS,
    PiiMatch,
    find_pii,
    iban_valid,
    luhn_valid,
    redact,
    scan,
    summarise,
)

POSITIVES = [
    ("email", "jane.doe@northwind-bank.example"),
    ("email", "a+tag@sub.example.co.uk"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+49 (0)30 1234 5678"),
    ("phone", "+1 415.555.2671"),
    ("phone", "+33612345678"),
    ("phone", "020 7946 0958"),
    ("phone", "030-1234-5678"),
    ("phone", "(212) 555-0187"),
    ("phone", "212-555-0187"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("iban", "NL91 ABNA 0417 1643 00"),
    ("card", "4111 1111 1111 1111"),
    ("card", "5555-5555-5555-4444"),
    ("card", "378282246310005"),
    ("card", "6011111111111117"),
    ("us_ssn", "123-45-6789"),
    ("uk_nino", "AB 12 34 56 C"),
    ("uk_nino", "AB123456C"),
]

NEGATIVES = [
    "Version 1.2.3 and build 10.0.19041.1234 of the app",
    "released on 2024-01-15, 15.01.2024, 01/02/2024 and 2024/12/31",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2 and 978 0 306 40615 7",
    "costs $1,234,567.89 or EUR 12.500,00 or 4 500 000 EUR",
    "retina asset logo@2x.png and icon@3x.webp",
    "order number 1234567890123456 and account 12345678",
    "IP address 192.168.100.200 and port 8080",
    "x = foo(123, 4567) + 0.5; arr[2020] = 0x1F4",
    "timestamp 20240115123045 and uuid 550e8400-e29b-41d4-a716-446655440000",
    "ranges 100-200-3000 and section 4.2.1.3 and article 12(3)(b)",
    "card-like but Luhn-invalid 4111 1111 1111 1112",
    "IBAN with a bad check digit DE88 3704 0044 0532 0130 00",
    "sort code 20-00-00 and the year 2023 to 2025",
    "NINO-shaped with a never-used prefix QQ123456C or GB 12 34 56 A",
    "+5 points, -3 degrees, 1-800 numbers",
    "SSN-shaped but never issued 000-12-3456, 666-12-3456, 900-12-3456",
    "the call lasted 12 minutes at 09:30-10:15",
    "git clone git@github.com:org/repo.git",
]


@pytest.mark.parametrize(("kind", "value"), POSITIVES)
def test_each_kind_is_found_with_exact_bounds(kind: str, value: str) -> None:
    text = f"Contact details: {value}. Thanks"
    matches = find_pii(text)
    assert [(m.kind, text[m.start:m.end]) for m in matches] == [(kind, value)]


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_positives(text: str) -> None:
    assert [(m.kind, text[m.start:m.end]) for m in find_pii(text)] == []


def test_phone_after_a_keyword_may_be_unseparated() -> None:
    text = "Tel: 07700900123; ref 07700900123"
    assert [(m.kind, text[m.start:m.end]) for m in find_pii(text)] == [("phone", "07700900123")]


def test_iban_stops_at_its_country_length() -> None:
    text = "pay DE89 3704 0044 0532 0130 00 AND 12 MORE"
    (match,) = find_pii(text)
    assert text[match.start:match.end] == "DE89 3704 0044 0532 0130 00"


def test_redact_and_summary_never_contain_values() -> None:
    text = "Mail jane@example.com, IBAN GB82 WEST 1234 5698 7654 32, card 4111111111111111."
    report = scan(text, mode="redact")
    assert report.text == "Mail [EMAIL], IBAN [IBAN], card [CARD]."
    assert report.summary == {"found": True, "count": 3, "kinds": ["card", "email", "iban"],
                              "counts": {"card": 1, "email": 1, "iban": 1}}
    logged = repr(report.matches) + repr(report.summary)
    assert "jane" not in logged and "4111" not in logged and "WEST" not in logged


def test_detect_mode_leaves_text_and_kinds_filter() -> None:
    text = "jane@example.com or +44 20 7946 0958"
    report = scan(text, mode="detect")
    assert report.text == text and report.summary["kinds"] == ["email", "phone"]
    assert [m.kind for m in find_pii(text, kinds=["phone"])] == ["phone"]
    assert redact(text, find_pii(text), label=lambda kind: "***") == "*** or ***"


def test_invalid_configuration() -> None:
    with pytest.raises(InvalidInput, match="unknown PII kind"):
        find_pii("x", kinds=["passport"])
    with pytest.raises(InvalidInput, match="mode"):
        scan("x", mode="mask")  # type: ignore[arg-type]


def test_overlaps_resolve_by_priority() -> None:
    matches = [PiiMatch(0, 10, "phone"), PiiMatch(5, 20, "card")]
    assert redact("0123456789012345678901", matches) == "[PHONE]0123456789012345678901"[:7] + \
        "0123456789012345678901"[10:]
    assert summarise([]) == {"found": False, "count": 0, "kinds": [], "counts": {}}
    assert KINDS[0] == "iban"


def test_validators() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert not luhn_valid("12a4")
    assert iban_valid("gb82 west 1234 5698 7654 32")
    assert not iban_valid("GB82 WEST 1234 5698 7654 3")  # wrong length for GB
    assert not iban_valid("XX82WEST12345698765432")  # unknown country


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_matches_are_ordered_disjoint_and_in_bounds(text: str) -> None:
    matches = find_pii(text)
    for left, right in zip(matches, matches[1:], strict=False):
        assert left.end <= right.start
    assert all(0 <= m.start < m.end <= len(text) for m in matches)
    redacted = redact(text, matches)
    assert len(matches) == 0 or redacted != text


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=10**14, max_value=10**15 - 1))
def test_luhn_valid_visa_numbers_are_always_found(body: int) -> None:
    digits = "4" + str(body)
    check = next(d for d in "0123456789" if luhn_valid(digits + d))
    number = digits + check
    text = f"card {number[:4]} {number[4:8]} {number[8:12]} {number[12:]} end"
    assert [m.kind for m in find_pii(text)] == ["card"]
