"""extract(): every media type on real document bytes, and every bad input's named error."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import pytest
from core_fakes import FakeOcr
from fpdf import FPDF
from kbflow.tasks.core import media
from kbflow.tasks.core.docxtext import ZipLimits
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    EmptyDocument,
    ExtractionFailed,
    UnsupportedMediaType,
)
from kbflow.tasks.core.extract import (
    PAGE_BREAK,
    PDFIUM_LOCK,
    Extracted,
    Limits,
    extract,
    sections_of,
)
from kbflow.tasks.core.ocr import OcrResult
from kbflow.tasks.core.samples import (
    SampleFile,
    docx_bytes,
    html_bytes,
    image_bytes,
    pdf_bytes,
    text_image,
)
from PIL import Image

POLICY = """# Card Policy

## Scope

This policy covers debit cards and credit cards issued by the bank.

## Limits

- Daily cash limit of 500 EUR.
- Daily spending limit of 5000 EUR.

| Card | Annual fee |
| Classic | 0 EUR |
| Gold | 90 EUR |
"""


def _blank_pdf(pages: int = 1) -> bytes:
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
    return bytes(pdf.output())


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_text_layer_with_headings_pages_and_title(fake_ocr: FakeOcr) -> None:
    data = pdf_bytes(POLICY, title="Card policy", running_header="Bank - Internal",
                     page_per_section=True)
    result = extract(data, media.PDF, ocr=fake_ocr)
    assert result.pages == 2
    assert result.text.count(PAGE_BREAK) == 1
    first, second = result.text.split(PAGE_BREAK)
    assert "## Scope" in first and "## Limits" not in first and "## Limits" in second
    assert result.headings == ("Card Policy", "Scope", "Limits")
    assert [s.level for s in result.sections] == [1, 2, 2]
    assert "This policy covers debit cards and credit cards" in result.text
    assert "Classic" in result.text and "90 EUR" in result.text
    assert result.title == "Card policy"
    assert not result.ocr_used and result.ocr_confidence is None and fake_ocr.images == []


def test_pdf_page_without_text_layer_is_ocrd(fake_ocr: FakeOcr) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "A page with a real text layer, long enough to count.")
    pdf.add_page()  # image-only in a scan; here simply no text at all
    result = extract(bytes(pdf.output()), media.PDF, ocr=fake_ocr)
    assert len(fake_ocr.images) == 1
    width, height = fake_ocr.images[0]
    assert 1200 < width < 1300 and height > width  # A4 rendered at 150 dpi
    assert result.ocr_used and result.ocr_pages == 1 and result.ocr_confidence == 0.9
    first, second = result.text.split(PAGE_BREAK)
    assert "real text layer" in first and second == fake_ocr.text


def test_scan_with_a_stamped_text_line_is_still_ocrd(fake_ocr: FakeOcr) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 6, "Scanned by Harbourview Bank archive, 2025")  # a real text layer, short
    pdf.image(Image.new("L", (600, 800), 200), x=10, y=20, w=190)
    fake_ocr.text = "The whole scanned page, read by OCR, is longer than the stamp."
    result = extract(bytes(pdf.output()), media.PDF, ocr=fake_ocr)
    assert len(fake_ocr.images) == 1 and result.text == fake_ocr.text
    with_text = pdf_bytes(POLICY, title="t")  # real text, no image: never OCR'd
    assert not extract(with_text, media.PDF, ocr=fake_ocr).ocr_used


def test_ocr_of_a_scanned_page_runs_outside_the_pdfium_lock() -> None:
    held: list[bool] = []

    class LockProbe(FakeOcr):
        def recognise(self, image: Image.Image) -> OcrResult:
            held.append(PDFIUM_LOCK.locked())
            image.load()  # the rendering is PIL's own copy, usable after the page is closed
            return super().recognise(image)

    result = extract(_blank_pdf(2), media.PDF, ocr=LockProbe())
    assert held == [False, False] and result.ocr_pages == 2
    assert not PDFIUM_LOCK.locked()


def test_pdfs_extracted_on_many_threads_at_once() -> None:
    """PDFium is not thread-safe: without the lock this crashed the process (segfault)."""
    from concurrent.futures import ThreadPoolExecutor

    docs = [pdf_bytes(POLICY * (1 + i % 3), title=f"t{i}") for i in range(6)]
    scans = [_blank_pdf(2) for _ in range(2)]
    expected = [extract(d, media.PDF).text for d in docs]

    def work(i: int) -> str:
        if i % 4 == 3:
            return str(extract(scans[i % 2], media.PDF, ocr=FakeOcr()).ocr_pages)
        return extract(docs[i % len(docs)], media.PDF).text

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(96)))
    for i, text in enumerate(results):
        assert text == ("2" if i % 4 == 3 else expected[i % len(docs)]), i


def test_pdf_ocr_page_cap_skips_with_a_warning(fake_ocr: FakeOcr) -> None:
    data = pdf_bytes("Enough text on page one to skip OCR.", title="t")
    pdf = _blank_pdf(3)
    with pytest.raises(EmptyDocument):
        extract(pdf, media.PDF, ocr=FakeOcr(text=""))
    result = extract(pdf, media.PDF, ocr=fake_ocr, limits=Limits(max_ocr_pages=1))
    assert len(fake_ocr.images) == 1
    assert len(result.warnings) == 2 and "OCR page cap" in result.warnings[0]
    assert extract(data, media.PDF, ocr=fake_ocr).pages == 1


def test_corrupt_and_encrypted_pdfs_fail_extraction(corpus: dict[str, SampleFile]) -> None:
    with pytest.raises(ExtractionFailed, match="cannot open PDF"):
        extract(corpus["bad/quarterly-report-q3.pdf"].data, media.PDF)
    with pytest.raises(ExtractionFailed):
        extract(b"%PDF-1.7\n" + b"garbage " * 50, media.PDF)
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 10, "Confidential")
    with pytest.raises(ExtractionFailed, match="password|Incorrect|security"):
        extract(bytes(pdf.output()), media.PDF)


def test_pdf_page_cap() -> None:
    with pytest.raises(DocumentTooLarge, match="5 pages") as info:
        extract(_blank_pdf(5), media.PDF, limits=Limits(max_pages=4))
    assert info.value.details == {"pages": 5}


# --- size, emptiness, type --------------------------------------------------------------------


def test_byte_cap_default_is_100_mib() -> None:
    big = b"a" * (100 * 1024 * 1024 + 1)
    with pytest.raises(DocumentTooLarge, match="limit 104857600"):
        extract(big, media.PLAIN)
    with pytest.raises(DocumentTooLarge):
        extract(b"small but over the cap", media.PLAIN, limits=Limits(max_bytes=10))


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "])
def test_empty_files_are_empty_documents(data: bytes) -> None:
    with pytest.raises(EmptyDocument):
        extract(data, media.PLAIN)


def test_documents_without_text_are_empty(fake_ocr: FakeOcr) -> None:
    with pytest.raises(EmptyDocument, match="no text found"):
        extract(b"<html><script>var a = 1;</script><nav>Home</nav></html>", media.HTML)
    with pytest.raises(EmptyDocument):
        extract(docx_bytes("", title="empty"), media.DOCX)
    with pytest.raises(EmptyDocument):
        extract(_blank_pdf(2), media.PDF, ocr=FakeOcr(text=""))


def test_unsupported_media_type() -> None:
    with pytest.raises(UnsupportedMediaType, match="application/zip") as info:
        extract(b"PK\x03\x04rest", "application/zip")
    assert type(info.value).__name__ == "Kbflow.UnsupportedMediaType"
    with pytest.raises(UnsupportedMediaType):
        extract(b"\x00\x01\x02", media.OCTET_STREAM)


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_headings_lists_and_tables_in_order() -> None:
    result = extract(docx_bytes(POLICY, title="Card policy"), media.DOCX)
    assert result.headings == ("Card Policy", "Scope", "Limits")
    assert "- Daily cash limit of 500 EUR.\n- Daily spending limit of 5000 EUR." in result.text
    assert "Card | Annual fee\nClassic | 0 EUR\nGold | 90 EUR" in result.text
    assert result.text.index("## Limits") < result.text.index("Gold | 90 EUR")


def test_docx_keeps_equations_and_text_boxes_once() -> None:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    paragraph = document.add_paragraph("Energy: ")
    paragraph._p.append(parse_xml(
        '<m:oMath xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math">'
        "<m:r><m:t>E=mc</m:t></m:r><m:sSup><m:e/><m:sup><m:r><m:t>2</m:t></m:r></m:sup>"
        "</m:sSup></m:oMath>"))
    box = document.add_paragraph()
    box._p.append(parse_xml(
        '<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<mc:Choice Requires=\"wps\"><w:r><w:t>Boxed note</w:t></w:r></mc:Choice>"
        "<mc:Fallback><w:r><w:t>Boxed note</w:t></w:r></mc:Fallback></mc:AlternateContent>"))
    buffer = io.BytesIO()
    document.save(buffer)
    result = extract(buffer.getvalue(), media.DOCX)
    assert result.text == "Energy: E=mc2\n\nBoxed note"


def test_corrupt_docx_fails_extraction() -> None:
    data = docx_bytes(POLICY, title="t")
    with pytest.raises(ExtractionFailed):
        extract(data[: len(data) // 2], media.DOCX)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not-closed")
    with pytest.raises(ExtractionFailed):
        extract(buffer.getvalue(), media.DOCX)


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * (48 * 1024 * 1024))
    return buffer.getvalue()


def test_zip_bomb_named_docx_is_refused_before_parsing() -> None:
    bomb = _zip_bomb()
    assert len(bomb) < 200_000
    assert media.detect_media_type(bomb, "invoice.docx") == media.DOCX
    with pytest.raises(DocumentTooLarge, match="compression ratio"):
        extract(bomb, media.DOCX)
    small = docx_bytes(POLICY, title="t")
    with pytest.raises(DocumentTooLarge, match="uncompressed bytes"):
        extract(small, media.DOCX, limits=Limits(zip=ZipLimits(max_uncompressed_bytes=10_000)))
    with pytest.raises(DocumentTooLarge, match="entries"):
        extract(small, media.DOCX, limits=Limits(zip=ZipLimits(max_entries=3)))


# --- HTML and text -----------------------------------------------------------------------------


def test_html_main_text_headings_and_chrome_dropped() -> None:
    result = extract(html_bytes(POLICY, title="Cards"), media.HTML)
    assert result.headings == ("Card Policy", "Scope", "Limits")
    assert "- Daily cash limit of 500 EUR." in result.text
    assert "Classic | 0 EUR" in result.text
    for chrome in ("Contact us", "Cookie settings", "analytics", "font-family"):
        assert chrome not in result.text
    assert result.title == "Cards | Harbourview Bank"
    assert result.encoding == "utf-8"


def test_html_in_windows_1252_honours_meta_charset(corpus: dict[str, SampleFile]) -> None:
    sample = corpus["regulations/consumer-credit-directive-notes.html"]
    assert b"Z\xfcrich" in sample.data  # really cp1252 bytes on disk
    result = extract(sample.data, media.HTML)
    assert result.encoding == "cp1252"
    assert "Zürich and Genève" in result.text and "bank’s “Kreditprüfung”" in result.text
    assert "\ufffd" not in result.text and not result.warnings


def test_html_without_declaration_is_detected() -> None:
    page = ("<html><body><p>Gebühren für Überweisungen: 2 € pro Auftrag, café crème.</p>"
            "</body></html>")
    result = extract(page.encode("cp1252"), media.HTML)
    assert "Gebühren für Überweisungen" in result.text


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_plain_text_encodings(codec: str) -> None:
    text = "Überweisung an Café Zürich: 50 € — bitte bestätigen.\n" * 3
    result = extract(text.encode(codec), media.PLAIN)
    assert result.text == text.strip().replace("\r\n", "\n")
    assert result.encoding is not None


def test_markdown_keeps_headings_and_crlf_is_normalised() -> None:
    result = extract(b"# Title\r\n\r\nBody.\r\n\r\n## Part\r\n\r\nMore.", media.MARKDOWN)
    assert result.text == "# Title\n\nBody.\n\n## Part\n\nMore."
    assert [(s.level, s.title, s.start) for s in result.sections] == [
        (1, "Title", 0), (2, "Part", 16)]


# --- images -----------------------------------------------------------------------------------


def test_image_of_text_is_read_by_real_ocr(ocr_engine: object) -> None:
    from kbflow.tasks.core.ocr import word_accuracy

    source = "# Opening Hours\n\nMonday to Friday from 9 to 17.\n\nSaturday from 10 to 13."
    png = image_bytes(text_image(source, width=900, font_size=30))
    result = extract(png, media.PNG, ocr=ocr_engine)  # type: ignore[arg-type]
    assert result.ocr_used and result.pages == 1
    assert result.ocr_confidence is not None and result.ocr_confidence > 0.85
    assert word_accuracy(source, result.text) >= 0.9, result.text


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels (no pixel data follows)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat) - 4)
        + idat
        + struct.pack(">I", zlib.crc32(idat))
    )


def test_decompression_bomb_images_are_refused_from_the_header(fake_ocr: FakeOcr) -> None:
    with pytest.raises(DocumentTooLarge):
        extract(_png_header(30_000, 30_000), media.PNG, ocr=fake_ocr)  # Pillow's own guard
    with pytest.raises(DocumentTooLarge, match="pixels"):
        extract(_png_header(9_000, 9_000), media.PNG, ocr=fake_ocr)  # our 60 MP cap
    assert fake_ocr.images == []


def test_xml_entity_bomb_in_docx_is_not_expanded() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "lol">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
        'main"><w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>'
    )
    data = docx_bytes("Placeholder", title="t")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            body = laughs.encode() if info.filename == "word/document.xml" else src.read(info)
            dst.writestr(info.filename, body)
    with pytest.raises((EmptyDocument, ExtractionFailed)):
        extract(buffer.getvalue(), media.DOCX)


def test_multi_frame_tiff_ocrs_every_frame(fake_ocr: FakeOcr) -> None:
    frames = [Image.new("L", (120, 80), 255), Image.new("L", (120, 80), 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    result = extract(buffer.getvalue(), media.TIFF, ocr=fake_ocr)
    assert result.pages == 2 and result.ocr_pages == 2 and len(fake_ocr.images) == 2
    assert result.text.count(PAGE_BREAK) == 1


def test_bad_images(fake_ocr: FakeOcr) -> None:
    png = image_bytes(Image.new("L", (400, 300), 255))
    with pytest.raises(DocumentTooLarge, match="pixels"):
        extract(png, media.PNG, ocr=fake_ocr, limits=Limits(max_image_pixels=100_000))
    with pytest.raises(ExtractionFailed, match="cannot"):
        extract(png[:60] + b"\0" * 40, media.PNG, ocr=fake_ocr)
    with pytest.raises(ExtractionFailed):
        extract(b"\x89PNG\r\n\x1a\nnot really", media.PNG, ocr=fake_ocr)


def test_ocr_engine_is_not_loaded_for_documents_without_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kbflow.tasks.core.extract as module

    def boom() -> None:
        raise AssertionError("OCR engine created for a text document")

    monkeypatch.setattr(module, "default_engine", boom)
    assert extract(pdf_bytes(POLICY, title="t"), media.PDF).pages == 1
    assert extract(docx_bytes(POLICY, title="t"), media.DOCX).headings


# --- result -----------------------------------------------------------------------------------


def test_result_is_frozen_and_json_ready() -> None:
    result = extract(b"# A\n\nText", media.MARKDOWN)
    assert isinstance(result, Extracted)
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["sections"] == [{"level": 1, "title": "A", "start": 0}]
    assert sections_of("no headings\n#not a heading") == ()
