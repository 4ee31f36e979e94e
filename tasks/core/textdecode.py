"""Decoding text bytes whose encoding is not declared reliably.

The order is: byte-order mark; an explicit declaration (for HTML, ``<meta charset>`` or
``<meta http-equiv="Content-Type" content="...; charset=...">`` in the first 2 KB, as browsers
pre-scan); strict UTF-8 (which almost never decodes non-UTF-8 text by accident); and last
``charset-normalizer``'s statistical guess. ``latin-1``/``iso-8859-1``/``ascii`` labels are read as
``windows-1252``, as the WHATWG Encoding standard specifies and as every browser does.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

from kbflow.tasks.core.errors import ExtractionFailed

__all__ = ["Decoded", "decode_text", "declared_html_charset"]

_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET: Final = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_WHATWG_ALIASES: Final = {
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-user-defined": "cp1252",
    "utf8": "utf-8",
    "unicode": "utf-16",
}


_SINGLE_BYTE_LATIN: Final = frozenset(
    {"cp1250", "cp1254", "cp1257", "iso8859-2", "iso8859-9", "iso8859-15", "iso8859-1", "mac-roman"}
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text and how it was decoded.

    Attributes:
        text: The decoded text (without a BOM).
        encoding: A Python codec name, e.g. ``utf-8`` or ``cp1252``.
        method: ``bom``, ``declared``, ``utf-8`` or ``detected``.
    """

    text: str
    encoding: str
    method: str


def decode_text(data: bytes, *, declared: str | None = None) -> Decoded:
    """Decode ``data`` to text.

    Args:
        data: The raw bytes.
        declared: An encoding label from the document or its transport (e.g. a ``<meta>``
            charset); used only when there is no BOM and only if Python knows the codec.

    Returns:
        The :class:`Decoded` text.

    Raises:
        ExtractionFailed: No encoding decodes the bytes.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(_decode(data, codec, "replace"), _canonical(codec), "bom")
    declared_codec = _known_codec(declared)
    if declared_codec is not None:
        return Decoded(_decode(data, declared_codec, "replace"), declared_codec, "declared")
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    return _detect(data)


def declared_html_charset(data: bytes) -> str | None:
    """Return the charset an HTML document declares in its first 2 KB, if any.

    A ``<meta>`` that declares UTF-16 was found by an ASCII-compatible scan, so the page
    cannot be UTF-16: it is read as UTF-8, as the HTML standard prescribes.
    """
    match = _META_CHARSET.search(data[:2048])
    if not match:
        return None
    label = match.group(1).decode("ascii", "replace").lower()
    return "utf-8" if label.startswith(("utf-16", "utf16")) else label


def _detect(data: bytes) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:262144]).best()
    if best is None or best.encoding is None:
        # Bytes no codec explains (random binary): windows-1252 decodes everything but 5 bytes.
        return Decoded(_decode(data, "cp1252", "replace"), "cp1252", "detected")
    codec = _known_codec(best.encoding) or "cp1252"
    text = _decode(data, codec, "replace")
    if codec != "cp1252" and codec in _SINGLE_BYTE_LATIN:
        # Latin-2/-15/... guesses that read the bytes exactly as windows-1252 does: report the
        # far more common windows-1252 (charset-normalizer cannot tell them apart either).
        try:
            if data.decode("cp1252") == text:
                codec = "cp1252"
        except UnicodeDecodeError:
            pass
    return Decoded(text, codec, "detected")


def _known_codec(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().lower()
    name = _WHATWG_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _canonical(codec: str) -> str:
    return "utf-8" if codec == "utf-8-sig" else codecs.lookup(codec).name


def _decode(data: bytes, codec: str, errors: str) -> str:
    try:
        return data.decode(codec, errors)
    except (LookupError, UnicodeError) as exc:
        raise ExtractionFailed(f"cannot decode text as {codec}", encoding=codec) from exc
