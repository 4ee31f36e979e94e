"""Handlers through the embedded engine's Lambda emulation give what direct calls give."""

from __future__ import annotations

import json
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
