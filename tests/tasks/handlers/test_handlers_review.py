"""Human-review handlers: task tokens, decisions, audit; tokens are never logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from handler_fakes import FakeLambdaContext
from kbflow.tasks import observability
from kbflow.tasks.adapters.config import Adapters
from kbflow.tasks.core.errors import InvalidDecision, InvalidInput
from kbflow.tasks.core.review import review_id_for
from kbflow.tasks.handlers import ingestion as ing
from kbflow.tasks.handlers import review as h

ARN = "arn:aws:states:us-east-1:123456789012:execution:kbflow-human-review:rv-1"
TOKEN = "AAAA-task-token-SECRET-0123456789"
TEXT = "# Memo\n\nConfidential memo text about client Jane Roe, phone +44 20 7946 0958."


@pytest.fixture
def item(source_dir: Path, adapters: Adapters, context: FakeLambdaContext) -> dict[str, Any]:
    """Ingest one document and return the review item SummariseIngestion would produce."""
    (source_dir / "memo.md").write_text(TEXT)
    plan = ing.plan_ingestion({"source": {"uri": source_dir.as_uri()}, "run_id": "r1"}, context)
    key = plan["source"]["prefix"] + "memo.md"
    doc: dict[str, Any] = {"run_id": "r1", "source": plan["source"], "key": key}
    doc = ing.fetch_document(doc, context)
    for step in (
        ing.extract_text,
        ing.clean_text,
        ing.redact_pii,
        ing.chunk_text,
        ing.embed_chunks,
        ing.index_document,
        ing.record_manifest,
    ):
        doc = step(doc, context)
    summary = ing.summarise_ingestion({**plan, "results": [doc]}, context)
    return dict(summary["review"][0]["item"])


def _request(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "item": item,
        "reason": "pii",
        "task_token": TOKEN,
        "execution_arn": ARN,
        "deadline_seconds": 3600,
        **extra,
    }


def test_request_stores_token_and_notifies_without_it(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    out = h.request_review(_request(item), context)
    assert out == {
        "review_id": review_id_for(ARN, item["id"]),
        "status": "pending",
        "deadline": "2026-11-24T13:00:00Z",
    }
    stored = adapters.reviews.get(out["review_id"])
    assert stored is not None and stored.task_token == TOKEN and stored.reason == "pii"
    inbox = adapters.notifier.inbox()  # type: ignore[attr-defined]
    assert len(inbox) == 1 and inbox[0].message["review_id"] == out["review_id"]
    assert TOKEN not in repr(inbox[0])


def test_request_is_idempotent_on_retry(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    h.request_review(_request(item), context)
    h.request_review(_request(item), context)
    assert len(adapters.reviews.list()) == 1


def test_escalation_reissues_token_and_audits_the_timeout(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    first = h.request_review(_request(item), context)
    out = h.escalate_review(
        _request(item, task_token="SECOND-TOKEN", error={"Error": "States.Timeout"}), context
    )
    stored = adapters.reviews.get(first["review_id"])
    assert out["status"] == "escalated" and stored is not None
    assert stored.escalated and stored.task_token == "SECOND-TOKEN"
    audit = adapters.audit.list(item["id"])
    assert [(a.action, a.actor) for a in audit] == [("escalate", "policy:timeout")]
    assert audit[0].details["error"] == "States.Timeout"
    assert adapters.notifier.inbox()[-1].subject.startswith("ESCALATED")  # type: ignore[attr-defined]


def test_approve_keeps_document(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    review = h.request_review(_request(item), context)
    out = h.apply_decision(
        {
            "item": item,
            "execution_arn": ARN,
            "decision": {"decision": "approve", "reviewer": "ann"},
        },
        context,
    )
    assert out["applied"] == "kept" and out["review_id"] == review["review_id"]
    assert adapters.index.stats()["documents"] == 1
    assert adapters.manifest.get(item["id"]).status == "approved"  # type: ignore[union-attr]
    stored = adapters.reviews.get(review["review_id"])
    assert stored is not None and stored.status == "decided"
    assert stored.decision == {
        "decision": "approve",
        "reviewer": "ann",
        "comment": "",
        "edited": False,
    }


def test_reject_removes_from_index_and_quarantines(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    out = h.apply_decision(
        {
            "item": item,
            "decision": {"decision": "reject", "reviewer": "bob", "comment": "client data"},
        },
        context,
    )
    assert out["applied"] == "removed"
    assert adapters.index.stats()["documents"] == 0
    records = adapters.quarantine.list_for_run("r1")
    assert records[0].error == "Kbflow.ReviewRejected" and records[0].stage == "review"
    assert records[0].original is not None
    assert adapters.objects.get_object("quarantine", records[0].original) == TEXT.encode()
    assert adapters.manifest.get(item["id"]).status == "rejected"  # type: ignore[union-attr]


def test_rejected_document_stays_out_until_it_changes(
    item: dict[str, Any], source_dir: Path, context: FakeLambdaContext
) -> None:
    h.apply_decision({"item": item, "decision": "reject"}, context)
    doc = {"run_id": "r2", "source": item["source"], "key": item["key"]}
    assert ing.fetch_document(doc, context)["status"] == "unchanged"
    (source_dir / "memo.md").write_text(TEXT + "\nUpdated.")
    assert ing.fetch_document(doc, context)["status"] == "changed"


def test_edit_reindexes_edited_text(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    out = h.apply_decision(
        {
            "item": item,
            "decision": {
                "decision": "edit",
                "reviewer": "cy",
                "edits": {"text": "# Memo\n\nSanitised summary only."},
            },
        },
        context,
    )
    assert out["applied"] == "reindexed"
    hits = adapters.index.search("sanitised summary", None, mode="lexical")
    assert [hit.doc_id for hit in hits] == [item["id"]]
    assert not adapters.index.search("Roe", None, mode="lexical")
    assert adapters.manifest.get(item["id"]).status == "edited"  # type: ignore[union-attr]


def test_timeout_policy_default_rejects_and_marks_review_timed_out(
    item: dict[str, Any], adapters: Adapters, context: FakeLambdaContext
) -> None:
    review = h.request_review(_request(item), context)
    out = h.apply_decision({"item": item, "execution_arn": ARN, "decision": "reject"}, context)
    assert out["reviewer"] == "policy:timeout"
    assert adapters.reviews.get(review["review_id"]).status == "timed_out"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "decision",
    [
        {"decision": "maybe", "reviewer": "x"},
        {"decision": "approve"},
        {"decision": "approve", "reviewer": "  "},
        {"decision": "edit", "reviewer": "x"},
        {"decision": "edit", "reviewer": "x", "edits": {"text": ""}},
        "publish",
        42,
    ],
)
def test_invalid_decisions(item: dict[str, Any], context: FakeLambdaContext, decision: Any) -> None:
    with pytest.raises((InvalidDecision, InvalidInput)) as info:
        h.apply_decision({"item": item, "decision": decision}, context)
    assert type(info.value).__name__ in {"Kbflow.InvalidDecision", "Kbflow.InvalidInput"}


def test_write_audit_records_who_what_why(adapters: Adapters, context: FakeLambdaContext) -> None:
    out = h.write_audit(
        {
            "item": {"id": "d1"},
            "execution_arn": ARN,
            "decision": {
                "decision": "edit",
                "reviewer": "cy",
                "comment": "removed names",
                "edits": {"text": "secret edited document text"},
            },
        },
        context,
    )
    record = adapters.audit.list("d1")[0]
    assert (record.action, record.actor, record.reason, record.execution_arn) == (
        "edit",
        "cy",
        "removed names",
        ARN,
    )
    assert record.seq == out["audit_id"] and record.at == "2026-11-24T12:00:00Z"
    assert "secret edited document text" not in str(record.details)
    assert record.details["edited_chars"] == len("secret edited document text")
    h.write_audit({"subject": "d1", "action": "timeout", "actor": "policy:timeout"}, context)
    assert [r.action for r in adapters.audit.list("d1")] == ["edit", "timeout"]


def test_missing_token_is_invalid_input(item: dict[str, Any], context: FakeLambdaContext) -> None:
    event = _request(item)
    del event["task_token"]
    with pytest.raises(InvalidInput, match="/task_token"):
        h.request_review(event, context)


def test_token_and_document_text_are_never_logged(
    item: dict[str, Any],
    adapters: Adapters,
    context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = observability.get_logger()
    logger.setLevel("DEBUG")
    caplog.set_level("DEBUG")
    try:
        h.request_review(_request(item), context)
        h.escalate_review(_request(item), context)
        with pytest.raises(InvalidInput):
            h.request_review(_request(item, task_token=12345, reason=TOKEN), context)
        with pytest.raises(InvalidInput):
            h.request_review({**_request(item), "item": {"id": TEXT}, "reason": ""}, context)
        h.apply_decision(
            {
                "item": item,
                "decision": {"decision": "edit", "reviewer": "cy", "edits": {"text": TEXT}},
            },
            context,
        )
    finally:
        logger.setLevel("WARNING")
    captured = capsys.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "correlation_id" in output  # logging did happen
    for secret in (TOKEN, "Jane Roe", "Confidential memo"):
        assert secret not in output
