"""Text extraction for every supported media type, with limits and named errors.

``extract(data, media_type)`` returns an :class:`Extracted`: Markdown-flavoured text (headings as
``#`` lines), its sections, page count, OCR use and confidence, the text encoding and warnings.

- PDF (pypdfium2): the text layer, page by page, with headings inferred from font sizes (see
  :mod:`kbflow.tasks.core.pdftext`); a page with fewer than ``Limits.min_page_chars``
  characters of text, or with under 200 characters and an image over 40% of the page (a scan
  with a stamped header), is rendered and OCR'd, and the longer of the two texts kept. Pages
  are joined
  with a form feed (``\\f``) so :func:`kbflow.tasks.core.clean.clean_text` can drop repeated
  headers and footers.
- Images (PNG, JPEG, TIFF, GIF, WebP; every frame up to the page cap): OCR.
- HTML (selectolax): main text; see :mod:`kbflow.tasks.core.htmltext`.
- DOCX (python-docx) after a zip-bomb check; see :mod:`kbflow.tasks.core.docxtext`.
- Plain text and Markdown: decoded with BOM / UTF-8 / charset-normalizer detection;
  underlined (setext) headings become ``#`` lines and Markdown syntax is stripped (see
  :mod:`kbflow.tasks.core.mdtext`).

Errors (all :class:`~kbflow.tasks.core.errors.TaskError`): ``Kbflow.DocumentTooLarge`` over the
byte, page, pixel or decompressed-size caps; ``Kbflow.UnsupportedMediaType``;
``Kbflow.ExtractionFailed`` for corrupt or encrypted files; ``Kbflow.EmptyDocument`` when no
text is found.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from kbflow.tasks.core import media
from kbflow.tasks.core.docxtext import ZipLimits, docx_to_text
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    EmptyDocument,
    ExtractionFailed,
    UnsupportedMediaType,
)
from kbflow.tasks.core.htmltext import html_to_text
from kbflow.tasks.core.mdtext import markdown_to_text, setext_to_atx
from kbflow.tasks.core.ocr import OcrEngine, OcrResult, default_engine
from kbflow.tasks.core.pdftext import Line, page_lines, plain_lines, render_pages
from kbflow.tasks.core.textdecode import declared_html_charset, decode_text

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PAGE_BREAK", "Extracted", "Limits", "Section", "extract", "sections_of"]

_HEADING_LINE: Final = re.compile(
    r"(?:^|(?<=\f))(#{1,6})[ \t]+(\S[^\n\f]*?)[ \t#]*(?=[\n\f]|\Z)", re.MULTILINE
)
PAGE_BREAK: Final = "\f"
_SCAN_MAX_CHARS: Final = 200
_SCAN_COVERAGE: Final = 0.4
PDFIUM_LOCK: Final = threading.Lock()
"""Held around every PDFium call. PDFium is not thread-safe, not even across documents (the
pypdfium2 docs), and task functions run on threads of one process when ``kbflow`` is not given
worker processes: two PDFs extracted at once crashed the process (a segfault in libpdfium).
OCR of a rendered page runs outside it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps applied before and during extraction.

    Attributes:
        max_bytes: Largest accepted document (default 100 MiB).
        max_pages: Most PDF pages or image frames.
        max_ocr_pages: Most pages OCR'd per document; later image-only pages are skipped with a
            warning.
        max_image_pixels: Largest image (or rendered page) in pixels, a decompression-bomb guard.
        min_page_chars: A PDF page with fewer text-layer characters than this is OCR'd.
        ocr_dpi: Resolution at which image-only PDF pages are rendered for OCR.
        zip: Zip-bomb limits for DOCX.
    """

    max_bytes: int = 100 * 1024 * 1024
    max_pages: int = 2000
    max_ocr_pages: int = 200
    max_image_pixels: int = 60_000_000
    min_page_chars: int = 16
    ocr_dpi: int = 150
    zip: ZipLimits = field(default_factory=ZipLimits)


@dataclass(frozen=True, slots=True)
class Section:
    """A heading in the extracted text.

    Attributes:
        level: 1 for ``#``, up to 6.
        title: The heading text without the ``#`` marks.
        start: Character offset of the heading line in :attr:`Extracted.text`.
    """

    level: int
    title: str
    start: int


@dataclass(frozen=True, slots=True)
class Extracted:
    """The result of :func:`extract`.

    Attributes:
        text: Markdown-flavoured text; PDF pages are separated by ``\\f``.
        media_type: The media type that was extracted.
        pages: PDF pages or image frames; 1 for other types.
        sections: Headings found in ``text``, in order.
        ocr_used: True if any text came from OCR.
        ocr_pages: Number of pages or frames that were OCR'd.
        ocr_confidence: Character-weighted mean OCR confidence, ``None`` without OCR.
        encoding: Codec used for text/HTML, ``None`` for binary formats.
        title: The document title when the format has one (HTML ``<title>``, PDF metadata).
        warnings: Non-fatal problems (skipped pages, replacement characters, ...).
    """

    text: str
    media_type: str
    pages: int = 1
    sections: tuple[Section, ...] = ()
    ocr_used: bool = False
    ocr_pages: int = 0
    ocr_confidence: float | None = None
    encoding: str | None = None
    title: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def headings(self) -> tuple[str, ...]:
        """The section titles, in order."""
        return tuple(s.title for s in self.sections)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (sections as dicts)."""
        return asdict(self)


