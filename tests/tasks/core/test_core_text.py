"""Helpers: encoding detection, HTML to text, OCR line assembly, PDF headings."""

from __future__ import annotations

import codecs

import pytest
from kbflow.tasks.core.htmltext import html_to_text
from kbflow.tasks.core.ocr import OcrLine, assemble_lines, crop_to_ink, word_accuracy
from kbflow.tasks.core.pdftext import Line, render_pages
from kbflow.tasks.core.textdecode import declared_html_charset, decode_text


def test_decode_prefers_bom_then_declaration_then_utf8_then_detection() -> None:
    text = "Zürich café — 50 €"
    assert decode_text(codecs.BOM_UTF8 + text.encode()).method == "bom"
    assert decode_text(text.encode("utf-16")).text == text
    declared = decode_text(text.encode("cp1252"), declared="iso-8859-1")
    assert (declared.text, declared.encoding, declared.method) == (text, "cp1252", "declared")
    assert decode_text(text.encode()).method == "utf-8"
    detected = decode_text(("Grüße aus Zürich, schöne Grüße. " * 5).encode("cp1252"))
    assert detected.method == "detected" and "Grüße aus Zürich" in detected.text
    assert decode_text(b"abc", declared="no-such-codec").encoding == "utf-8"


def test_declared_html_charset() -> None:
    assert declared_html_charset(b'<meta charset="windows-1252">') == "windows-1252"
    assert declared_html_charset(
        b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    ) == "iso-8859-1"
    assert declared_html_charset(b"<html><body>no meta</body></html>") is None
    assert declared_html_charset(b"<meta charset=UTF-16LE>") == "utf-8"


def test_html_main_content_and_structure() -> None:
    page = """<html lang="de"><head><title>T</title></head><body>
    <nav>Menu</nav><div role="navigation">More menu</div>
    <main><h2>Fees <small>2025</small></h2><p>Line one<br>line two</p>
    <pre>a  b
c</pre><table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td></td></tr></table>
    <div hidden>secret</div><ul><li>x</li><li>y</li></ul></main>
    <aside>Related</aside><footer>Legal</footer></body></html>"""
    result = html_to_text(page)
    assert result.lang == "de" and result.title == "T"
    assert result.text == (
        "# T\n\n## Fees 2025\n\nLine one\nline two\n\na b\nc\n\nA | B\n1\n\n- x\n- y")


def test_html_falls_back_to_body_when_main_is_tiny() -> None:
    page = "<body><main><p>Hi</p></main><div><p>" + "Real content. " * 20 + "</p></div></body>"
    assert "Real content." in html_to_text(page).text


def test_ocr_lines_are_ordered_into_rows_and_paragraphs() -> None:
    lines = [
        OcrLine("world", 0.9, (200, 10, 300, 30)),
        OcrLine("Hello", 0.8, (10, 12, 120, 31)),
        OcrLine("Next line", 1.0, (10, 40, 200, 60)),
        OcrLine("New paragraph", 1.0, (10, 120, 260, 140)),
    ]
    result = assemble_lines(lines)
    assert result.text == "Hello world\nNext line\n\nNew paragraph"
    assert result.confidence == round((5 * 0.8 + 5 * 0.9 + 9 + 13) / 32, 4)
    assert assemble_lines([]).confidence is None


def test_crop_to_ink_keeps_the_text_and_drops_the_paper() -> None:
    from PIL import Image, ImageDraw

    page = Image.new("L", (1000, 1400), 245)
    ImageDraw.Draw(page).rectangle((100, 200, 400, 260), fill=0)
    cropped = crop_to_ink(page)
    assert cropped.size == (301 + 48, 61 + 48)
    blank = Image.new("L", (50, 50), 255)
    assert crop_to_ink(blank) is blank


def test_word_accuracy() -> None:
    assert word_accuracy("# The bank, today.", "the bank today") == 1.0
    assert word_accuracy("one two three four", "one too three") == 0.5
    assert word_accuracy("", "anything") == 1.0


def test_pdf_headings_from_font_sizes() -> None:
    page1 = [Line("Running header", 8), Line("Big Title", 17), Line("Section", 13),
             Line("Body text that is long enough to dominate the page.", 11),
             Line("Wrapped heading part one", 13), Line("part two", 13), Line("1", 8)]
    page2 = [Line("Running header", 8), Line("More body text on the second page.", 11)]
    first, second = render_pages([page1, page2])
    assert "# Big Title" in first and "## Section" in first
    assert "## Wrapped heading part one part two" in first
    assert "Running header" in first and "#" not in second
    assert render_pages([[Line("OCR text", 0.0)]]) == ["OCR text"]


def test_rapidocr_models_load_from_the_wheel_with_the_network_blocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from kbflow.tasks.core.ocr import RapidOcrEngine
    from PIL import Image, ImageDraw, ImageFont

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    engine = RapidOcrEngine(threads=1)  # a fresh engine: loads every model file again
    image = Image.new("L", (420, 70), 255)
    ImageDraw.Draw(image).text((12, 14), "Offline models", font=ImageFont.load_default(size=32))
    assert engine.recognise(image).text == "Offline models"
