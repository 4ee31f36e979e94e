"""PII detection and redaction tuned for precision.

Every candidate a pattern finds must also pass a validator before it counts:

========== ============================================================================
kind        rule
========== ============================================================================
email       RFC-5322-ish address with a dotted domain; file names like ``logo@2x.png`` no
phone       ``+CC`` international (8-15 digits), national with trunk ``0`` and separators,
            or NANP ``(212) 555-0187``; a bare digit run only after a phone keyword.
            Dates, versions, ISBNs and prices have the wrong shape and are not matched
iban        country code + check digits, the country's exact length, ISO 7064 mod-97 = 1
card        13-19 digits with uniform separators, a known issuer prefix, Luhn-valid
us_ssn      ``AAA-GG-SSSS`` with dashes, excluding never-issued 000/666/9xx, 00, 0000
uk_nino     two prefix letters (not BG, GB, KN, NK, NT, TN, ZZ), six digits, suffix A-D
========== ============================================================================

Matches carry only ``kind``, ``start`` and ``end``: the value itself is never stored, so a
:class:`PiiMatch` can be logged safely.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from kbflow.tasks.core.errors import InvalidInput

__all__ = [
    "CARD",
    "EMAIL",
    "IBAN",
    "KINDS",
    "PHONE",
    "UK_NINO",
    "US_SSN",
    "PiiMatch",
    "PiiReport",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "redact",
    "scan",
    "summarise",
]

EMAIL: Final = "email"
PHONE: Final = "phone"
IBAN: Final = "iban"
CARD: Final = "card"
US_SSN: Final = "us_ssn"
UK_NINO: Final = "uk_nino"
KINDS: Final[tuple[str, ...]] = (IBAN, CARD, US_SSN, UK_NINO, EMAIL, PHONE)
"""All kinds, in priority order (earlier wins when two matches overlap)."""

Mode = Literal["detect", "redact"]


@dataclass(frozen=True, slots=True, order=True)
class PiiMatch:
    """One PII finding. Holds no value, only where it is, so it is safe to log.

    Attributes:
        start: Offset of the first character in the scanned text.
        end: Offset one past the last character.
        kind: One of :data:`KINDS`.
    """

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class PiiReport:
    """The result of :func:`scan`.

    Attributes:
        text: The redacted text in ``redact`` mode, the input unchanged in ``detect`` mode.
        matches: Findings, positions relative to the *input* text.
        summary: :func:`summarise` of the matches.
    """

    text: str
    matches: tuple[PiiMatch, ...]
    summary: dict[str, Any]


# --- patterns -------------------------------------------------------------------------------

_EMAIL_RE: Final = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|:[\w/~])"
)
_FILE_TLDS: Final = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ts", "py", "json", "xml", "pdf"}
)
_SEP: Final = r"[ .\-\u00a0]"
_PHONE_INTL: Final = re.compile(
    rf"(?<![\w+])\+[1-9]\d{{0,2}}(?:{_SEP}?\(0\))?(?:{_SEP}?\(?\d{{1,5}}\)?){{1,6}}(?![\w-]|\.\d)"
)
_PHONE_NATIONAL: Final = re.compile(
    rf"(?<![\w.+-])(?:\(0[1-9]\d{{0,3}}\)\s?|0[1-9]\d{{0,3}}{_SEP})\d{{2,4}}(?:{_SEP}\d{{2,4}}){{1,3}}"
    rf"(?![\w-]|\.\d)"
)
_PHONE_NANP: Final = re.compile(
    r"(?<![\w.+-])(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}(?![\w-]|\.\d)"
)
_PHONE_KEYWORD_BARE: Final = re.compile(
    r"(?i)\b(?:tel|telephone|phone|mobile|mob|cell|fax|call|hotline)\b[.:#]?\s{0,3}"
    r"(?:no\.?\s?|number\s?)?[:#]?\s{0,3}(\+?\d{8,15})(?!\d)"
)
_IBAN_TAIL: Final = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* $")
_IBAN_START: Final = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})(?=[ ]?[A-Z0-9])")
_CARD_RE: Final = re.compile(r"(?<![\d.,/-])\d(?:[ -]?\d){12,18}(?![\d-]|[.,/]\d)")
_SSN_RE: Final = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_NINO_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
)
# ISO 13616 registry lengths (SWIFT IBAN registry), for the common and SEPA countries.
_IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
_CARD_PREFIXES: Final = re.compile(
    r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|2)|35|3(?:0[0-5]|[68])|"
    r"5[06-9]|6\d)"
)


def luhn_valid(digits: str) -> bool:
    """Return True if ``digits`` (only 0-9) passes the Luhn checksum."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Return True if ``iban`` (spaces allowed) has its country's length and mod-97 = 1."""
    compact = iban.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PiiMatch]:
    """Find PII in ``text``.

    Args:
        text: The text to scan.
        kinds: Kinds to look for (default: all of :data:`KINDS`).

    Returns:
        Non-overlapping matches sorted by position; where two overlap, the kind earlier in
        :data:`KINDS` wins, then the longer match.

    Raises:
        InvalidInput: ``kinds`` names an unknown kind.
    """
    wanted = _check_kinds(kinds)
    found = [m for kind in KINDS if kind in wanted for m in _FINDERS[kind](text)]
    return _resolve_overlaps(found)


