"""The generated flows run on kbflow's own engine with fake task handlers (data-flow smoke tests).

These check that the JSONPath/JSONata wiring between states is right end to end: what each
task receives, what the flow outputs, which paths are taken on errors and timeouts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

engine_mod = pytest.importorskip("kbflow.runtime.engine")
clock_mod = pytest.importorskip("kbflow.runtime.clock")

from kbflow.tasks.catalog import substitutions  # noqa: E402
from kbflow.workflows import human_review, reindex  # noqa: E402

Handler = Callable[[dict[str, Any], Any], Any]


@pytest.fixture
def engine() -> Iterator[Any]:
    eng = engine_mod.Engine(clock=clock_mod.VirtualClock())
    yield eng
    eng.close()


def _register(eng: Any, handlers: dict[str, Handler]) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def wrap(name: str, fn: Handler) -> Handler:
        def handler(event: dict[str, Any], ctx: Any) -> Any:
            calls.append((name, event))
            return fn(event, ctx)

        return handler

    for name, fn in handlers.items():
        eng.register_function(f"kbflow-{name}", wrap(name, fn), timeout_seconds=30)
    return calls


def _error(name: str) -> type[Exception]:
    return type(name, (Exception,), {})


def _page(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
    url = event["url"]
    if url.endswith("bad"):
        raise _error("Kbflow.FetchFailed")("404")
    return {
        "key": url,
        "url": url,
        "doc_id": "d-" + url[-1],
        "media_type": "text/html",
        "source": {"site": "https://w"},
        "artifacts": {"original": "k"},
        "status": "unchanged" if url.endswith("same") else "changed",
    }


def _echo(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return dict(event)


def _reindex_handlers() -> dict[str, Handler]:
    diff = {
        "site": "https://w",
        "run_id": "r",
        "new": 1,
        "existing": 2,
        "vanished": 1,
        "upserts": [{"url": "https://w/a"}, {"url": "https://w/bad"}, {"url": "https://w/same"}],
        "deletes": [{"doc_id": "old", "key": "https://w/old"}],
    }
    handlers: dict[str, Handler] = {
        name: _echo
        for name in (
            "ExtractHtml",
            "CleanText",
            "RedactPii",
            "ChunkText",
            "EmbedChunks",
            "IndexDocument",
            "RecordManifest",
        )
    }
    handlers.update(
        FetchPage=_page,
        CrawlSite=lambda e, c: {"site": e["site"], "run_id": "r", "pages": 3, "urls_key": "k"},
        DiffManifest=lambda e, c: diff,
        DeleteFromIndex=lambda e, c: {"doc_id": e.get("doc_id", "x"), "deleted": True},
        SummariseReindex=lambda e, c: {"upserted": e["upserted"], "deleted": e["deleted"]},
    )
    return handlers


def _run(eng: Any, flow: dict[str, Any], value: Any, name: str) -> dict[str, Any]:
    sm = eng.create_state_machine(f"kbflow-{name}", flow, substitutions=substitutions())
    arn = eng.start_execution(sm, json.dumps(value), name=name)
    described = eng.wait(arn, timeout=30)
    assert isinstance(described, dict)
    return described


def test_reindex_full_mode(engine: Any) -> None:
    calls = _register(engine, _reindex_handlers())
    done = _run(engine, reindex.build(), {"mode": "full", "site": "https://w"}, "full")
    assert done["Status"] == "SUCCEEDED", done
    out = json.loads(done["Output"])
    by_url = {r.get("url"): r["status"] for r in out["upserted"]}
    assert by_url == {
        "https://w/a": "indexed",
        "https://w/bad": "failed",
        "https://w/same": "unchanged",
    }
    assert out["deleted"] == [{"doc_id": "old", "status": "deleted"}]
    assert ("DeleteFromIndex", {"doc_id": "old", "key": "https://w/old"}) in calls


@pytest.mark.parametrize(
    "event, status, last",
    [
        ({"detail": {"page": "https://w/a", "action": "updated"}}, "SUCCEEDED", "RecordManifest"),
        ({"detail": {"page": "https://w/a", "action": "deleted"}}, "SUCCEEDED", "DeleteFromIndex"),
        ({"detail": {"page": "https://w/same", "action": "created"}}, "SUCCEEDED", "FetchPage"),
        ({"detail": {"page": "https://w/bad", "action": "created"}}, "FAILED", "FetchPage"),
        ({"nothing": True}, "FAILED", None),
    ],
)
def test_reindex_event_mode(
    engine: Any, event: dict[str, Any], status: str, last: str | None
) -> None:
    calls = _register(engine, _reindex_handlers())
    done = _run(engine, reindex.build(), event, "event")
    assert done["Status"] == status, done
    assert (calls[-1][0] if calls else None) == last
    if status == "FAILED":
        assert done["Error"] in ("Kbflow.FetchFailed", "Kbflow.InvalidInput")


def test_a_busy_site_is_retried_then_given_up(engine: Any) -> None:
    """Kbflow.TransientFetchError: retried with a slow backoff (virtual time), then caught."""
    attempts: list[str] = []

    def busy_then_ok(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        attempts.append(event["url"])
        if event["url"].endswith("down") or len(attempts) < 3:
            raise _error("Kbflow.TransientFetchError")("HTTP 503")
        return _page(event, ctx)

    calls = _register(engine, {**_reindex_handlers(), "FetchPage": busy_then_ok})
    done = _run(engine, reindex.build(),
                {"detail": {"page": "https://w/same", "action": "created"}}, "busy")
    assert done["Status"] == "SUCCEEDED", done
    assert len(attempts) == 3
    attempts.clear()
    done = _run(engine, reindex.build(),
                {"detail": {"page": "https://w/down", "action": "created"}}, "down")
    assert (done["Status"], done["Error"]) == ("FAILED", "Kbflow.TransientFetchError")
    assert len(attempts) == 4  # the first try and MaxAttempts 3
    assert [n for n, _ in calls].count("FetchPage") == 7


def _review_handlers(
    tokens: list[str], decision: dict[str, Any] | None, eng: Any
) -> dict[str, Handler]:
    def request(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        tokens.append(event["task_token"])
        if decision is not None:
            # The reviewer answers while the request is delivered: once the test waits on the
            # result, the virtual clock skips over an unanswered review's deadline.
            eng.send_task_success(event["task_token"], json.dumps(decision))
        return {}

    return {
        "RequestReview": request,
        "EscalateReview": request,
        "ApplyDecision": lambda e, c: {"item_id": e["item"]["id"], "applied": e["action"]},
        "WriteAudit": lambda e, c: {"audit_id": "a", "at": "t"},
    }


def test_review_decision_is_applied_audited_and_output(engine: Any) -> None:
    tokens: list[str] = []
    decision = {"decision": "edit", "reviewer": "ann", "comment": "fixed", "edits": {"text": "x"}}
    calls = _register(engine, _review_handlers(tokens, decision, engine))
    done = _run(engine, human_review.build(), {"item": {"id": "doc-1"}, "reason": "pii"}, "r1")
    assert done["Status"] == "SUCCEEDED", done
    assert json.loads(done["Output"]) == {
        "item_id": "doc-1",
        "decision": "edit",
        "reviewer": "ann",
        "comment": "fixed",
        "level": "primary",
        "applied": {"item_id": "doc-1", "applied": "edit"},
    }
    names = [name for name, _ in calls]
    assert names == ["RequestReview", "ApplyDecision", "WriteAudit"]
    request = calls[0][1]
    assert request["deadline_seconds"] == 86400 and "heartbeat_seconds" not in request
    audit = calls[-1][1]
    assert (audit["action"], audit["actor"], audit["reason"]) == ("edit", "ann", "fixed")


def test_review_invalid_input_fails_fast(engine: Any) -> None:
    calls = _register(engine, _review_handlers([], None, engine))
    done = _run(engine, human_review.build(), {"item": {"id": ""}, "reason": "pii"}, "bad")
    assert (done["Status"], done["Error"], calls) == ("FAILED", "Kbflow.InvalidInput", [])


def test_review_timeouts_escalate_then_apply_the_policy_default(engine: Any) -> None:
    """Virtual clock, default (day-long) deadlines: review and escalation both time out."""
    calls = _register(engine, _review_handlers([], None, engine))
    started = time.monotonic()
    done = _run(engine, human_review.build(), {"item": {"id": "doc-1"}, "reason": "pii"}, "late")
    assert time.monotonic() - started < 5  # waiting on the result skips the deadlines
    assert done["Status"] == "SUCCEEDED", done
    out = json.loads(done["Output"])
    assert (out["decision"], out["reviewer"], out["level"]) == ("reject", "policy", "policy")
    audits = [event for name, event in calls if name == "WriteAudit"]
    assert [(a["action"], a["level"]) for a in audits] == [
        ("timeout", "primary"),
        ("timeout", "escalation"),
        ("reject", "policy"),
    ]
    assert audits[0]["reason"] == "States.Timeout"  # no heartbeat was asked for
    escalation = next(event for name, event in calls if name == "EscalateReview")
    assert escalation["level"] == "escalation" and "Error" in escalation["error"]


def test_review_without_heartbeat_waits_for_its_deadline(engine: Any) -> None:
    """Nobody heart-beats a person's review: only the deadline (a day) moves it on."""
    tokens: list[str] = []
    _register(engine, _review_handlers(tokens, None, engine))
    sm = engine.create_state_machine("kbflow-review-hb", human_review.build(),
                                     substitutions=substitutions())
    arn = engine.start_execution(sm, json.dumps({"item": {"id": "doc-1"}, "reason": "pii"}),
                                 name="no-heartbeat")
    deadline = time.monotonic() + 10

    def submitted() -> bool:  # the Lambda returned: the state waits for the token alone
        events = engine.get_execution_history(arn)["events"]
        return any(e["type"] == "TaskSubmitted" for e in events)

    while not submitted() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tokens
    engine.clock.advance(6 * 3600)  # well past the old one-hour heartbeat default
    time.sleep(0.2)
    assert engine.describe_execution(arn)["Status"] == "RUNNING"
    history = engine.get_execution_history(arn)["events"]
    assert not [e for e in history if e["type"] == "TaskTimedOut"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history
               if e["type"] == "TaskStateEntered"]
    assert entered == ["Request Human Review"]
    engine.stop_execution(arn)


