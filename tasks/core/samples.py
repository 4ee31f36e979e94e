"""A small, deterministic sample corpus of every supported type, made by kbflow itself.

:func:`sample_files` returns about two dozen documents of a fictional bank (policies,
regulations, procedures, customer correspondence) as PDFs with a text layer (fpdf2), a scanned
PDF and PNG/JPEG images of text (Pillow, with the Aileron font Pillow embeds, so no system font
or download is needed), HTML pages (one in windows-1252), DOCX (python-docx), Markdown and plain
text. Three contain PII (e-mail, phone, IBAN, card number) so the review path triggers; one PDF is
corrupt and one binary is named ``.txt`` so quarantine shows.

Output is byte-for-byte identical on every run (fixed dates, fixed ZIP timestamps, seeded noise).
The renderers (:func:`pdf_bytes`, :func:`docx_bytes`, :func:`html_bytes`, :func:`text_image`,
:func:`image_bytes`, :func:`scanned_pdf_bytes`) are public so tests can build real documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import random
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from kbflow.tasks.core import _sample_content as content
from kbflow.tasks.core import media

if TYPE_CHECKING:
    from fpdf import FPDF
    from PIL import Image

__all__ = [
    "SampleFile",
    "docx_bytes",
    "html_bytes",
    "image_bytes",
    "markdown_blocks",
    "pdf_bytes",
    "plain_text",
    "sample_files",
    "scanned_pdf_bytes",
    "text_image",
    "write_samples",
]

FIXED_DATE: Final = dt.datetime(2025, 1, 6, 9, 0, 0, tzinfo=dt.UTC)
_ZIP_DATE: Final = (2025, 1, 6, 9, 0, 0)
_LATIN1: Final = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2019": "'", "\u2018": "'",
                                "\u201c": '"', "\u201d": '"', "\u20ac": "EUR", "\u2026": "..."})

Block = tuple[str, int, list[str]]
"""``(kind, level, lines)``: kind is ``h`` (level 1-6), ``p``, ``ul`` or ``table`` (rows)."""


@dataclass(frozen=True, slots=True)
class SampleFile:
    """One generated sample document.

    Attributes:
        path: Relative POSIX path inside the corpus folder.
        data: The file's bytes.
        media_type: The type :func:`~kbflow.tasks.core.media.detect_media_type` should report.
        expect: ``"indexed"`` or the error name the ingestion should quarantine it with.
        pii: True if the document contains PII (so it should be flagged for review).
        text: The source text (for measuring OCR accuracy); ``""`` for the bad files.
    """

    path: str
    data: bytes
    media_type: str
    expect: str = "indexed"
    pii: bool = False
    text: str = ""


def markdown_blocks(source: str) -> list[Block]:
    """Parse the corpus' Markdown subset into blocks (headings, paragraphs, lists, tables)."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", source.strip()):
        lines = [ln.strip() for ln in chunk.strip().split("\n") if ln.strip()]
        if not lines:
            continue
        heading = re.match(r"^(#{1,6}) (.+)$", lines[0])
        if heading:
            blocks.append(("h", len(heading.group(1)), [heading.group(2)]))
            lines = lines[1:]
        if not lines:
            continue
        if all(ln.startswith("- ") for ln in lines):
            blocks.append(("ul", 0, [ln[2:] for ln in lines]))
        elif all(ln.startswith("|") for ln in lines):
            blocks.append(("table", 0, lines))
        else:
            blocks.append(("p", 0, lines))
    return blocks


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


# --- renderers ------------------------------------------------------------------------------


def plain_text(source: str) -> str:
    """Render the Markdown subset as plain text (headings underlined, tables as columns)."""
    out: list[str] = []
    for kind, level, lines in markdown_blocks(source):
        if kind == "h":
            out.append(f"{lines[0]}\n{('=' if level == 1 else '-') * len(lines[0])}")
        elif kind == "ul":
            out.append("\n".join(f"  * {item}" for item in lines))
        elif kind == "table":
            rows = [_cells(r) for r in lines]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            out.append("\n".join(_row_text(r, widths) for r in rows))
        else:
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _row_text(cells: list[str], widths: list[int]) -> str:
    return "   ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()