def redact(
    text: str, matches: Iterable[PiiMatch], *, label: Callable[[str], str] | None = None
) -> str:
    """Replace each match with a label such as ``[EMAIL]``.

    Args:
        text: The text the matches were found in.
        matches: From :func:`find_pii` on the same text.
        label: Maps a kind to its replacement; default ``[KIND]`` upper-cased.

    Returns:
        The redacted text.
    """
    make = label or (lambda kind: f"[{kind.upper()}]")
    out: list[str] = []
    position = 0
    for match in sorted(matches):
        if match.start < position:
            continue  # overlapping input: the earlier match already covers it
        out.append(text[position : match.start])
        out.append(make(match.kind))
        position = match.end
    out.append(text[position:])
    return "".join(out)


def summarise(matches: Iterable[PiiMatch]) -> dict[str, Any]:
    """Summarise matches without values: ``{"found", "count", "kinds", "counts"}``.

    ``kinds`` is sorted; ``counts`` maps each kind to its number of matches.
    """
    counts = Counter(m.kind for m in matches)
    return {
        "found": bool(counts),
        "count": sum(counts.values()),
        "kinds": sorted(counts),
        "counts": dict(sorted(counts.items())),
    }


def scan(text: str, *, mode: Mode = "redact", kinds: Iterable[str] | None = None) -> PiiReport:
    """Detect PII and, in ``redact`` mode, redact it.

    Args:
        text: The text to scan.
        mode: ``detect`` leaves the text unchanged; ``redact`` replaces matches with labels.
        kinds: Kinds to look for (default all).

    Returns:
        The :class:`PiiReport`.

    Raises:
        InvalidInput: Unknown ``mode`` or kind.
    """
    if mode not in ("detect", "redact"):
        raise InvalidInput(f"PII mode must be 'detect' or 'redact', got {mode!r}")
    matches = find_pii(text, kinds)
    out = redact(text, matches) if mode == "redact" else text
    return PiiReport(text=out, matches=tuple(matches), summary=summarise(matches))


# --- finders --------------------------------------------------------------------------------


def _find_emails(text: str) -> Iterator[PiiMatch]:
    for m in _EMAIL_RE.finditer(text):
        if m.group(0).rsplit(".", 1)[-1].lower() not in _FILE_TLDS:
            yield PiiMatch(m.start(), m.end(), EMAIL)


