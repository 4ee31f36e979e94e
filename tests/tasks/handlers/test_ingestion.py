"""Ingestion handlers called directly, chained as the ingestion flow chains them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handler_fakes import EXECUTION_ARN, FakeLambdaContext
from kbflow.tasks.adapters.config import Adapters
from kbflow.tasks.adapters.objectstore import iter_objects
from kbflow.tasks.core import samples
from kbflow.tasks.core.errors import InvalidInput, TaskError
from kbflow.tasks.handlers import ingestion as h

DOC = """# Loan policy

Applicants must provide proof of income. Contact jane.doe@example.com for questions.

## Limits

The maximum loan is 50000 EUR per applicant and the term is at most ten years.
"""
EXTRACT = {
    "application/pdf": h.extract_pdf,
    "text/html": h.extract_html,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": h.extract_docx,
    "text/plain": h.extract_text,
    "text/markdown": h.extract_text,
}
CHAIN = (
    h.clean_text,
    h.redact_pii,
    h.chunk_text,
    h.embed_chunks,
    h.index_document,
    h.record_manifest,
)


def _corpus(folder: Path, outside: Path) -> None:
    (folder / "policy.md").write_text(DOC, encoding="utf-8")
    (folder / "guide.html").write_bytes(samples.html_bytes(DOC, title="Guide", encoding="cp1252"))
    (folder / "report.pdf").write_bytes(samples.pdf_bytes(DOC, title="Report"))
    (folder / "letter.docx").write_bytes(samples.docx_bytes(DOC, title="Letter"))
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n garbage that is not a pdf")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    outside.write_text("secret outside the source")
    (folder / "escape.txt").symlink_to(outside)


def _run_doc(item: dict[str, Any], plan: dict[str, Any], ctx: FakeLambdaContext) -> dict[str, Any]:
    """What the per-document chain of the flow does, with Catch → QuarantineDocument."""
    doc = {
        "run_id": plan["run_id"],
        "source": plan["source"],
        "options": plan["options"],
        "key": item["Key"],
        "size": item["Size"],
        "execution_arn": EXECUTION_ARN,
    }
    try:
        doc = h.fetch_document(doc, ctx)
        if doc["status"] == "unchanged":
            return doc
        doc = EXTRACT[doc["media_type"]](doc, ctx)
        for step in CHAIN:
            doc = step(doc, ctx)
        return doc
    except TaskError as exc:
        failed = {
            **doc,
            "error": {
                "Error": type(exc).__name__,
                "Cause": json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}),
            },
        }
        return h.quarantine_document(failed, ctx)


def _ingest(
    source_dir: Path, adapters: Adapters, ctx: FakeLambdaContext, **options: Any
) -> dict[str, Any]:
    plan = h.plan_ingestion(
        {
            "source": {"uri": source_dir.as_uri()},
            "options": options,
            "execution_arn": EXECUTION_ARN,
        },
        ctx,
    )
    items = list(iter_objects(adapters.objects, plan["source"]["bucket"], plan["source"]["prefix"]))
    results = [_run_doc(item, plan, ctx) for item in items]
    return h.summarise_ingestion({**plan, "results": results}, ctx)


def test_full_run_indexes_good_docs_and_quarantines_bad_ones(
    source_dir: Path, tmp_path: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    _corpus(source_dir, tmp_path / "secret.txt")
    summary = _ingest(source_dir, adapters, context)
    assert summary["documents"] == 8
    assert summary["indexed"] == 4 and summary["unchanged"] == 0
    errors = {q["key"]: q["error"] for q in summary["quarantined"]}
    assert errors == {
        "corrupt.pdf": "Kbflow.ExtractionFailed",
        "empty.txt": "Kbflow.EmptyDocument",
        "binary.txt": "Kbflow.UnsupportedMediaType",
        "escape.txt": "Kbflow.SourceAccessDenied",
    }
    assert all(q["cause"] and not q["cause"].startswith("{") for q in summary["quarantined"])
    assert summary["index"]["documents"] == 4
    assert {r["item"]["key"].rsplit("/", 1)[-1] for r in summary["review"]} == {
        "policy.md",
        "guide.html",
        "report.pdf",
        "letter.docx",
    }
    assert all(r["reason"] == "pii" for r in summary["review"])
    hits = adapters.index.search(
        "maximum loan applicant", adapters.embedder.embed(["maximum loan applicant"])[0], k=10
    )
    assert {hit.key for hit in hits} == {"policy.md", "guide.html", "report.pdf", "letter.docx"}
    assert all("jane.doe@example.com" not in hit.text for hit in hits)


def test_quarantine_keeps_original_and_records_stage(
    source_dir: Path, tmp_path: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    _corpus(source_dir, tmp_path / "secret.txt")
    summary = _ingest(source_dir, adapters, context)
    records = {
        r.key.rsplit("/", 1)[-1]: r for r in adapters.quarantine.list_for_run(summary["run_id"])
    }
    assert records["corrupt.pdf"].stage == "extract"
    assert records["binary.txt"].stage == "fetch"
    kept = records["corrupt.pdf"].original
    assert kept and adapters.objects.get_object("quarantine", kept).startswith(
        b"%PDF-1.7\n garbage"
    )
    assert records["escape.txt"].original is None  # never copied from outside the root
    assert not any(
        p.read_bytes() == b"secret outside the source"
        for p in (tmp_path / "store").rglob("*")
        if p.is_file()
    )


def test_rerun_skips_unchanged_reindexes_changed_and_removes_vanished(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    (source_dir / "a.md").write_text(DOC)
    (source_dir / "b.md").write_text(DOC.replace("ten", "five"))
    (source_dir / "c.md").write_text("# C\n\nThird document about mortgages.")
    first = _ingest(source_dir, adapters, context)
    assert first["indexed"] == 3
    (source_dir / "b.md").write_text("# B\n\nRewritten completely about savings accounts.")
    (source_dir / "c.md").unlink()
    second = _ingest(source_dir, adapters, context)
    assert (second["indexed"], second["unchanged"], second["removed"]) == (1, 1, ["c.md"])
    assert second["index"] == {"documents": 2, "chunks": second["index"]["chunks"]}
    assert (
        len(
            adapters.manifest.list_for_source(
                first["source"]["bucket"] + "/" + first["source"]["prefix"]
            )
        )
        == 2
    )


def test_detect_mode_keeps_text_and_still_flags(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    (source_dir / "a.md").write_text(DOC)
    summary = _ingest(source_dir, adapters, context, pii="detect")
    assert summary["review"][0]["item"]["reasons"] == ["pii"]
    hits = adapters.index.search("questions", None, mode="lexical")
    assert any("jane.doe@example.com" in hit.text for hit in hits)


def test_embedding_is_batched(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    (source_dir / "long.md").write_text("# Long\n\n" + " ".join(f"word{i}" for i in range(3000)))
    _ingest(source_dir, adapters, context, chunk_tokens=64, chunk_overlap=8, embed_batch=5)
    batches = adapters.embedder.batches
    assert max(batches) == 5 and len(batches) > 2


def test_oversized_document_is_refused_before_reading(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    (source_dir / "big.txt").write_bytes(b"a" * 5000)
    summary = _ingest(source_dir, adapters, context, max_bytes=1000)
    assert summary["quarantined"][0]["error"] == "Kbflow.DocumentTooLarge"


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://docs/policies", "docs", "policies/"),
        ("s3://docs", "docs", ""),
        ("file:///srv/data/../corpus", "file", "srv/corpus/"),
    ],
)
def test_plan_normalises_sources(
    uri: str, bucket: str, prefix: str, context: FakeLambdaContext
) -> None:
    plan = h.plan_ingestion({"source": {"uri": uri}, "execution_arn": EXECUTION_ARN}, context)
    assert (plan["source"]["bucket"], plan["source"]["prefix"]) == (bucket, prefix)
    assert plan["run_id"] == "run-1" and plan["options"]["pii"] == "redact"


@pytest.mark.parametrize(
    "event",
    [
        {"source": {"uri": "http://example.com"}},
        {"source": {"uri": "file://relative/dir"}},
        {"source": {}},
        {"source": {"uri": "s3://b"}, "options": {"pii": "shred"}},
    ],
)
def test_plan_rejects_bad_input(event: dict[str, Any], context: FakeLambdaContext) -> None:
    with pytest.raises(InvalidInput):
        h.plan_ingestion(event, context)


def test_summary_reads_result_writer_output(adapters: Adapters, context: FakeLambdaContext) -> None:
    objects, work = adapters.objects, adapters.work_bucket
    ok = {"key": "s/a.md", "doc_id": "d-a", "status": "new"}
    objects.put_object(
        work,
        "results/m/SUCCEEDED_0.json",
        json.dumps(
            [
                {
                    "Status": "SUCCEEDED",
                    "Output": json.dumps([ok, {"key": "s/b.md", "status": "unchanged"}]),
                },
            ]
        ).encode(),
    )
    objects.put_object(
        work,
        "results/m/FAILED_0.json",
        json.dumps(
            [
                {
                    "Status": "FAILED",
                    "Error": "States.Timeout",
                    "Cause": "slow",
                    "Input": json.dumps({"Items": [{"Key": "s/c.md"}]}),
                },
            ]
        ).encode(),
    )
    objects.put_object(
        work,
        "results/m/manifest.json",
        json.dumps(
            {
                "ResultFiles": {
                    "SUCCEEDED": [{"Key": "results/m/SUCCEEDED_0.json"}],
                    "FAILED": [{"Key": "results/m/FAILED_0.json"}],
                    "PENDING": [],
                }
            }
        ).encode(),
    )
    summary = h.summarise_ingestion(
        {
            "run_id": "r",
            "source": {"bucket": "docs", "prefix": "s/"},
            "results": {"ResultWriterDetails": {"Bucket": work, "Key": "results/m/manifest.json"}},
        },
        context,
    )
    assert (summary["documents"], summary["indexed"], summary["unchanged"]) == (3, 1, 1)
    assert summary["quarantined"] == [{"key": "s/c.md", "error": "States.Timeout", "cause": "slow"}]


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (
            '{"errorMessage": "bad \\"pdf\\"", "errorType": "Kbflow.X", "stackTrace": []}',
            'bad "pdf"',
        ),
        ('{"errorMessage": "cut short here", "errorTy', "cut short here"),
        ('{"errorMessage": "cut in an escape \\', "cut in an escape "),
        ('{"errorType": "X"}', '{"errorType": "X"}'),
        ("plain cause", "plain cause"),
    ],
)
def test_lambda_causes_are_unwrapped(cause: str, expected: str) -> None:
    from kbflow.tasks.core.ingest import lambda_cause

    assert lambda_cause(cause) == expected


def test_summary_counts_flow_shaped_outputs(adapters: Adapters, context: FakeLambdaContext) -> None:
    """The per-document outputs the ingestion definition's Pass states produce."""
    results = [
        [
            {
                "key": "s/a.md",
                "doc_id": "d-a",
                "status": "indexed",
                "change": "new",
                "chunks": 2,
                "review": {"required": True, "reasons": ["pii"]},
            },
            {"key": "s/b.md", "doc_id": "d-b", "status": "unchanged"},
            {
                "key": "s/c.pdf",
                "status": "quarantined",
                "error": "Kbflow.ExtractionFailed",
                "cause": '{"errorMessage": "corrupt PDF", "errorType": "Kbflow.ExtractionFailed"}',
            },
        ]
    ]
    summary = h.summarise_ingestion(
        {"run_id": "r", "source": {"bucket": "docs", "prefix": "s/"}, "results": results}, context
    )
    assert (summary["documents"], summary["indexed"], summary["unchanged"]) == (3, 1, 1)
    assert summary["quarantined"] == [
        {"key": "s/c.pdf", "error": "Kbflow.ExtractionFailed", "cause": "corrupt PDF"}
    ]
    assert summary["review"][0]["item"]["id"] == "d-a"


