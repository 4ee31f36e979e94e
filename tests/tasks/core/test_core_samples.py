"""The sample corpus: every type, deterministic, and every document extracts sensibly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from kbflow.cli import cli
from kbflow.tasks.core import media
from kbflow.tasks.core.clean import clean_text
from kbflow.tasks.core.errors import TaskError
from kbflow.tasks.core.extract import Extracted, extract
from kbflow.tasks.core.ocr import RapidOcrEngine, word_accuracy
from kbflow.tasks.core.pii import find_pii, summarise
from kbflow.tasks.core.samples import SampleFile, sample_files, write_samples


@pytest.fixture(scope="module")
def extracted(corpus: dict[str, SampleFile], ocr_engine: RapidOcrEngine) -> dict[str, Extracted]:
    """Every good sample extracted once (three of them through real OCR)."""
    return {path: extract(s.data, s.media_type, ocr=ocr_engine)
            for path, s in corpus.items() if s.expect == "indexed"}


def test_corpus_covers_every_supported_type(corpus: dict[str, SampleFile]) -> None:
    types = Counter(s.media_type for s in corpus.values())
    expected = {media.PDF, media.PNG, media.JPEG, media.HTML, media.DOCX, media.MARKDOWN,
                media.PLAIN, media.OCTET_STREAM}
    assert set(types) == expected
    assert 22 <= sum(1 for s in corpus.values() if s.expect == "indexed") <= 30
    assert [p for p, s in corpus.items() if s.pii] == [
        "customers/complaint-letter-C-2024-113.txt", "customers/card-dispute-form.docx",
        "customers/account-closure-request.html"]


def test_output_is_deterministic(corpus: dict[str, SampleFile]) -> None:
    again = {f.path: f.data for f in sample_files()}
    assert again == {p: s.data for p, s in corpus.items()}


def test_every_good_sample_extracts_sensible_text(
    corpus: dict[str, SampleFile], extracted: dict[str, Extracted]
) -> None:
    for path, result in extracted.items():
        text = clean_text(result.text)
        assert len(text.split()) >= 15, path
        assert "\ufffd" not in text, path
        if corpus[path].media_type in (media.PDF, media.DOCX, media.HTML, media.MARKDOWN):
            assert result.sections or result.ocr_used, path


def test_ocr_reads_the_image_samples(
    corpus: dict[str, SampleFile], extracted: dict[str, Extracted]
) -> None:
    scans = [p for p, s in corpus.items() if s.text]
    assert len(scans) == 3
    for path in scans:
        result = extracted[path]
        assert result.ocr_used and (result.ocr_confidence or 0) > 0.9, path
        assert word_accuracy(corpus[path].text, result.text) >= 0.95, (path, result.text)


def test_pii_samples_trigger_review_and_others_do_not(
    corpus: dict[str, SampleFile], extracted: dict[str, Extracted]
) -> None:
    for path, result in extracted.items():
        summary = summarise(find_pii(clean_text(result.text)))
        assert summary["found"] is corpus[path].pii, (path, summary)
    kinds = {k for p, r in extracted.items() if corpus[p].pii
             for k in summarise(find_pii(r.text))["kinds"]}
    assert kinds == {"email", "phone", "iban", "card"}


def test_bad_samples_raise_their_named_errors(corpus: dict[str, SampleFile]) -> None:
    bad = [s for s in corpus.values() if s.expect != "indexed"]
    assert len(bad) == 2
    for sample in bad:
        detected = media.detect_media_type(sample.data, sample.path)
        with pytest.raises(TaskError) as info:
            extract(sample.data, detected)
        assert type(info.value).__name__ == sample.expect


def test_windows_1252_text_sample_decodes(extracted: dict[str, Extracted]) -> None:
    result = extracted["procedures/branch-cash-handling.txt"]
    assert result.encoding == "cp1252"
    assert "15 000 €" in result.text and "Zürich" in result.text and "café" in result.text


def test_cli_writes_the_corpus(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "corpus"
    result = runner.invoke(cli, ["sample", str(target), "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == sorted(f["path"] for f in listing["files"])
    assert {f["expect"] for f in listing["files"]} == {
        "indexed", "Kbflow.ExtractionFailed", "Kbflow.UnsupportedMediaType"}
    again = runner.invoke(cli, ["sample", str(target)])
    assert again.exit_code != 0 and "not empty" in again.output
    forced = runner.invoke(cli, ["sample", str(target), "--force"])
    assert forced.exit_code == 0 and "wrote 26 files" in forced.output
    assert "sample" in runner.invoke(cli, ["--help"]).output
    assert "Usage" in runner.invoke(cli, ["sample", "--help"]).output


def test_write_samples_returns_what_it_wrote(tmp_path: Path) -> None:
    written = write_samples(tmp_path)
    assert all((tmp_path / f.path).read_bytes() == f.data for f in written)
