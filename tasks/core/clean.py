"""Normalising extracted text before PII scanning and chunking.

:func:`clean_text` applies, in order:

1. Unicode NFKC (ligatures such as ``ﬁ`` become ``fi``, full-width forms become ASCII, non-break
   spaces become spaces) and line endings to ``\\n``;
2. removal of control and invisible characters (zero-width spaces, soft hyphens, BOMs, C0/C1
   controls other than newline, tab and the form feed that separates PDF pages);
3. removal of running headers and footers: on documents of three or more pages, a line that
   opens or closes at least half of the pages is dropped; on documents of two or more pages a
   page-number line (``7``, ``- 7 -``, ``Page 7 of 9``, ``AML policy, page 7``) at the top or
   bottom of a page is dropped too;
4. de-hyphenation of words split across a line break (``verifi-\\ncation`` → ``verification``);
5. whitespace: runs of spaces and tabs collapse to one space, lines are stripped, at most
   one blank line separates paragraphs, and pages are joined by a blank line.

Markdown headings (``# Title``) and paragraph breaks are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Final

__all__ = ["clean_text", "is_page_number", "strip_running_lines"]

PAGE_BREAK: Final = "\f"
_INVISIBLE: Final = re.compile(
    "[\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e]"  # soft hyphen, zero-width, BOM
    "|[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]"  # C0/C1 controls except \t \n \x0c
)
_HYPHEN_BREAK: Final = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[a-z\u00df-\u00ff])")
_SPACES: Final = re.compile(r"[ \t\u2000-\u200a\u3000]+")
_BLANKS: Final = re.compile(r"\n{3,}")
_PAGE_WORD: Final = re.compile(
    r"(?:^|[,;:|\-–—]\s*)(?:page|seite|pagina|página)\s*\d{1,4}(?:\s*(?:of|/|von|de)\s*\d{1,4})?\s*$",
    re.IGNORECASE,
)
_MAX_PAGE_LINE: Final = 60
_PAGE_NUMBER: Final = re.compile(
    r"^(?:page|p\.|seite|pagina|página)?\s*[-–—(]?\s*\d{1,4}\s*(?:(?:of|/|von|de)\s*\d{1,4})?"
    r"\s*[-–—)]?$",
    re.IGNORECASE,
)
_EDGE_LINES: Final = 2
_MIN_PAGES: Final = 3


def clean_text(text: str) -> str:
    """Normalise extracted text; see the module docstring for the steps.

    Args:
        text: Text from :func:`kbflow.tasks.core.extract.extract` (pages separated by ``\\f``).

    Returns:
        The cleaned text, without form feeds, stripped; ``""`` if nothing is left.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    pages = [_strip_lines(page) for page in text.split(PAGE_BREAK)]
    pages = strip_running_lines(pages)
    text = "\n\n".join(page for page in pages if page.strip())
    text = _HYPHEN_BREAK.sub("", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


def strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers/footers and bare page numbers from a list of page texts.

    Args:
        pages: The text of each page, in order.

    Returns:
        The pages without lines that open or close at least half of the pages (three or more
        pages) and without page-number lines at a page's top or bottom (two or more pages). A
        single page is returned unchanged.
    """
    if len(pages) < 2:
        return list(pages)
    split = [page.split("\n") for page in pages]
    running = _running_keys(split) if len(pages) >= _MIN_PAGES else set()
    return ["\n".join(_trim_page(lines, running)) for lines in split]


def _running_keys(pages: list[list[str]]) -> set[str]:
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_key(line) for line in _edges(lines)})
    threshold = max(2, (len(pages) + 1) // 2)
    return {key for key, n in counts.items() if key and n >= threshold}


def _trim_page(lines: list[str], running: set[str]) -> list[str]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    edge = set(content[:_EDGE_LINES] + content[-_EDGE_LINES:])
    return [
        line
        for i, line in enumerate(lines)
        if i not in edge or not (_key(line) in running or is_page_number(line))
    ]


def is_page_number(line: str) -> bool:
    """Return True for a page-number line: ``7``, ``- 7 -``, ``Page 7 of 9``, ``AML, page 7``."""
    line = line.strip()
    if _PAGE_NUMBER.match(line):
        return True
    return len(line) <= _MAX_PAGE_LINE and _PAGE_WORD.search(line) is not None


def _edges(lines: list[str]) -> list[str]:
    content = [line for line in lines if line.strip()]
    if len(content) <= 2 * _EDGE_LINES:
        return content
    return content[:_EDGE_LINES] + content[-_EDGE_LINES:]


def _key(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("#") or len(stripped) < 3:
        return ""  # never treat a heading or a stray character as a running line
    return " ".join(stripped.casefold().split())


def _strip_lines(page: str) -> str:
    return "\n".join(line.rstrip() for line in page.split("\n"))