def extract(
    data: bytes,
    media_type: str,
    *,
    ocr: OcrEngine | None = None,
    limits: Limits = Limits(),
) -> Extracted:
    """Extract the text of a document.

    Args:
        data: The document bytes.
        media_type: From :func:`kbflow.tasks.core.media.detect_media_type`.
        ocr: The OCR engine; ``None`` uses the process-wide RapidOCR engine, created on first
            use (documents that need no OCR never load it).
        limits: Size and page caps.

    Returns:
        The :class:`Extracted` text and metadata.

    Raises:
        DocumentTooLarge: ``data`` or its pages, pixels or inflated size exceed ``limits``.
        EmptyDocument: ``data`` is empty or holds no text.
        UnsupportedMediaType: ``media_type`` is not supported.
        ExtractionFailed: The document is corrupt, encrypted or a parser failed.
    """
    if len(data) > limits.max_bytes:
        raise DocumentTooLarge(
            f"document is {len(data)} bytes (limit {limits.max_bytes})", size=len(data)
        )
    if not data or data.isspace():
        raise EmptyDocument("document is empty (0 bytes or only whitespace)", size=len(data))
    handler = _HANDLERS.get(media_type)
    if handler is None:
        raise UnsupportedMediaType(
            f"media type {media_type!r} is not supported", media_type=media_type
        )
    result = handler(data, _Context(ocr, limits))
    text = result.text.strip()
    if not text.replace(PAGE_BREAK, "").strip():
        raise EmptyDocument(
            f"no text found in {media_type} ({result.pages} page(s))", media_type=media_type
        )
    return Extracted(
        text=text,
        media_type=media_type,
        pages=result.pages,
        sections=sections_of(text),
        ocr_used=result.ocr_pages > 0,
        ocr_pages=result.ocr_pages,
        ocr_confidence=_mean_confidence(result.ocr_results),
        encoding=result.encoding,
        title=result.title,
        warnings=tuple(result.warnings),
    )


def sections_of(text: str) -> tuple[Section, ...]:
    """Return the Markdown ATX headings (``# Title``) in ``text`` with their offsets."""
    return tuple(
        Section(level=len(m.group(1)), title=m.group(2).strip(), start=m.start())
        for m in _HEADING_LINE.finditer(text)
    )


@dataclass(slots=True)
class _Context:
    engine: OcrEngine | None
    limits: Limits

    def ocr(self, image: Image.Image) -> OcrResult:
        if self.engine is None:
            self.engine = default_engine()
        return self.engine.recognise(image)


@dataclass(slots=True)
class _Partial:
    text: str
    pages: int = 1
    ocr_pages: int = 0
    ocr_results: list[OcrResult] = field(default_factory=list)
    encoding: str | None = None
    title: str = ""
    warnings: list[str] = field(default_factory=list)


def _extract_pdf(data: bytes, ctx: _Context) -> _Partial:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise ExtractionFailed(f"cannot open PDF: {exc}") from exc
    try:
        return _pdf_pages(document, ctx)
    finally:
        with PDFIUM_LOCK:
            document.close()


def _pdf_pages(document: Any, ctx: _Context) -> _Partial:
    with PDFIUM_LOCK:
        count = len(document)
        title = _pdf_title(document)
    if count > ctx.limits.max_pages:
        raise DocumentTooLarge(
            f"PDF has {count} pages (limit {ctx.limits.max_pages})", pages=count
        )
    out = _Partial(text="", pages=count, title=title)
    pages: list[list[Line]] = []
    for index in range(count):
        lines, scan = _pdf_page(document, index, ctx, out)
        if scan is not None:  # OCR outside the lock: other threads' PDFs go on meanwhile
            result = ctx.ocr(scan)
            out.ocr_pages += 1
            out.ocr_results.append(result)
            if len(result.text.strip()) > sum(len(line.text.strip()) for line in lines):
                lines = plain_lines(result.text)
        pages.append(lines)
    out.text = PAGE_BREAK.join(render_pages(pages))
    return out


