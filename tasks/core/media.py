"""Media-type detection by content, with the file extension only as a tie-breaker.

The order of evidence is:

1. magic bytes (PDF, PNG, JPEG, TIFF, GIF, WebP, ZIP, and a few well-known unsupported binaries);
2. a ZIP is DOCX only if its central directory names ``[Content_Types].xml`` and
   ``word/document.xml`` (an ``.docx`` that is some other ZIP is unsupported);
3. HTML sniffing on the first bytes (doctype or a leading ``<html``/``<head``/``<body`` tag,
   as the WHATWG MIME sniffing standard does);
4. text versus binary: NUL bytes or a high share of control characters make a file binary,
   whatever its name (a binary named ``.txt`` is not text);
5. for text, the extension decides between Markdown, HTML and plain text.

Supported results are the ``*_`` constants below; anything else is :data:`OCTET_STREAM`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath
from typing import Final

__all__ = [
    "DOCX",
    "GIF",
    "HTML",
    "JPEG",
    "MARKDOWN",
    "OCTET_STREAM",
    "PDF",
    "PLAIN",
    "PNG",
    "SUPPORTED",
    "TIFF",
    "WEBP",
    "IMAGE_TYPES",
    "detect_media_type",
    "is_supported",
    "looks_like_text",
]

PDF: Final = "application/pdf"
PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
TIFF: Final = "image/tiff"
GIF: Final = "image/gif"
WEBP: Final = "image/webp"
HTML: Final = "text/html"
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLAIN: Final = "text/plain"
MARKDOWN: Final = "text/markdown"
OCTET_STREAM: Final = "application/octet-stream"

IMAGE_TYPES: Final = frozenset({PNG, JPEG, TIFF, GIF, WEBP})
"""Image types extracted by OCR."""

SUPPORTED: Final = frozenset({PDF, HTML, DOCX, PLAIN, MARKDOWN}) | IMAGE_TYPES
"""Every media type :func:`kbflow.tasks.core.extract.extract` accepts."""

_SNIFF_BYTES: Final = 8192
_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
)
# Binary formats recognised only to refuse them early (never text, whatever the extension).
_BINARY_MAGIC: Final[tuple[bytes, ...]] = (
    b"\x7fELF",
    b"MZ",
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE2 (legacy .doc/.xls)
    b"\x00\x00\x01\x00",  # .ico
    b"OggS",
    b"fLaC",
    b"ID3",
    b"SQLite format 3\x00",
)
_HTML_TAGS: Final = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<title",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<table",
    b"<p>",
    b"<p ",
    b"<br",
    b"<a ",
    b"<b>",
    b"<font",
    b"<style",
)
_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_MARKDOWN_EXT: Final = frozenset({".md", ".markdown", ".mdown", ".mkd"})
_HTML_EXT: Final = frozenset({".html", ".htm", ".xhtml"})


def detect_media_type(data: bytes, filename: str = "") -> str:
    """Detect a document's media type from its bytes, using the name only to break ties.

    Args:
        data: The whole document (or at least its first few KB plus, for ZIPs, the whole file).
        filename: The object key or file name; only its extension is used.

    Returns:
        One of the module's media-type constants; :data:`OCTET_STREAM` when unsupported
        (including empty input).
    """
    if not data:
        return OCTET_STREAM
    head = data[:_SNIFF_BYTES]
    by_magic = _sniff_magic(head)
    if by_magic is not None:
        return by_magic
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return DOCX if _is_docx(data) else OCTET_STREAM
    if any(head.startswith(sig) for sig in _BINARY_MAGIC):
        return OCTET_STREAM
    if not looks_like_text(head):
        return OCTET_STREAM
    return _text_type(head, _extension(filename))


def is_supported(media_type: str) -> bool:
    """Return True if :func:`~kbflow.tasks.core.extract.extract` accepts ``media_type``."""
    return media_type in SUPPORTED


def looks_like_text(head: bytes) -> bool:
    """Return True if ``head`` looks like text in some 8-bit or UTF encoding.

    UTF-16/32 text is recognised by its byte-order mark. Otherwise a NUL byte means binary, and
    so does more than 5% of C0 control characters other than tab, newline, CR, FF and ESC.
    """
    if head.startswith(_BOMS):
        return True
    if b"\x00" in head:
        return False
    allowed = {9, 10, 12, 13, 27}
    controls = sum(1 for b in head if b < 32 and b not in allowed) + head.count(b"\x7f")
    return controls <= len(head) * 0.05


def _sniff_magic(head: bytes) -> str | None:
    if head[:1024].lstrip(b"\x00\t\n\r ").startswith(b"%PDF-") or head.startswith(b"%PDF-"):
        return PDF
    for signature, media_type in _MAGIC:
        if head.startswith(signature):
            return media_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    return None


def _is_docx(data: bytes) -> bool:
    """Return True if ``data`` is a ZIP whose directory has the two parts every DOCX has."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        # A truncated DOCX still names its parts in the local headers near the start.
        return b"[Content_Types].xml" in data[:_SNIFF_BYTES * 8] and b"word/" in data
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _text_type(head: bytes, ext: str) -> str:
    if _looks_like_html(head):
        return MARKDOWN if ext in _MARKDOWN_EXT and not _starts_with_html(head) else HTML
    if ext in _MARKDOWN_EXT:
        return MARKDOWN
    if ext in _HTML_EXT:
        # Named .html but no markup at the start: still HTML if tags appear anywhere.
        return HTML if b"<" in head and b">" in head else PLAIN
    return PLAIN


def _starts_with_html(head: bytes) -> bool:
    lowered = _strip_leading(head).lower()
    return lowered.startswith((b"<!doctype html", b"<html"))


def _looks_like_html(head: bytes) -> bool:
    lowered = _strip_leading(head).lower()
    if lowered.startswith(b"<?xml") and b"<html" in lowered[:1024]:
        return True
    if lowered.startswith(b"<!--"):
        end = lowered.find(b"-->")
        lowered = _strip_leading(lowered[end + 3 :]) if end >= 0 else b""
    return lowered.startswith(_HTML_TAGS)


def _strip_leading(head: bytes) -> bytes:
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    # UTF-16 HTML: drop NULs from the sniffed prefix so the tag test still works.
    return head.replace(b"\x00", b"").lstrip(b" \t\r\n\x0c")


def _extension(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()