def _find_phones(text: str) -> Iterator[PiiMatch]:
    for pattern in (_PHONE_INTL, _PHONE_NATIONAL, _PHONE_NANP):
        national = pattern is _PHONE_NATIONAL
        for m in pattern.finditer(text):
            if _phone_shape_ok(m.group(0), national=national) and not _after_iban_prefix(
                text, m.start()
            ):
                yield PiiMatch(m.start(), m.end(), PHONE)
    for m in _PHONE_KEYWORD_BARE.finditer(text):
        yield PiiMatch(m.start(1), m.end(1), PHONE)


def _phone_shape_ok(candidate: str, *, national: bool = False) -> bool:
    digits = re.sub(r"\D", "", candidate.replace("(0)", ""))
    low, high = (9, 12) if national else (8, 15)
    if not low <= len(digits) <= high and not (candidate.startswith("(") and len(digits) == 10):
        return False
    separators = set(re.findall(r"[.\- ]", candidate))
    return len(separators - {" "}) <= 1  # "+49 30-1234" fine; "1.2-3.4" is not a phone


def _after_iban_prefix(text: str, start: int) -> bool:
    """True if ``start`` continues an IBAN-like run (``DE88 3704 ...``) that failed validation."""
    return _IBAN_TAIL.search(text, max(0, start - 48), start) is not None


def _find_ibans(text: str) -> Iterator[PiiMatch]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1))
        if length is None:
            continue
        end = _consume_alnum(text, m.start(), length)
        if end is not None and iban_valid(text[m.start() : end]):
            yield PiiMatch(m.start(), end, IBAN)


def _consume_alnum(text: str, start: int, count: int) -> int | None:
    """Return the end offset after ``count`` alphanumerics from ``start``, single spaces allowed."""
    seen = 0
    i = start
    while i < len(text) and seen < count:
        ch = text[i]
        if ch.isascii() and ch.isalnum():
            seen += 1
        elif not (ch == " " and i + 1 < len(text) and text[i + 1] != " " and seen):
            return None
        i += 1
    if seen < count or (i < len(text) and text[i].isascii() and text[i].isalnum()):
        return None
    return i


def _find_cards(text: str) -> Iterator[PiiMatch]:
    for m in _CARD_RE.finditer(text):
        candidate = m.group(0)
        digits = candidate.replace(" ", "").replace("-", "")
        if len(set(re.findall(r"[ -]", candidate))) > 1 or len(set(digits)) == 1:
            continue
        if _CARD_PREFIXES.match(digits) and luhn_valid(digits):
            yield PiiMatch(m.start(), m.end(), CARD)


def _find_regex(pattern: re.Pattern[str], kind: str) -> Callable[[str], Iterator[PiiMatch]]:
    def finder(text: str) -> Iterator[PiiMatch]:
        for m in pattern.finditer(text):
            yield PiiMatch(m.start(), m.end(), kind)

    return finder


_FINDERS: Final[dict[str, Callable[[str], Iterator[PiiMatch]]]] = {
    EMAIL: _find_emails,
    PHONE: _find_phones,
    IBAN: _find_ibans,
    CARD: _find_cards,
    US_SSN: _find_regex(_SSN_RE, US_SSN),
    UK_NINO: _find_regex(_NINO_RE, UK_NINO),
}


def _check_kinds(kinds: Iterable[str] | None) -> frozenset[str]:
    if kinds is None:
        return frozenset(KINDS)
    wanted = frozenset(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise InvalidInput(f"unknown PII kind(s) {sorted(unknown)}; expected some of {list(KINDS)}")
    return wanted


def _resolve_overlaps(found: list[PiiMatch]) -> list[PiiMatch]:
    priority = {kind: i for i, kind in enumerate(KINDS)}
    ranked = sorted(found, key=lambda m: (priority[m.kind], -(m.end - m.start), m.start))
    kept: list[PiiMatch] = []  # sorted by start, non-overlapping
    for match in ranked:
        i = bisect.bisect_left(kept, match)
        before_ok = i == 0 or kept[i - 1].end <= match.start
        after_ok = i == len(kept) or match.end <= kept[i].start
        if before_ok and after_ok:
            kept.insert(i, match)
    return kept