def test_review_with_heartbeat_escalates_when_the_ui_goes_silent(engine: Any) -> None:
    calls = _register(engine, _review_handlers([], None, engine))
    done = _run(engine, human_review.build(),
                {"item": {"id": "doc-1"}, "reason": "pii", "heartbeat_seconds": 60}, "hb")
    assert done["Status"] == "SUCCEEDED", done
    audits = [event for name, event in calls if name == "WriteAudit"]
    assert [(a["action"], a["reason"]) for a in audits][:2] == [
        ("timeout", "States.HeartbeatTimeout"),
        ("timeout", "States.HeartbeatTimeout"),
    ]
    request = next(event for name, event in calls if name == "RequestReview")
    assert request["heartbeat_seconds"] == 60


def _ingestion_handlers() -> dict[str, Handler]:
    media = {
        "pdf": "application/pdf",
        "png": "image/png",
        "exe": "application/x-msdownload",
        "txt": "text/plain",
    }

    def fetch(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        ext = event["key"].rsplit(".", 1)[1]
        return {
            **event,
            "doc_id": "id-" + ext,
            "sha256": "x",
            "media_type": media[ext],
            "status": "unchanged" if ext == "txt" else "new",
            "artifacts": {"original": "k"},
        }

    def pdf(event: dict[str, Any], ctx: Any) -> Any:
        raise _error("Kbflow.ExtractionFailed")("bad pdf")

    def pii(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {**event, "review": {"required": event["key"].endswith("png"), "reasons": ["pii"]}}

    handlers: dict[str, Handler] = {
        name: _echo
        for name in (
            "ExtractImage",
            "CleanText",
            "ChunkText",
            "EmbedChunks",
            "IndexDocument",
            "RecordManifest",
        )
    }
    handlers.update(
        PlanIngestion=lambda e, c: {
            "run_id": "run1",
            "options": {},
            "source": {"uri": "s3://src/docs/", "bucket": "src", "prefix": "docs/"},
        },
        FetchDocument=fetch,
        ExtractPdf=pdf,
        RedactPii=pii,
        QuarantineDocument=lambda e, c: {"key": e["key"], "status": "quarantined"},
        SummariseIngestion=lambda e, c: {
            "documents": 4,
            "indexed": 1,
            "unchanged": 1,
            "quarantined": [{}, {}],
            "removed": [],
            "review": [{}],
        },
    )
    return handlers


def _ingest(
    handlers: dict[str, Handler], files: tuple[str, ...]
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Run the ingestion flow over ``s3://src/docs/<files>`` with fake task functions."""
    store_mod = pytest.importorskip("kbflow.runtime.objectstore")
    store = store_mod.InMemoryObjectStore()
    for name in files:
        store.put_object("src", f"docs/{name}", b"data")
    eng = engine_mod.Engine(clock=clock_mod.VirtualClock(), object_store=store)
    try:
        calls = _register(eng, handlers)
        eng.create_state_machine(
            "kbflow-human-review", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        )
        from kbflow.workflows import ingestion

        sm = eng.create_state_machine(
            "kbflow-ingestion",
            ingestion.build(),
            substitutions=substitutions(extra={"WorkBucketName": "work"}),
        )
        done = eng.wait(
            eng.start_execution(sm, json.dumps({"source": {"uri": "s3://src/docs/"}}), name="i1"),
            timeout=30,
        )
    finally:
        eng.close()
    return done, calls


def test_ingestion_end_to_end() -> None:
    done, calls = _ingest(_ingestion_handlers(), ("a.pdf", "b.png", "c.exe", "d.txt"))
    assert done["Status"] == "SUCCEEDED", done
    out = json.loads(done["Output"])
    assert out["counts"]["quarantined"] == 2 and out["counts"]["flagged_for_review"] == 1
    quarantined = sorted(e["key"] for n, e in calls if n == "QuarantineDocument")
    assert quarantined == ["docs/a.pdf", "docs/c.exe"]
    assert {e["error"]["Error"] for n, e in calls if n == "QuarantineDocument"} == {
        "Kbflow.ExtractionFailed",
        "Kbflow.UnsupportedMediaType",
    }


def test_a_long_document_is_embedded_in_slices() -> None:
    """Many Chunks? -> Plan Embedding Slices -> Embed Chunk Slices -> Index Document."""
    from kbflow.workflows.ingestion import EMBED_SLICE_CHUNKS

    handlers = _ingestion_handlers()

    def chunk(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {**event, "chunks": 300 if event["key"].endswith("pdf") else 5}

    def embed(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if "slice" not in event:
            return {**event, "artifacts": {**event["artifacts"], "embeddings": "one.npy"}}
        start, size = event["slice"]["start"], event["slice"]["size"]
        assert event["doc_id"] == "id-pdf" and event["chunks"] == 300
        return {"start": start, "stop": min(start + size, 300), "key": f"part-{start}.npy"}

    handlers.update(ExtractPdf=_echo, ChunkText=chunk, EmbedChunks=embed)
    done, calls = _ingest(handlers, ("long.pdf", "short.png"))
    assert done["Status"] == "SUCCEEDED", done
    slices = sorted(e["slice"]["start"] for n, e in calls if n == "EmbedChunks" and "slice" in e)
    assert slices == [0, EMBED_SLICE_CHUNKS, 2 * EMBED_SLICE_CHUNKS]
    indexed = {e["doc_id"]: e for n, e in calls if n == "IndexDocument"}
    assert [s["start"] for s in indexed["id-pdf"]["embedding_slices"]] == slices  # item order
    assert indexed["id-pdf"]["embedding_slices"][-1]["stop"] == 300
    assert "embedding_slices" not in indexed["id-png"]
    assert indexed["id-png"]["artifacts"]["embeddings"] == "one.npy"


def test_review_invalid_decision_is_audited_then_fails(engine: Any) -> None:
    calls = _register(
        engine, _review_handlers([], {"decision": "maybe", "reviewer": "bob"}, engine)
    )
    done = _run(engine, human_review.build(), {"item": {"id": "doc-1"}, "reason": "pii"}, "odd")
    assert (done["Status"], done["Error"]) == ("FAILED", "Kbflow.InvalidDecision")
    assert "unknown decision: maybe" in done["Cause"]
    audit = [event for name, event in calls if name == "WriteAudit"]
    assert [(a["action"], a["actor"]) for a in audit] == [("invalid", "bob")]
