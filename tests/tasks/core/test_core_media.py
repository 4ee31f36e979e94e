"""Media-type detection by content, the extension only breaking ties."""

from __future__ import annotations

import io
import random
import zipfile

import pytest
from kbflow.tasks.core import media
from kbflow.tasks.core.media import detect_media_type, is_supported, looks_like_text
from kbflow.tasks.core.samples import SampleFile, docx_bytes, image_bytes, pdf_bytes, text_image


def test_every_sample_is_detected_by_content(corpus: dict[str, SampleFile]) -> None:
    for sample in corpus.values():
        assert detect_media_type(sample.data, sample.path) == sample.media_type, sample.path


def test_content_wins_over_a_misleading_extension() -> None:
    pdf = pdf_bytes("# T\n\nSome text.", title="t")
    docx = docx_bytes("# T\n\nSome text.", title="t")
    png = image_bytes(text_image("Hi", width=200, font_size=12))
    assert detect_media_type(pdf, "report.docx") == media.PDF
    assert detect_media_type(docx, "report.pdf") == media.DOCX
    assert detect_media_type(png, "notes.txt") == media.PNG
    assert detect_media_type(b"<!DOCTYPE html><html><body>x</body></html>", "a.txt") == media.HTML


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", media.JPEG),
        (b"II*\x00\x08\x00\x00\x00", media.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", media.TIFF),
        (b"GIF89a\x01\x00", media.GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", media.WEBP),
        (b"\n\n%PDF-1.7\n", media.PDF),
    ],
)
def test_magic_bytes(head: bytes, expected: str) -> None:
    assert detect_media_type(head + b"\x00" * 64, "x.bin") == expected


def test_binary_named_txt_is_not_text() -> None:
    data = b"LEDGER\x00\x01" + random.Random(1).randbytes(2000)
    assert detect_media_type(data, "ledger.txt") == media.OCTET_STREAM
    assert detect_media_type(b"\x7fELF\x02\x01\x01" + b"a" * 100, "tool.txt") == media.OCTET_STREAM
    assert detect_media_type(b"\x1f\x8b\x08" + b"a" * 100, "log.txt") == media.OCTET_STREAM


def test_text_needs_few_control_characters() -> None:
    assert looks_like_text("Grüße, café\n\ttab\r\n".encode())
    assert looks_like_text("latin-1 caf\xe9".encode("latin-1"))
    assert looks_like_text("\ufeffUTF-16 with BOM".encode("utf-16"))
    assert not looks_like_text(bytes(range(1, 32)) * 4)


def test_zip_that_is_not_docx_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    assert detect_media_type(buffer.getvalue(), "contract.docx") == media.OCTET_STREAM


def test_truncated_docx_is_still_docx_so_extraction_reports_it_corrupt() -> None:
    docx = docx_bytes("# Title\n\nBody", title="t")
    assert detect_media_type(docx[: len(docx) // 2], "cut.docx") == media.DOCX


def test_text_subtypes_use_the_extension_as_tie_breaker() -> None:
    assert detect_media_type(b"# Heading\n\nBody text.\n", "README.md") == media.MARKDOWN
    assert detect_media_type(b"# Heading\n\nBody text.\n", "notes.txt") == media.PLAIN
    assert detect_media_type(b"<div>badge</div>\n# Project\n", "README.md") == media.MARKDOWN
    assert detect_media_type(b"Plain words only", "page.html") == media.PLAIN
    assert detect_media_type(b"<!-- c -->\n<html><p>x</p></html>", "x") == media.HTML
    assert detect_media_type(b"Some text", "") == media.PLAIN


def test_empty_and_unknown_are_unsupported() -> None:
    assert detect_media_type(b"", "empty.txt") == media.OCTET_STREAM
    assert not is_supported(media.OCTET_STREAM)
    assert not is_supported(media.GIF.replace("gif", "bmp"))
    assert all(is_supported(t) for t in media.SUPPORTED)
