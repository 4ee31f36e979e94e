"""Handlers through the embedded engine's Lambda emulation give what direct calls give."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handler_fakes import EXECUTION_ARN, FakeLambdaContext
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine
from kbflow.tasks import catalog
from kbflow.tasks.adapters.config import Adapters
from kbflow.tasks.handlers import ingestion as ing


def _single_task(name: str) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "${" + catalog.get(name).placeholder + "}",
                    "Payload.$": "$",
                },
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }


@pytest.fixture
def engine(adapters: Adapters) -> Iterator[Engine]:
    eng = Engine(clock=VirtualClock(), object_store=adapters.objects)
    for fn in catalog.FUNCTIONS:
        eng.register_function(
            fn.function_name(),
            catalog.resolve_handler(fn.handler),
            timeout_seconds=fn.timeout_s,
            memory_mb=fn.memory_mb,
        )
    yield eng
    eng.close()


def _run(engine: Engine, name: str, event: dict[str, Any]) -> dict[str, Any]:
    arn = engine.create_state_machine(
        f"probe-{name}", _single_task(name), substitutions=catalog.substitutions()
    )
    started = engine.start_execution(arn, event)
    execution_arn = started if isinstance(started, str) else started["executionArn"]
    return engine.wait(execution_arn, timeout=60)


def test_document_stages_match_direct_calls(
    engine: Engine, source_dir: Path, context: FakeLambdaContext
) -> None:
    (source_dir / "note.md").write_text("# Note\n\nCall +44 20 7946 0958 about the loan terms.")
    plan = ing.plan_ingestion({"source": {"uri": source_dir.as_uri()}, "run_id": "r1"}, context)
    doc: dict[str, Any] = {
        "run_id": "r1",
        "source": plan["source"],
        "options": plan["options"],
        "key": plan["source"]["prefix"] + "note.md",
        "execution_arn": EXECUTION_ARN,
    }
    for name, handler in (
        ("FetchDocument", ing.fetch_document),
        ("ExtractText", ing.extract_text),
        ("CleanText", ing.clean_text),
        ("RedactPii", ing.redact_pii),
        ("ChunkText", ing.chunk_text),
    ):
        direct = handler(json.loads(json.dumps(doc)), context)
        through = _run(engine, name, doc)
        assert through["Status"] == "SUCCEEDED", through
        assert json.loads(through["Output"]) == direct, name
        doc = direct


def test_named_errors_surface_as_the_same_error_name(
    engine: Engine, context: FakeLambdaContext
) -> None:
    bad = {"source": {"uri": "ftp://nowhere"}}
    with pytest.raises(Exception) as direct:
        ing.plan_ingestion(bad, context)
    through = _run(engine, "PlanIngestion", bad)
    assert through["Status"] == "FAILED"
    assert through["Error"] == type(direct.value).__name__ == "Kbflow.InvalidInput"
    assert "/source/uri" in through["Cause"]


def _wait_for_review(adapters: Adapters, execution_arn: str) -> Any:
    for _ in range(400):
        found = [r for r in adapters.reviews.list() if r.execution_arn == execution_arn]
        if found:
            return found[0]
        time.sleep(0.025)
    raise AssertionError("no review request was stored")


@pytest.mark.parametrize(
    ("decision", "applied"),
    [
        ({"decision": "approve", "reviewer": "ann", "comment": "fine"}, "kept"),
        (
            {"decision": "edit", "reviewer": "cy", "edits": {"text": "# Memo\n\nShort."}},
            "reindexed",
        ),
    ],
)
def test_human_review_definition_runs_with_these_handlers(
    engine: Engine, adapters: Adapters, decision: dict[str, Any], applied: str
) -> None:
    definition = Path(__file__).resolve().parents[3] / "definitions" / "human-review.asl.json"
    arn = engine.create_state_machine(
        "kbflow-human-review", definition.read_text(), substitutions=catalog.substitutions()
    )
    started = engine.start_execution(
        arn, {"item": {"id": "d1", "key": "memo.md", "run_id": "r"}, "reason": "pii"}
    )
    execution_arn = started if isinstance(started, str) else started["executionArn"]
    request = _wait_for_review(adapters, execution_arn)
    engine.send_task_success(request.task_token, decision)
    result = engine.wait(execution_arn, timeout=60)
    assert result["Status"] == "SUCCEEDED", result
    output = json.loads(result["Output"])
    assert output["decision"] == decision["decision"] and output["applied"]["applied"] == applied
    audit = adapters.audit.list("d1")
    assert [(a.action, a.actor) for a in audit] == [(decision["decision"], decision["reviewer"])]
    assert audit[0].execution_arn == execution_arn
    assert adapters.reviews.get(request.review_id).status == "decided"  # type: ignore[union-attr]


def _ingest_on_engine(engine: Engine, source_dir: Path, **options: Any) -> dict[str, Any]:
    definitions = Path(__file__).resolve().parents[3] / "definitions"
    arn = engine.create_state_machine(
        "kbflow-ingestion",
        (definitions / "ingestion.asl.json").read_text(),
        substitutions=catalog.substitutions(),
    )
    started = engine.start_execution(
        arn, {"source": {"uri": source_dir.as_uri()}, "options": options}
    )
    execution_arn = started if isinstance(started, str) else started["executionArn"]
    return engine.wait(execution_arn, timeout=120)


def test_ingestion_definition_runs_with_these_handlers(
    engine: Engine, adapters: Adapters, source_dir: Path, tmp_path: Path
) -> None:
    from kbflow.tasks.core import samples

    (source_dir / "policy.md").write_text("# Policy\n\nLoans up to 50000 EUR for ten years.")
    (source_dir / "guide.html").write_bytes(samples.html_bytes("# Guide\n\nSavings.", title="G"))
    (source_dir / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (source_dir / "empty.txt").write_bytes(b"")
    (tmp_path / "secret.txt").write_text("outside")
    (source_dir / "escape.txt").symlink_to(tmp_path / "secret.txt")
    first = _ingest_on_engine(engine, source_dir, review_pii=False)
    assert first["Status"] == "SUCCEEDED", first
    assert adapters.index.stats()["documents"] == 2
    run_id = json.loads(first["Output"])["run_id"]
    stages = {
        r.key.rsplit("/", 1)[-1]: (r.error, r.stage)
        for r in adapters.quarantine.list_for_run(run_id)
    }
    assert stages == {
        "broken.pdf": ("Kbflow.ExtractionFailed", "extract"),
        "empty.txt": ("Kbflow.EmptyDocument", "fetch"),
        "escape.txt": ("Kbflow.SourceAccessDenied", "fetch"),
    }
    (source_dir / "guide.html").unlink()
    second = _ingest_on_engine(engine, source_dir, review_pii=False)
    assert second["Status"] == "SUCCEEDED", second
    assert adapters.index.stats()["documents"] == 1
    summary = json.loads(
        adapters.objects.get_object(
            "work", f"runs/{json.loads(second['Output'])['run_id']}/summary.json"
        )
    )
    assert (summary["unchanged"], summary["removed"]) == (1, ["guide.html"])


def test_pii_document_starts_a_review_that_a_decision_completes(
    engine: Engine, adapters: Adapters, source_dir: Path
) -> None:
    definitions = Path(__file__).resolve().parents[3] / "definitions"
    engine.create_state_machine(
        "kbflow-human-review",
        (definitions / "human-review.asl.json").read_text(),
        substitutions=catalog.substitutions(),
    )
    (source_dir / "memo.md").write_text("# Memo\n\nCall jane.doe@example.com about the loan.")
    result = _ingest_on_engine(engine, source_dir)
    assert result["Status"] == "SUCCEEDED", result
    [doc_entry] = adapters.manifest.list_for_source(
        "file/" + str(source_dir.resolve()).strip("/") + "/"
    )
    review_arn = None
    for _ in range(400):
        pending = adapters.reviews.list("pending")
        if pending:
            review_arn = pending[0].execution_arn
            break
        time.sleep(0.025)
    assert review_arn is not None and pending[0].item["id"] == doc_entry.doc_id
    assert "pii" in pending[0].reason
    engine.send_task_success(pending[0].task_token, {"decision": "approve", "reviewer": "ann"})
    review = engine.wait(review_arn, timeout=60)
    assert review["Status"] == "SUCCEEDED", review
    assert adapters.manifest.get(doc_entry.doc_id).status == "approved"  # type: ignore[union-attr]
    assert [a.action for a in adapters.audit.list(doc_entry.doc_id)] == ["approve"]