def html_bytes(source: str, *, title: str, encoding: str = "utf-8") -> bytes:
    """Render a full web page (navigation, header, main content, footer, script).

    Args:
        source: The Markdown subset.
        title: The ``<title>``.
        encoding: Declared in ``<meta charset>`` and used to encode the page.
    """
    body: list[str] = []
    for kind, level, lines in markdown_blocks(source):
        if kind == "h":
            body.append(f"<h{level}>{_esc(lines[0])}</h{level}>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in lines) + "</ul>")
        elif kind == "table":
            rows = [_cells(r) for r in lines]
            head = "".join(f"<th>{_esc(c)}</th>" for c in rows[0])
            rest = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>"
                           for r in rows[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rest}</tbody></table>")
        else:
            body.append("<p>" + "\n".join(_esc(ln) for ln in lines) + "</p>")
    page = _PAGE.format(charset=encoding, title=_esc(title), bank=content.BANK,
                        main="\n".join(body))
    return page.encode(encoding, errors="xmlcharrefreplace")


_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="{charset}">
<title>{title} | {bank}</title>
<style>body {{ font-family: sans-serif; }} nav a {{ margin-right: 1em; }}</style>
<script>window.analytics = {{ page: "{title}" }};</script>
</head>
<body>
<nav><a href="/">Home</a> <a href="/personal">Personal</a> <a href="/business">Business</a>
<a href="/contact">Contact us</a></nav>
<header><div class="brand">{bank}</div></header>
<main>
{main}
</main>
<footer><p>{bank} plc, 1 Quay Street, Harbourview. Registered in England No. 00000000.</p>
<p>Cookie settings | Accessibility | Privacy</p></footer>
<script src="/static/site.js"></script>
</body>
</html>
"""


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pdf_bytes(source: str, *, title: str, running_header: str | None = None,
              page_per_section: bool = False) -> bytes:
    """Render a PDF with a text layer (fpdf2, Helvetica), page numbers in the footer.

    Args:
        source: The Markdown subset (non-Latin-1 punctuation is transliterated).
        title: Document metadata title.
        running_header: Text repeated at the top of every page (with a ``Page n of N`` footer).
        page_per_section: Start every ``##`` section after the first on a new page.
    """
    pdf = _new_pdf(title, running_header)
    pdf.add_page()
    sections = 0
    for kind, level, lines in markdown_blocks(source.translate(_LATIN1)):
        if kind == "h" and level == 2:
            if page_per_section and sections:
                pdf.add_page()
            sections += 1
        if kind == "h":
            pdf.set_font("Helvetica", "B", {1: 17, 2: 13}.get(level, 11))
            pdf.ln(3)
            pdf.multi_cell(0, 8, lines[0], new_x="LMARGIN", new_y="NEXT")
        elif kind == "ul":
            pdf.set_font("Helvetica", "", 11)
            for item in lines:
                pdf.multi_cell(0, 6, f"- {item}", new_x="LMARGIN", new_y="NEXT")
        elif kind == "table":
            pdf.set_font("Helvetica", "", 10)
            with pdf.table(first_row_as_headings=True) as table:
                for row in lines:
                    cells = table.row()
                    for cell in _cells(row):
                        cells.cell(cell)
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, " ".join(lines), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


def _new_pdf(title: str, running_header: str | None) -> FPDF:
    pdf = _pdf_class()(running_header)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author(content.BANK)
    pdf.set_auto_page_break(auto=True, margin=20)
    return pdf


@functools.cache
def _pdf_class() -> Callable[[str | None], FPDF]:
    """An A4 FPDF with an optional running header and a ``Page n of N`` footer."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        def __init__(self, running_header: str | None) -> None:
            super().__init__(format="A4")
            self.running_header = running_header

        def header(self) -> None:
            if self.running_header:
                self.set_font("Helvetica", "I", 8)
                self.cell(0, 6, self.running_header, new_x="LMARGIN", new_y="NEXT", align="R")
                self.ln(2)

        def footer(self) -> None:
            if self.running_header:
                self.set_y(-15)
                self.set_font("Helvetica", "I", 8)
                self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")

    return _Pdf


def docx_bytes(source: str, *, title: str) -> bytes:
    """Render a DOCX with heading styles, bullet lists and a grid table (python-docx)."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.last_modified_by = title, content.BANK, content.BANK
    props.created = props.modified = props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    for kind, level, lines in markdown_blocks(source):
        if kind == "h":
            document.add_heading(lines[0], level=min(level, 9))
        elif kind == "ul":
            for item in lines:
                document.add_paragraph(item, style="List Bullet")
        elif kind == "table":
            rows = [_cells(r) for r in lines]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(" ".join(lines))
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a ZIP with fixed entry timestamps so output is byte-identical across runs."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def text_image(source: str, *, width: int = 1240, font_size: int = 30,
               background: int | tuple[int, int, int] = 255) -> Image.Image:
    """Render the Markdown subset as an image of text (Pillow's embedded Aileron font).

    Args:
        source: The text; ``#`` headings are drawn larger.
        width: Image width in pixels; lines wrap to fit.
        font_size: Body text size in pixels (30 px is 12 pt at 180 dpi).
        background: Grey level or RGB colour.
    """
    from PIL import Image, ImageDraw, ImageFont

    margin = width // 16
    body = ImageFont.load_default(size=font_size)
    big = ImageFont.load_default(size=int(font_size * 1.5))
    lines: list[tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont, int]] = []
    for kind, _level, block in markdown_blocks(source):
        font = big if kind == "h" else body
        text = " ".join(block) if kind != "ul" else "\n".join(f"- {i}" for i in block)
        for para in text.split("\n"):
            lines.extend((ln, font, 0) for ln in _wrap(para, font, width - 2 * margin))
        lines.append(("", body, font_size))
    height = margin * 2 + sum(_line_height(font) + gap for _, font, gap in lines)
    mode = "L" if isinstance(background, int) else "RGB"
    image = Image.new(mode, (width, height), background)
    draw = ImageDraw.Draw(image)
    y = margin
    for text, font, gap in lines:
        if text:
            draw.text((margin, y), text, font=font, fill=0 if mode == "L" else (20, 20, 30))
        y += _line_height(font) + gap
    return image


def _line_height(font: object) -> int:
    return int(float(getattr(font, "size", 12)) * 1.45)


def _wrap(text: str, font: object, max_width: int) -> Iterator[str]:
    words = text.split()
    line = ""
    for word in words:
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > max_width:  # type: ignore[attr-defined]
            yield line
            line = word
        else:
            line = trial
    if line:
        yield line


def image_bytes(image: Image.Image, fmt: Literal["PNG", "JPEG", "TIFF"] = "PNG") -> bytes:
    """Encode ``image`` deterministically (no timestamps or EXIF)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=85)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def scanned_pdf_bytes(source: str, *, title: str, seed: int = 7) -> bytes:
    """Render a PDF whose only page is a slightly skewed, speckled image of text (no text layer)."""
    from PIL import Image

    page = text_image(source, width=1240, font_size=30, background=246)
    rng = random.Random(seed)
    pixels = page.load()
    for _ in range(page.width * page.height // 400):
        x, y = rng.randrange(page.width), rng.randrange(page.height)
        pixels[x, y] = rng.choice((150, 190, 215))  # type: ignore[index]
    page = page.rotate(0.4, resample=Image.Resampling.BICUBIC, fillcolor=246, expand=False)
    pdf = _new_pdf(title, None)
    pdf.add_page()
    pdf.image(page, x=0, y=0, w=210)
    return bytes(pdf.output())


def _corrupt_pdf() -> bytes:
    """A PDF cut short and overwritten from byte 700 on: header intact, body garbage."""
    good = pdf_bytes(content.CAPITAL, title="Quarterly report")
    rng = random.Random(11)
    return good[:700] + rng.randbytes(len(good) - 700)


def _binary_named_txt() -> bytes:
    rng = random.Random(5)
    return b"LEDGER\x00\x01" + rng.randbytes(6000)


def sample_files() -> list[SampleFile]:
    """Build the whole corpus in memory (deterministic; under a second here)."""
    c = content
    pdf, docx_, html, md, txt = media.PDF, media.DOCX, media.HTML, media.MARKDOWN, media.PLAIN
    header = f"{c.BANK} - Internal policy"
    scan, notice, fees = c.MORTGAGE_SCAN, c.BRANCH_NOTICE, c.FEE_SCHEDULE_PHOTO
    return [
        SampleFile("policies/anti-money-laundering-policy.pdf",
                   pdf_bytes(c.AML_POLICY, title="AML policy", running_header=header,
                             page_per_section=True), pdf),
        SampleFile("policies/data-protection-policy.pdf",
                   pdf_bytes(c.DATA_PROTECTION, title="Data protection", running_header=header),
                   pdf),
        SampleFile("policies/green-lending-framework.pdf",
                   pdf_bytes(c.GREEN_LENDING, title="Green lending"), pdf),
        SampleFile("policies/complaints-handling-procedure.docx",
                   docx_bytes(c.COMPLAINTS, title="Complaints handling"), docx_),
        SampleFile("policies/information-security-standard.docx",
                   docx_bytes(c.INFOSEC, title="Information security"), docx_),
        SampleFile("policies/code-of-conduct.md", c.CODE_OF_CONDUCT.encode(), md),
        SampleFile("policies/remote-work-guidelines.txt", plain_text(c.REMOTE_WORK).encode(), txt),
        SampleFile("regulations/capital-requirements-summary.html",
                   html_bytes(c.CAPITAL, title="Capital requirements"), html),
        SampleFile("regulations/psd2-strong-customer-authentication.html",
                   html_bytes(c.PSD2, title="Strong customer authentication"), html),
        SampleFile("regulations/consumer-credit-directive-notes.html",
                   html_bytes(c.CONSUMER_CREDIT, title="Consumer credit", encoding="windows-1252"),
                   html),
        SampleFile("regulations/basel-iii-liquidity-coverage.pdf",
                   pdf_bytes(c.BASEL_LCR, title="Liquidity coverage ratio", running_header=header,
                             page_per_section=True),
                   pdf),
        SampleFile("procedures/account-opening-checklist.md", c.ACCOUNT_OPENING.encode(), md),
        SampleFile("procedures/wire-transfer-procedure.pdf",
                   pdf_bytes(c.WIRE_TRANSFER, title="Wire transfers"), pdf),
        SampleFile("procedures/card-dispute-process.docx",
                   docx_bytes(c.CARD_DISPUTE, title="Card disputes"), docx_),
        SampleFile("procedures/branch-cash-handling.txt",
                   plain_text(c.CASH_HANDLING).encode("cp1252"), txt),
        SampleFile("procedures/incident-response-runbook.md", c.INCIDENT_RUNBOOK.encode(), md),
        SampleFile("scans/mortgage-lending-policy-scan.pdf",
                   scanned_pdf_bytes(scan, title="Mortgage lending policy (scan)"), pdf, text=scan),
        SampleFile("scans/branch-notice.png", image_bytes(text_image(notice)), media.PNG,
                   text=notice),
        SampleFile("scans/fee-schedule-photo.jpg",
                   image_bytes(text_image(fees, background=(238, 232, 220)), "JPEG"), media.JPEG,
                   text=fees),
        SampleFile("customers/complaint-letter-C-2024-113.txt", c.COMPLAINT_LETTER.encode(), txt,
                   pii=True),
        SampleFile("customers/card-dispute-form.docx",
                   docx_bytes(c.DISPUTE_FORM, title="Card dispute form"), docx_, pii=True),
        SampleFile("customers/account-closure-request.html",
                   html_bytes(c.CLOSURE_REQUEST, title="Account closure"), html, pii=True),
        SampleFile("faq/mobile-banking-faq.html", html_bytes(c.MOBILE_FAQ, title="Mobile FAQ"),
                   html),
        SampleFile("faq/savings-accounts-faq.md", c.SAVINGS_FAQ.encode(), md),
        SampleFile("bad/quarterly-report-q3.pdf", _corrupt_pdf(), pdf,
                   expect="Kbflow.ExtractionFailed"),
        SampleFile("bad/ledger-export.txt", _binary_named_txt(), media.OCTET_STREAM,
                   expect="Kbflow.UnsupportedMediaType"),
    ]


def write_samples(directory: Path) -> list[SampleFile]:
    """Write the corpus under ``directory`` (created if needed; existing files overwritten).

    Returns:
        The files written, in order.
    """
    files = sample_files()
    for sample in files:
        target = directory / sample.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sample.data)
    return files
