"""Headings for PDF text layers, inferred from font sizes.

A PDF text layer has no structure, only glyphs with sizes. :func:`page_lines` reads a page's
lines with the size of each line's first character (one pdfium call per line, not per glyph,
so it costs little). The size is the height of the character's *loose* box (the font's
ascent to descent at its rendered size), not ``FPDFText_GetFontSize``: TeX and many other
producers set fonts at size 1 and scale them with the text matrix, which that call ignores.

:func:`render_pages` then takes the document's body size (the size carrying most characters,
running headers and page numbers excluded) and turns short lines set at least 15% larger into
Markdown headings, largest size first (``#``, ``##``, ``###``; sizes within 6% share a level);
consecutive heading lines of one size (a wrapped title) are joined.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Line", "page_lines", "render_pages"]

_HEADING_RATIO: Final = 1.15
_MAX_HEADING_CHARS: Final = 150
_MAX_LEVELS: Final = 3
_SAME_SIZE: Final = 0.94
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Line:
    """One text line of a PDF page.

    Attributes:
        text: The line's text.
        size: Font size of its first character in points (0 when unknown, e.g. OCR text).
    """

    text: str
    size: float


def page_lines(textpage: Any) -> list[Line]:
    """Return the lines of a pypdfium2 ``PdfTextPage`` with their font sizes."""
    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():
        return plain_lines(textpage.get_text_bounded())
    lines: list[Line] = []
    start = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        segment = text[start:end]
        if segment.strip():
            first = start + (len(segment) - len(segment.lstrip()))
            lines.append(Line(segment.replace("\x02", "-"), _char_size(textpage, first)))
        else:
            lines.append(Line("", 0.0))
        start = match.end() if match else len(text)
    return lines


def _char_size(textpage: Any, index: int) -> float:
    """Rendered size of character ``index``: its loose box height, rounded to 0.25 pt."""
    import pypdfium2.raw as pdfium_c

    rect = pdfium_c.FS_RECTF()
    if pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, index, rect):
        height = abs(float(rect.top) - float(rect.bottom))
        if height > 0:
            return round(height * 4) / 4
    return round(float(pdfium_c.FPDFText_GetFontSize(textpage.raw, index)) * 4) / 4


def plain_lines(text: str) -> list[Line]:
    """Lines with unknown sizes (OCR output or a text layer pdfium cannot index)."""
    return [Line(line, 0.0) for line in _LINE_BREAK.split(text)]


def render_pages(pages: Sequence[Sequence[Line]]) -> list[str]:
    """Render each page's lines as text, with larger-font short lines as ``#`` headings."""
    levels = _heading_levels(pages)
    return [_render_page(lines, levels) for lines in pages]


def _heading_levels(pages: Sequence[Sequence[Line]]) -> dict[float, int]:
    """Map font sizes to heading levels, relative to the body size.

    Lines repeated on at least half of the pages (running headers) and page-number lines do
    not vote for the body size, so a small running header cannot make body lines headings.
    """
    from kbflow.tasks.core.clean import is_page_number

    repeated = _repeated_lines(pages)
    weights: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            if line.size > 0 and _norm(line.text) not in repeated and not is_page_number(line.text):
                weights[line.size] += len(line.text)
    if not weights:
        return {}
    body = weights.most_common(1)[0][0]
    bigger = sorted((s for s in weights if s >= body * _HEADING_RATIO), reverse=True)
    levels: dict[float, int] = {}
    level, cluster = 0, float("inf")
    for size in bigger:
        if size < cluster * _SAME_SIZE:  # sizes within 6% (bold vs regular) share a level
            level, cluster = level + 1, size
        levels[size] = min(level, _MAX_LEVELS)
    return levels


def _repeated_lines(pages: Sequence[Sequence[Line]]) -> set[str]:
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_norm(line.text) for line in lines if line.text.strip()})
    return {text for text, n in counts.items() if n >= 2 and n * 2 >= len(pages)}


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _render_page(lines: Sequence[Line], levels: dict[float, int]) -> str:
    out: list[str] = []
    previous_level = 0
    for line in lines:
        text = line.text.strip()
        level = levels.get(line.size, 0) if _heading_like(text) else 0
        if level and level == previous_level and len(out) >= 2:
            out[-2] = f"{out[-2]} {text}"  # a heading wrapped over two lines
            continue
        if level:
            out.extend(["", f"{'#' * level} {text}", ""])
        else:
            out.append(line.text.rstrip())
        previous_level = level
    return "\n".join(out).strip("\n")


def _heading_like(text: str) -> bool:
    return (
        0 < len(text) <= _MAX_HEADING_CHARS
        and any(ch.isalpha() for ch in text)
        and not text.endswith((",", ";"))
    )
