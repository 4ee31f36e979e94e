"""DOCX to Markdown-flavoured text with python-docx, after a zip-bomb check.

Before any part is decompressed, :func:`check_zip` reads the ZIP central directory and refuses
archives whose *declared* uncompressed size, entry count or compression ratio is over the limits
(a 10 KB file that inflates to gigabytes). Declared sizes are binding: Python's ``zipfile`` stops
inflating an entry at its declared size and fails its CRC check if the data goes on, so an
archive that under-declares cannot inflate past what was checked.

Headings come from paragraph styles (``Title`` and ``Heading 1`` → ``#``, ``Heading N`` → ``N``
``#`` signs, capped at six), list styles become ``- `` items, and tables become ``a | b`` rows,
in document order.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kbflow.tasks.core.errors import DocumentTooLarge, ExtractionFailed

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

__all__ = ["ZipLimits", "check_zip", "docx_to_text", "xml_text"]

_HEADING: Final = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_M: Final = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_MC_FALLBACK: Final = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_TEXT_TAGS: Final = frozenset({f"{_W}t", f"{_M}t"})
_BREAK_TAGS: Final = frozenset({f"{_W}br", f"{_W}cr"})
_W_TAB: Final = f"{_W}tab"
_W_P: Final = f"{_W}p"


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits for ZIP-based documents.

    Attributes:
        max_uncompressed_bytes: Cap on the sum of the entries' uncompressed sizes.
        max_ratio: Cap on uncompressed/compressed size for the whole archive.
        max_entries: Cap on the number of entries.
    """

    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_ratio: float = 100.0
    max_entries: int = 10_000


def check_zip(data: bytes, limits: ZipLimits = ZipLimits()) -> None:
    """Refuse a ZIP whose central directory declares too much data.

    Args:
        data: The archive.
        limits: The caps.

    Raises:
        DocumentTooLarge: The declared size, ratio or entry count is over a limit.
        ExtractionFailed: The archive is not a readable ZIP.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_declared(infos, len(data), limits)
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed(f"not a readable ZIP/DOCX archive: {exc}") from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise ExtractionFailed(f"unreadable ZIP/DOCX archive: {type(exc).__name__}") from exc


def docx_to_text(data: bytes, limits: ZipLimits = ZipLimits()) -> str:
    """Extract the body text of a DOCX, in order, headings as ``#`` lines and tables as rows.

    Args:
        data: The ``.docx`` bytes.
        limits: Zip-bomb limits checked before parsing.

    Returns:
        The text; empty if the document has no text.

    Raises:
        DocumentTooLarge: The archive would inflate over the limits.
        ExtractionFailed: The file is not a valid DOCX.
    """
    check_zip(data, limits)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [_block(item) for item in document.iter_inner_content()]
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ExtractionFailed(f"not a valid DOCX document: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - lxml syntax errors and other parser failures
        raise ExtractionFailed(f"DOCX parser failed: {type(exc).__name__}") from exc
    return "\n\n".join(b for b in _merge_lists(blocks) if b)


def _check_declared(infos: list[zipfile.ZipInfo], size: int, limits: ZipLimits) -> None:
    if len(infos) > limits.max_entries:
        raise DocumentTooLarge(
            f"archive has {len(infos)} entries (limit {limits.max_entries})", entries=len(infos)
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise DocumentTooLarge(
            f"archive declares {total} uncompressed bytes (limit {limits.max_uncompressed_bytes})",
            uncompressed=total,
        )
    ratio = total / max(1, size)
    if total > 1_000_000 and ratio > limits.max_ratio:
        raise DocumentTooLarge(
            f"archive compression ratio {ratio:.0f}:1 over limit {limits.max_ratio:.0f}:1",
            uncompressed=total,
        )


def _block(item: object) -> tuple[bool, str]:
    """Return ``(is_list_item, text)`` for one body item (a paragraph or a table)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if isinstance(item, Paragraph):
        return _paragraph_text(item)
    if isinstance(item, Table):
        return False, _table_text(item)
    return False, ""


def _paragraph_text(paragraph: Paragraph) -> tuple[bool, str]:
    text = " ".join(xml_text(paragraph._p).split())
    if not text:
        return False, ""
    style = paragraph.style
    name = str(getattr(style, "name", "") or "")
    level = _heading_level(name)
    if level:
        return False, f"{'#' * level} {text}"
    if name.lower().startswith("list"):
        return True, f"- {text}"
    return False, text


def xml_text(element: Any) -> str:
    """Text of a ``w:p`` element in order: runs, math (``m:t``), tabs, breaks, text boxes.

    python-docx's ``Paragraph.text`` leaves out equations and text boxes; this walk keeps them,
    skips deleted text and field codes (other tags), and skips ``mc:Fallback`` branches, which
    repeat the ``mc:Choice`` content for old readers.
    """
    parts: list[str] = []
    stack = [element]
    while stack:
        node = stack.pop()
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag == _MC_FALLBACK:
            continue
        if tag in _TEXT_TAGS:
            parts.append(node.text or "")
        elif tag == _W_TAB:
            parts.append(" ")
        elif tag in _BREAK_TAGS or (tag == _W_P and node is not element):
            parts.append("\n")
        stack.extend(reversed(node))
    return "".join(parts)


def _heading_level(style_name: str) -> int:
    if style_name.lower() == "title":
        return 1
    match = _HEADING.match(style_name.strip())
    return min(6, max(1, int(match.group(1)))) if match else 0


def _table_text(table: Table) -> str:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(" ".join(xml_text(p._p) for p in cell.paragraphs).split())
            if not cells or cells[-1] != value:  # merged cells repeat their text
                cells.append(value)
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _merge_lists(blocks: list[tuple[bool, str]]) -> list[str]:
    """Join consecutive list items into one block with one item per line."""
    out: list[str] = []
    previous_was_item = False
    for is_item, text in blocks:
        if not text:
            continue
        if is_item and previous_was_item:
            out[-1] += "\n" + text
        else:
            out.append(text)
        previous_was_item = is_item
    return out
