"""The main job's host (sdk/_host.py) and report (sdk/_mainjob.py): wiring, workers, cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kbflow._host import Host, worker_threads
from kbflow._mainjob import (
    DocumentProgress,
    count_transitions,
    estimate_cost,
    flow_input,
    run_ingestion,
)
from kbflow.errors import ValidationError
from kbflow.tasks.catalog import FUNCTIONS
from mainjob_helpers import DOCS, index_snapshot, ingest_json


def test_host_registers_every_catalog_function_and_the_three_flows(tmp_path: Path) -> None:
    with Host(tmp_path / "store", durable=False) as host:
        assert {fn.function_name() for fn in FUNCTIONS} <= set(host.engine.functions)
        assert set(host.workflows) == {"ingestion", "reindex", "human-review"}
        assert host.workflows["human-review"].endswith(":stateMachine:kbflow-human-review")
        assert host.engine.object_store is host.adapters.objects
        assert host.durable is False


def test_host_uses_the_durable_store_when_the_runtime_has_one(tmp_path: Path) -> None:
    pytest.importorskip("kbflow.runtime.durable")
    with Host(tmp_path / "store") as host:
        assert host.durable is True
    assert (tmp_path / "store" / "engine.sqlite3").exists()


def test_progress_counts_documents_from_history_events(source: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    progress = DocumentProgress(3, on_change=lambda p: seen.append(p.done))
    with Host(tmp_path / "store", file_roots=[source], durable=False) as host:
        report = run_ingestion(host, source, progress=progress, timeout=120)
        events: list[Any] = []
        unsubscribe = host.subscribe(lambda arn, event: events.append(event))
        unsubscribe()
        run_ingestion(host, source, timeout=120)
        assert events == []  # unsubscribed listeners hear nothing
    assert report.indexed == 3
    assert sorted(seen) == [1, 2, 3] and progress.counts == {
        "indexed": 3, "quarantined": 0, "unchanged": 0}


def test_a_failed_run_is_reported_with_its_error(source: Path, tmp_path: Path) -> None:
    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("planner exploded")

    with Host(tmp_path / "store", file_roots=[source], durable=False) as host:
        host.engine.register_function("kbflow-PlanIngestion", broken, timeout_seconds=5)
        report = run_ingestion(host, source, timeout=60)
    assert report.status == "FAILED"
    assert report.to_json()["error"] and "planner exploded" in str(report.cause)


def test_run_ingestion_refuses_a_file_as_source(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    with Host(tmp_path / "store", durable=False) as host, pytest.raises(ValidationError):
        run_ingestion(host, path)


def test_worker_processes_give_the_same_index(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("kbflow.runtime.workers")
    plain = ingest_json(source, tmp_path / "plain")
    workers = ingest_json(source, tmp_path / "workers", "--workers", "2")
    assert workers["status"] == "SUCCEEDED" and workers["indexed"] == len(DOCS)
    assert workers["index"] == plain["index"]
    assert index_snapshot(tmp_path / "workers") == index_snapshot(tmp_path / "plain")


def test_transitions_count_states_entered_and_retries() -> None:
    events = [{"type": "ExecutionStarted"}, {"type": "TaskStateEntered"},
              {"type": "TaskScheduled"}, {"type": "TaskFailed"}, {"type": "TaskScheduled"},
              {"type": "TaskSucceeded"}, {"type": "TaskStateExited"},
              {"type": "PassStateEntered"}, {"type": "PassStateExited"}]
    assert count_transitions(events) == 3  # two states entered + one retry attempt


def test_cost_estimate_uses_list_prices() -> None:
    cost = estimate_cost(1000, [0.05, 1.0])
    assert cost["standard"] == pytest.approx(0.025)
    # two requests + (100 ms + 1000 ms) at 64 MB and $0.00001667 per GB-second
    assert cost["express"] == pytest.approx(2e-6 + 0.00001667 * (64 / 1024) * 1.1, rel=1e-3)


def test_flow_input_is_an_absolute_file_uri(tmp_path: Path) -> None:
    assert flow_input(tmp_path, {"max_bytes": 5}) == {
        "source": {"uri": tmp_path.resolve().as_uri()}, "options": {"max_bytes": 5}}
    assert worker_threads(2) >= 1


def test_bounded_invoker_does_not_count_queueing_against_the_timeout() -> None:
    import asyncio
    import threading
    import time

    from kbflow._host import BoundedInvoker
    from kbflow.runtime.invoke import LambdaFunction

    running: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def slow(event: Any, context: Any) -> Any:
        with lock:
            running.append(1)
            peak.append(len(running))
        time.sleep(0.3)
        with lock:
            running.pop()
        return event

    fn = LambdaFunction("slow", slow, timeout_seconds=0.5)
    invoker = BoundedInvoker(1)

    async def four() -> list[Any]:
        return await asyncio.gather(*(invoker.invoke(fn, f'{{"n": {i}}}') for i in range(4)))

    try:
        outcomes = asyncio.run(four())
    finally:
        invoker.close()
    assert [o.error for o in outcomes] == [None] * 4  # 1.2 s of queued work, 0.5 s timeout
    assert [o.payload["n"] for o in outcomes] == [0, 1, 2, 3]
    assert max(peak) == 1


def test_a_long_document_is_embedded_in_slices_end_to_end(tmp_path: Path) -> None:
    """Real handlers and embedder: the slices' vectors land on the right chunks."""
    from kbflow.tasks.adapters.objectstore import iter_objects
    from kbflow.workflows.ingestion import EMBED_SLICE_CHUNKS

    def iter_keys(store: Any, bucket: str) -> list[str]:
        return [item["Key"] for item in iter_objects(store, bucket, "")]

    src = tmp_path / "docs"
    src.mkdir()
    sentences = [f"Clause {i}: the {w} account holder keeps statement number {i} on file."
                 for i, w in enumerate(["savings", "current", "deposit", "loan"] * 60)]
    (src / "manual.txt").write_text("\n\n".join(sentences), encoding="utf-8")
    with Host(tmp_path / "store", file_roots=[src], durable=False) as host:
        report = run_ingestion(host, src, options={"chunk_tokens": 24, "chunk_overlap": 0},
                               timeout=300)
        assert report.status == "SUCCEEDED" and report.indexed == 1, report.to_json()
        index = host.adapters.index
        doc_id = index.search("Clause 7", None, k=1, mode="lexical")[0].doc_id
        chunks = index.chunks(doc_id)
        assert len(chunks) > EMBED_SLICE_CHUNKS
        work = host.adapters.work_bucket
        parts = sorted(k for k in iter_keys(host.adapters.objects, work) if "/embeddings-" in k)
        assert [k.rsplit("-", 1)[1] for k in parts] == [
            "0000000.npy",
            f"{EMBED_SLICE_CHUNKS:07d}.npy",
        ]
        assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
        for probe in (chunks[3], chunks[EMBED_SLICE_CHUNKS + 5], chunks[-2]):
            vector = host.adapters.embedder.embed([probe.text])[0]
            [hit] = index.search(probe.text, vector, k=1, mode="vector")
            assert hit.chunk_index == probe.chunk_index


