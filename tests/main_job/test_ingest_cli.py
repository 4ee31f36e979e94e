"""`kbflow ingest`: the JSON report, re-runs (unchanged / changed / vanished), human output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mainjob_helpers import DOCS, index_snapshot, ingest_json, kbflow

REPORT_KEYS = {"executionArn", "status", "documents", "indexed", "unchanged", "quarantined",
               "index", "duration_seconds", "transitions", "estimated_cost_usd"}


def test_json_report_has_the_documented_fields(ingested: tuple[Path, Path, dict[str, Any]]) -> None:
    _, store, report = ingested
    assert set(report) >= REPORT_KEYS
    assert report["status"] == "SUCCEEDED"
    assert report["executionArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:execution:kbflow-ingestion:ingest-")
    assert (report["documents"], report["indexed"], report["unchanged"]) == (3, 3, 0)
    assert report["quarantined"] == []
    assert report["index"] == {"documents": 3, "chunks": len(index_snapshot(store))}
    assert report["duration_seconds"] > 0
    # 3 documents through a ~10-state chain plus the parent's states: well over 30 transitions.
    assert report["transitions"] > 30
    assert report["estimated_cost_usd"]["standard"] == pytest.approx(
        report["transitions"] * 0.025 / 1000)
    # Express: at least one request per execution (parent + 1 batch child) plus duration.
    assert report["estimated_cost_usd"]["express"] > 2 / 1_000_000
    assert (store / "index.sqlite3").exists() and (store / "kbflow.sqlite3").exists()


def test_rerun_skips_unchanged_reindexes_changed_and_removes_vanished(
    source: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    first = ingest_json(source, store)
    assert first["indexed"] == 3
    second = ingest_json(source, store)
    assert (second["documents"], second["indexed"], second["unchanged"]) == (3, 0, 3)
    before = index_snapshot(store)

    (source / "treasury/liquidity.txt").write_text(
        "Revised liquidity report: the buffer now covers forty five days of outflows.\n")
    (source / "security/password-policy.md").unlink()
    third = ingest_json(source, store)
    assert (third["documents"], third["indexed"], third["unchanged"]) == (2, 1, 1)
    assert third["removed"] == ["security/password-policy.md"]
    assert third["index"]["documents"] == 2
    after = index_snapshot(store)
    assert after != before
    keys = {key for key, _, _ in after}
    assert not any(k.endswith("password-policy.md") for k in keys)
    texts = " ".join(text for _, _, text in after)
    assert "forty five days" in texts and "thirty days" not in texts


def test_human_output_shows_progress_and_a_summary(source: Path, tmp_path: Path) -> None:
    result = kbflow("ingest", str(source), "--store", str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr
    assert "3/3" in result.stderr and "quarantined 0" in result.stderr  # the bar, on stderr
    out = result.stdout
    assert "ingestion SUCCEEDED" in out
    for label in ("documents", "indexed", "unchanged", "state transitions", "est. cost on AWS"):
        assert label in out


def test_quarantined_keys_are_relative_to_source(source: Path, tmp_path: Path) -> None:
    (source / "broken").mkdir()
    (source / "broken" / "scan.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf\n%%EOF")
    report = ingest_json(source, tmp_path / "store")
    assert report["status"] == "SUCCEEDED"
    assert report["indexed"] == len(DOCS)
    assert report["quarantined"] == [
        {"key": "broken/scan.pdf", "error": "Kbflow.ExtractionFailed",
         "cause": report["quarantined"][0]["cause"]}]
    assert "PDF" in report["quarantined"][0]["cause"]


def test_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = kbflow("ingest", str(tmp_path / "nope"), "--store", str(tmp_path / "store"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