def test_summary_lists_are_capped_and_full_summary_is_stored(
    adapters: Adapters, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kbflow.tasks.core import summary as summary_module

    monkeypatch.setattr(summary_module, "LIST_LIMIT", 2)
    results = [
        {
            "key": f"s/{i}.pdf",
            "status": "quarantined",
            "error": "Kbflow.ExtractionFailed",
            "cause": "corrupt",
        }
        for i in range(5)
    ]
    out = h.summarise_ingestion(
        {"run_id": "big", "source": {"bucket": "docs", "prefix": "s/"}, "results": results}, context
    )
    assert len(out["quarantined"]) == 2 and out["counts"]["quarantined"] == 5 and out["truncated"]
    full = json.loads(adapters.objects.get_object("work", out["summary_key"]))
    assert len(full["quarantined"]) == 5


def test_low_ocr_confidence_flags_review(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    from dataclasses import replace as dc_replace

    from kbflow.tasks.adapters.config import use_adapters
    from kbflow.tasks.core.extract import Extracted

    class BlurryOcr:
        def extract(self, data: bytes, media_type: str, **kw: Any) -> Extracted:
            return Extracted(
                text="# Scan\n\nblurry words",
                media_type=media_type,
                ocr_used=True,
                ocr_pages=1,
                ocr_confidence=0.42,
            )

    (source_dir / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    doc = {
        "run_id": "r",
        "source": h.plan_ingestion({"source": {"uri": source_dir.as_uri()}}, context)["source"],
    }
    doc["key"] = doc["source"]["prefix"] + "scan.png"
    with use_adapters(dc_replace(adapters, extractor_=BlurryOcr())):
        out = h.extract_image(h.fetch_document(doc, context), context)
    assert out["ocr"] == {"confidence": 0.42, "pages": 1}
    assert out["review"] == {"required": True, "reasons": ["low_ocr_confidence"]}


def test_embedding_service_errors_are_transient(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    from dataclasses import replace as dc_replace

    from kbflow.tasks.adapters.config import use_adapters
    from kbflow.tasks.adapters.embedder import EmbeddingError

    class Throttled:
        model_id = "x"

        def embed(self, texts: Any) -> Any:
            raise EmbeddingError("ThrottlingException from Bedrock", transient=True)

    (source_dir / "a.md").write_text(DOC)
    plan = h.plan_ingestion({"source": {"uri": source_dir.as_uri()}, "run_id": "r"}, context)
    doc: dict[str, Any] = {**plan, "key": plan["source"]["prefix"] + "a.md"}
    for step in (h.fetch_document, h.extract_text, h.clean_text, h.redact_pii, h.chunk_text):
        doc = step(doc, context)
    with (
        use_adapters(dc_replace(adapters, embedder_=Throttled())),
        pytest.raises(TaskError) as info,
    ):
        h.embed_chunks(doc, context)
    assert type(info.value).__name__ == "Kbflow.TransientStoreError"
    assert isinstance(info.value.__cause__, EmbeddingError)


def test_run_id_cannot_steer_work_store_keys(source_dir: Path, context: FakeLambdaContext) -> None:
    (source_dir / "a.md").write_text(DOC)
    plan = h.plan_ingestion({"source": {"uri": source_dir.as_uri()}}, context)
    with pytest.raises(InvalidInput, match="/run_id"):
        h.fetch_document(
            {**plan, "run_id": "../../etc", "key": plan["source"]["prefix"] + "a.md"}, context
        )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"run_id": "nightly-2026.11.24"}, "nightly-2026.11.24"),
        ({"run_id": "../../etc"}, "etc"),
        (
            {"execution_arn": "arn:aws:states:us-east-1:1:execution:kbflow-ingestion:run ü/1"},
            "run---1",
        ),
    ],
)
def test_run_ids_are_safe_key_segments(event: dict[str, Any], expected: str) -> None:
    from kbflow.tasks.core.ingest import run_id_from

    assert run_id_from(event) == expected
    assert len(run_id_from({})) == 32