def test_time_queued_for_a_worker_does_not_time_a_task_state_out() -> None:
    """Lambda runs an invocation at once; the local pool may queue it behind others first."""
    import json
    import time as _time

    from kbflow._host import BoundedInvoker
    from kbflow.runtime.engine import Engine

    def slow(event: Any, context: Any) -> Any:
        _time.sleep(float(event["sleep"]))
        return event["sleep"]

    def task(sleep: float) -> dict[str, Any]:
        return {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 2,
            "Parameters": {"FunctionName": "slow", "Payload": {"sleep": sleep}},
            "OutputPath": "$.Payload", "End": True}}}

    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True,
        "Branches": [task(0.5)] * 5}}}
    invoker = BoundedInvoker(1)  # one at a time: the fifth starts 2 s after the state did
    with Engine() as engine:
        engine.register_function("slow", slow, timeout_seconds=5, invoker=invoker)
        arn = engine.create_state_machine("queued", definition)
        done = engine.wait(engine.start_execution(arn, "{}", name="q"), timeout=30)
        assert done["Status"] == "SUCCEEDED", done
        assert json.loads(done["Output"]) == [0.5] * 5
        # A task that itself runs past TimeoutSeconds still times out.
        late = engine.create_state_machine("late", task(3))
        done = engine.wait(engine.start_execution(late, "{}", name="l"), timeout=30)
        assert (done["Status"], done["Error"]) == ("FAILED", "States.Timeout")
    invoker.close()
