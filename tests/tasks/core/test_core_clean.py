"""clean_text(): Unicode, controls, running headers/footers, hyphenation, whitespace."""

from __future__ import annotations

from kbflow.tasks.core import media
from kbflow.tasks.core.clean import clean_text, strip_running_lines
from kbflow.tasks.core.extract import extract
from kbflow.tasks.core.samples import pdf_bytes


def test_nfkc_controls_and_invisible_characters() -> None:
    raw = "ﬁnance\u00a0team\u200b: ＡＢＣ\x00\x07 total\u00ad\tdue\ufeff"
    assert clean_text(raw) == "finance team: ABC total due"


def test_dehyphenation_across_line_breaks_only_for_lowercase_continuations() -> None:
    assert clean_text("The verifi-\ncation of identity") == "The verification of identity"
    assert clean_text("anti-\nMoney laundering") == "anti-\nMoney laundering"
    assert clean_text("well-known fact") == "well-known fact"
    assert clean_text("page 3-\n4") == "page 3-\n4"  # one page: nothing is a page number


def test_page_number_lines_go_only_at_page_edges_of_multi_page_text() -> None:
    pages = ["AML policy, page 1\nText one.\nSee page 2 for more.\n- 1 -",
             "AML policy, page 2\nText two.\n2"]
    assert clean_text("\f".join(pages)) == "Text one.\nSee page 2 for more.\n\nText two."
    body = "Intro.\nSee page 2 for details.\nMore text here.\nAnd more.\nEnd."
    assert "See page 2" in clean_text(f"{body}\f{body}")


def test_whitespace_and_paragraphs_are_normalised_headings_kept() -> None:
    raw = ("# Title  \r\n\r\n\r\n\r\nFirst   line\t\twith  gaps.\r\nSecond line.\n\n\n\n"
           "## Part\n\n  Body  ")
    assert clean_text(raw) == "# Title\n\nFirst line with gaps.\nSecond line.\n\n## Part\n\nBody"


def test_running_headers_footers_and_page_numbers_are_removed() -> None:
    pages = [
        f"ACME Bank - Confidential\nSection {i} text that is unique to page {i}.\nPage {i} of 4"
        for i in range(1, 5)
    ]
    cleaned = clean_text("\f".join(pages))
    assert "Confidential" not in cleaned and "Page" not in cleaned
    expected = [f"Section {i} text that is unique to page {i}." for i in range(1, 5)]
    assert cleaned == "\n\n".join(expected)


def test_short_documents_keep_repeated_lines_but_lose_page_numbers() -> None:
    pages = ["Heading line\nBody one.\n- 1 -", "Heading line\nBody two.\n2"]
    assert strip_running_lines(pages) == ["Heading line\nBody one.", "Heading line\nBody two."]


def test_repeated_heading_lines_are_not_treated_as_running_lines() -> None:
    pages = [f"# Annex\nParagraph {i}." for i in range(4)]
    assert clean_text("\f".join(pages)).count("# Annex") == 4


def test_real_pdf_running_header_and_footer_are_removed() -> None:
    source = "\n\n".join(f"## Part {i}\n\nThe body of part {i} explains a rule." for i in range(4))
    data = pdf_bytes(source, title="t", running_header="Harbourview Bank - Internal",
                     page_per_section=True)
    raw = extract(data, media.PDF).text
    assert raw.count("Harbourview Bank - Internal") == 4 and "Page 2 of 4" in raw
    cleaned = clean_text(raw)
    assert "Harbourview Bank - Internal" not in cleaned and "Page" not in cleaned
    # The sections are the largest font in this PDF, so they become level-1 headings.
    assert [ln for ln in cleaned.split("\n") if ln.startswith("#")] == [
        f"# Part {i}" for i in range(4)]


def test_empty_input() -> None:
    assert clean_text("") == ""
    assert clean_text("\f \n\u200b\f") == ""