def test_a_long_document_embedded_in_slices_indexes_like_one_task(
    source_dir: Path, adapters: Adapters, context: FakeLambdaContext
) -> None:
    """Embed Chunk Slices: each slice its own .npy; Index Document stacks them in order."""
    import io

    import numpy as np

    (source_dir / "long.md").write_text("# Long\n\n" + " ".join(f"word{i}" for i in range(3000)))
    options = {"chunk_tokens": 32, "chunk_overlap": 4}
    plan = h.plan_ingestion(
        {"source": {"uri": source_dir.as_uri()}, "options": options,
         "execution_arn": EXECUTION_ARN}, context)
    [item] = iter_objects(adapters.objects, plan["source"]["bucket"], plan["source"]["prefix"])
    doc = h.fetch_document({**{k: plan[k] for k in ("run_id", "source", "options")},
                            "key": item["Key"], "size": item["Size"],
                            "execution_arn": EXECUTION_ARN}, context)
    doc = h.extract_text(doc, context)
    for step in (h.clean_text, h.redact_pii, h.chunk_text):
        doc = step(doc, context)
    total = doc["chunks"]
    assert total > 200
    whole = h.embed_chunks(doc, context)
    expected = np.load(io.BytesIO(adapters.objects.get_object(
        adapters.work_bucket, whole["artifacts"]["embeddings"])))
    starts = list(range(0, total, 100))
    slices = [h.embed_chunks({**doc, "slice": {"start": s, "size": 100}}, context)
              for s in reversed(starts)]  # any order: Map results are in item order anyway
    assert sorted(s["start"] for s in slices) == starts and max(s["stop"] for s in slices) == total
    indexed = h.index_document({**doc, "embed_slices": {"starts": starts},
                                "embedding_slices": slices}, context)
    assert indexed["indexed"] == {"chunks": total}
    assert "embedding_slices" not in indexed and "embed_slices" not in indexed
    stored = adapters.index.chunks(doc["doc_id"])
    assert [c.chunk_index for c in stored] == list(range(total))
    # The stacked slices are the same vectors as one task's: each chunk finds itself.
    for index in (0, 150, total - 1):
        [hit] = adapters.index.search("x", expected[index], k=1, mode="vector")
        assert hit.chunk_index == index
    with pytest.raises(InvalidInput, match="cover chunks 0..100"):
        h.index_document({**doc, "embedding_slices": [s for s in slices if s["start"] != 100]},
                         context)
    with pytest.raises(InvalidInput, match="slice"):
        h.embed_chunks({**doc, "slice": {"start": total, "size": 10}}, context)