def _pdf_page(
    document: Any, index: int, ctx: _Context, out: _Partial
) -> tuple[list[Line], Image.Image | None]:
    """The page's text-layer lines, and its rendering when it needs OCR (under the lock)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            page = document[index]
            try:
                return _page_lines_or_scan(page, index, ctx, out)
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise ExtractionFailed(f"cannot read PDF page {index + 1}: {exc}") from exc


def _page_lines_or_scan(
    page: Any, index: int, ctx: _Context, out: _Partial
) -> tuple[list[Line], Image.Image | None]:
    textpage = page.get_textpage()
    try:
        lines = page_lines(textpage)
    finally:
        textpage.close()
    chars = sum(len(line.text.strip()) for line in lines)
    if chars >= ctx.limits.min_page_chars and not (
        chars < _SCAN_MAX_CHARS and _image_coverage(page) >= _SCAN_COVERAGE
    ):
        return lines, None
    if out.ocr_pages >= ctx.limits.max_ocr_pages:
        out.warnings.append(f"page {index + 1}: no text layer; OCR page cap reached, skipped")
        return lines, None
    width, height = page.get_size()
    scale = ctx.limits.ocr_dpi / 72
    if width * height * scale * scale > ctx.limits.max_image_pixels:
        scale = (ctx.limits.max_image_pixels / max(1.0, width * height)) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        # A copy in PIL's own memory: the bitmap is freed here, under the lock, not by
        # whichever thread drops the image later.
        return lines, bitmap.to_pil().copy()
    finally:
        bitmap.close()


def _image_coverage(page: Any) -> float:
    """Share of the page covered by its largest image (a scan with a stamped text line)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    best = 0.0
    try:
        for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            left, bottom, right, top = image.get_bounds()
            best = max(best, abs(float(right) - float(left)) * abs(float(top) - float(bottom)))
    except Exception:  # noqa: BLE001 - a malformed object only means "no scan detected"
        return 0.0
    return best / max(1.0, float(width) * float(height))


def _pdf_title(document: Any) -> str:
    try:
        title = document.get_metadata_value("Title")
    except Exception:  # noqa: BLE001 - metadata is optional and never fatal
        return ""
    return " ".join(str(title or "").split())


def _extract_image(data: bytes, ctx: _Context) -> _Partial:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ExtractionFailed(f"cannot open image: {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentTooLarge(f"image is too large: {exc}") from exc
    if width * height > ctx.limits.max_image_pixels:
        raise DocumentTooLarge(
            f"image is {width}x{height} pixels (limit {ctx.limits.max_image_pixels})",
            pixels=width * height,
        )
    if frames > ctx.limits.max_pages:
        raise DocumentTooLarge(f"image has {frames} frames (limit {ctx.limits.max_pages})")
    out = _Partial(text="", pages=frames)
    texts = [_ocr_frame(frame, ctx, out) for frame in _frames(image, frames, ctx)]
    out.text = PAGE_BREAK.join(texts)
    return out


def _frames(image: Image.Image, count: int, ctx: _Context) -> Iterator[Image.Image]:
    for index in range(min(count, ctx.limits.max_ocr_pages)):
        try:
            image.seek(index)
            image.load()
        except (OSError, EOFError, ValueError) as exc:
            raise ExtractionFailed(f"cannot decode image frame {index + 1}: {exc}") from exc
        yield image.convert("RGB")


def _ocr_frame(frame: Image.Image, ctx: _Context, out: _Partial) -> str:
    result = ctx.ocr(frame)
    out.ocr_pages += 1
    out.ocr_results.append(result)
    return result.text


def _extract_html(data: bytes, ctx: _Context) -> _Partial:
    decoded = decode_text(data, declared=declared_html_charset(data))
    page = html_to_text(decoded.text)
    out = _Partial(text=page.text, encoding=decoded.encoding, title=page.title)
    _warn_replacements(decoded.text, out)
    return out


def _extract_docx(data: bytes, ctx: _Context) -> _Partial:
    return _Partial(text=docx_to_text(data, ctx.limits.zip))


def _extract_text(data: bytes, ctx: _Context) -> _Partial:
    decoded = decode_text(data)
    text = setext_to_atx(decoded.text.replace("\r\n", "\n").replace("\r", "\n"))
    out = _Partial(text=text, encoding=decoded.encoding)
    _warn_replacements(text, out)
    return out


def _extract_markdown(data: bytes, ctx: _Context) -> _Partial:
    decoded = decode_text(data)
    text = markdown_to_text(decoded.text.replace("\r\n", "\n").replace("\r", "\n"))
    out = _Partial(text=text, encoding=decoded.encoding)
    _warn_replacements(text, out)
    return out


def _warn_replacements(text: str, out: _Partial) -> None:
    count = text.count("\ufffd")
    if count:
        out.warnings.append(f"{count} undecodable byte sequence(s) replaced")


def _mean_confidence(results: list[OcrResult]) -> float | None:
    weighted = [(r.confidence, len(r.text)) for r in results if r.confidence is not None]
    total = sum(n for _, n in weighted)
    if not total:
        return None
    return round(sum(c * n for c, n in weighted) / total, 4)


_HANDLERS: Final[dict[str, Callable[[bytes, _Context], _Partial]]] = {
    media.PDF: _extract_pdf,
    media.HTML: _extract_html,
    media.DOCX: _extract_docx,
    media.PLAIN: _extract_text,
    media.MARKDOWN: _extract_markdown,
    **{image_type: _extract_image for image_type in media.IMAGE_TYPES},
}
