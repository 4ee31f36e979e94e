"""The three flows: valid on every checker, and containing what the issue asks for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonata
import pytest
from _wf_walk import states, strings
from kbflow.runtime.asl.validate import validate
from kbflow.tasks.catalog import FUNCTIONS
from kbflow.workflows import human_review, ingestion, reindex
from statelint.linter import Linter

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "ingestion": ingestion.build,
    "reindex": reindex.build,
    "human-review": human_review.build,
}
TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
    "Lambda.SdkClientException",
    "Lambda.AWSLambdaException",
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def flow(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, BUILDERS[request.param]()


def _args(state: dict[str, Any]) -> dict[str, Any]:
    """A task's payload template: ``Parameters`` (JSONPath) or ``Arguments`` (JSONata)."""
    args = state.get("Parameters") or state.get("Arguments") or {}
    assert isinstance(args, dict)
    return args


def _all(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for _, name, state in states(asl)}


def test_flow_is_valid_on_every_checker(flow: tuple[str, dict[str, Any]]) -> None:
    assert validate(flow[1]) == []


def test_statelint_accepts_flow(flow: tuple[str, dict[str, Any]]) -> None:
    assert Linter.validate(flow[1]) == []


def test_statelint_accepts_committed_definitions() -> None:
    for name in BUILDERS:
        path = ROOT / "definitions" / f"{name}.asl.json"
        assert Linter.validate(str(path)) == [], name


def test_every_state_has_a_comment_and_a_console_name(flow: tuple[str, dict[str, Any]]) -> None:
    for ptr, name, state in states(flow[1]):
        assert state.get("Comment"), ptr
        assert len(name) <= 80 and name[0].isupper() and "_" not in name, ptr


def test_build_is_deterministic(flow: tuple[str, dict[str, Any]]) -> None:
    name, asl = flow
    assert json.dumps(BUILDERS[name]()) == json.dumps(asl)


def test_lambda_tasks_use_catalog_placeholders_and_jittered_retry(
    flow: tuple[str, dict[str, Any]],
) -> None:
    known = {fn.placeholder for fn in FUNCTIONS}
    tasks = [
        (p, s)
        for p, _, s in states(flow[1])
        if s["Type"] == "Task" and "lambda:invoke" in s["Resource"]
    ]
    assert tasks
    for ptr, state in tasks:
        placeholder = _args(state)["FunctionName"]
        assert placeholder.startswith("${") and placeholder[2:-1] in known, ptr
        transient = [r for r in state["Retry"] if set(r["ErrorEquals"]) >= TRANSIENT]
        assert transient, ptr
        assert transient[0]["JitterStrategy"] == "FULL" and transient[0]["MaxDelaySeconds"] > 0


def test_every_jsonata_expression_parses(flow: tuple[str, dict[str, Any]]) -> None:
    expressions = [s for s in strings(flow[1]) if s.startswith("{%")]
    assert expressions
    for text in expressions:
        jsonata.Jsonata(text[2:-2])


def _task_schema(function: str) -> dict[str, Any] | None:
    path = ROOT / "definitions" / "schemas" / "tasks" / f"{function}.input.json"
    return json.loads(path.read_text()) if path.is_file() else None


def test_static_payloads_carry_the_task_inputs_required_fields(
    flow: tuple[str, dict[str, Any]],
) -> None:
    """Payload templates given as objects must name every field the task's input schema requires."""
    checked = 0
    for ptr, _, state in states(flow[1]):
        payload = _args(state).get("Payload")
        if state["Type"] != "Task" or not isinstance(payload, dict):
            continue
        function = _args(state)["FunctionName"][2 : -len("FunctionArn}")]
        schema = _task_schema(function)
        if schema is None:
            continue
        keys = {k.removesuffix(".$") for k in payload}
        for required in schema.get("required", []):
            assert required in keys, f"{ptr}: {function} needs {required!r}"
        if "anyOf" in schema:
            assert any(set(alt["required"]) <= keys for alt in schema["anyOf"]), ptr
        checked += 1
    assert checked


# --- ingestion -------------------------------------------------------------------------------


def test_ingestion_distributed_map() -> None:
    asl = ingestion.build()
    m = asl["States"]["Ingest Documents"]
    assert m["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert m["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert m["ItemBatcher"]["MaxItemsPerBatch"] > 1 and "BatchInput" in m["ItemBatcher"]
    assert m["MaxConcurrency"] > 0 and 0 < m["ToleratedFailurePercentage"] < 100
    assert m["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    assert m["ResultWriter"]["Parameters"]["Bucket"] == "${WorkBucketName}"
    assert asl["States"][m["Next"]]["Comment"].startswith("Count")


def test_ingestion_media_type_routing_and_quarantine() -> None:
    every = _all(ingestion.build())
    route = every["Route By Media Type"]
    targets = {c["Next"] for c in route["Choices"]}
    assert {
        "Extract PDF Text",
        "OCR Image",
        "Extract HTML Text",
        "Extract DOCX Text",
        "Extract Plain Text",
        "Reject Unsupported Media Type",
    } <= targets
    assert every[route["Default"]]["Next"] == "Quarantine Document"
    for name in (
        "Fetch And Fingerprint Document",
        "Extract PDF Text",
        "Clean Text",
        "Detect And Redact PII",
        "Chunk Text",
        "Embed Chunks",
        "Embed Chunk Slices",
        "Index Document",
        "Record In Manifest",
    ):
        catch = every[name]["Catch"]
        assert catch[-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "Quarantine Document",
        }, name
    assert every["Quarantine Document"]["ResultPath"] is None
    assert every["Skip Unchanged Document?"]["Choices"][0]["StringEquals"] == "unchanged"


def test_ingestion_starts_human_review_asynchronously() -> None:
    start = _all(ingestion.build())["Start Human Review"]
    assert start["Resource"] == "arn:aws:states:::states:startExecution"
    assert start["Parameters"]["StateMachineArn"] == "${HumanReviewStateMachineArn}"
    assert {"item", "reason.$"} <= set(start["Parameters"]["Input"])
    assert start["Catch"][0]["ErrorEquals"] == ["StepFunctions.ExecutionAlreadyExistsException"]


def _eval(expr: str, states_binding: dict[str, Any], **variables: Any) -> Any:
    return jsonata.Jsonata(expr[2:-2]).evaluate(None, {"states": states_binding, **variables})


def test_ingestion_per_document_results_are_small() -> None:
    every = _all(ingestion.build())
    doc = {
        "key": "a.pdf",
        "doc_id": "d",
        "status": "new",
        "chunks": 3,
        "artifacts": {"text": "k"},
        "review": {"required": True, "reasons": ["pii"]},
        "review_execution": {"execution_arn": "x"},
    }
    out = _eval(every["Document Indexed"]["Output"], {"input": doc})
    assert out == {
        "key": "a.pdf",
        "doc_id": "d",
        "status": "indexed",
        "change": "new",
        "chunks": 3,
        "review": {"required": True, "reasons": ["pii"]},
        "review_execution": "x",
    }
    bad = {"key": "b", "error": {"Error": "Kbflow.ExtractionFailed", "Cause": "x" * 5000}}
    out = _eval(every["Document Quarantined"]["Output"], {"input": bad})
    assert out["status"] == "quarantined" and out["error"] == "Kbflow.ExtractionFailed"
    assert len(out["cause"]) == 1000 and "doc_id" not in out


# --- reindex ---------------------------------------------------------------------------------


def _route(asl: dict[str, Any], event: dict[str, Any]) -> str:
    choice = asl["States"]["Route Reindex Request"]
    for rule in choice["Choices"]:
        if _eval(rule["Condition"], {"input": event}) is True:
            return str(rule["Next"])
    return str(choice["Default"])


@pytest.mark.parametrize(
    "event, target",
    [
        ({"mode": "full", "site": "https://wiki"}, "Crawl Site"),
        (
            {"detail-type": "x", "detail": {"page": "https://wiki/p", "action": "deleted"}},
            "Delete Page From Index",
        ),
        ({"detail": {"page": "https://wiki/p", "action": "created"}}, "Fetch Page"),
        ({"detail": {"page": "https://wiki/p", "action": "updated"}}, "Fetch Page"),
        ({"detail": {"page": "https://wiki/p", "action": "renamed"}}, "Invalid Reindex Request"),
        ({"detail": {"action": "updated"}}, "Invalid Reindex Request"),
        ({"mode": "partial", "site": "https://wiki"}, "Invalid Reindex Request"),
        ({}, "Invalid Reindex Request"),
    ],
)
def test_reindex_routes_event_or_full(event: dict[str, Any], target: str) -> None:
    assert _route(reindex.build(), event) == target


def test_reindex_full_mode_maps_over_upserts_and_deletes() -> None:
    every = _all(reindex.build())
    upserts, deletes = every["Upsert Changed Pages"], every["Delete Vanished Pages"]
    assert upserts["ItemsPath"] == "$.diff.upserts" and deletes["ItemsPath"] == "$.diff.deletes"
    for m in (upserts, deletes):
        assert m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert upserts["Next"] == "Delete Vanished Pages" and deletes["Next"] == "Summarise Reindex"
    assert every["Delete Vanished Page"]["Catch"][0]["Next"] == "Vanished Page Failed"
    assert every["Crawl Site"]["Next"] == "Diff Against Manifest"


# --- human review ----------------------------------------------------------------------------


def test_review_waits_for_task_token_with_input_deadlines() -> None:
    every = _all(human_review.build())
    for name, deadline in (
        ("Request Human Review", "$.deadline_seconds"),
        ("Escalate Review", "$.escalation_deadline_seconds"),
    ):
        for task, heartbeat in ((every[name], False), (every[f"{name} With Heartbeat"], True)):
            assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
            assert task["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
            assert task["TimeoutSecondsPath"] == deadline
            assert ("HeartbeatSecondsPath" in task) is heartbeat
            assert ("heartbeat_seconds.$" in task["Parameters"]["Payload"]) is heartbeat
            caught = task["Catch"][0]["ErrorEquals"]
            assert caught == (["States.Timeout", "States.HeartbeatTimeout"] if heartbeat
                              else ["States.Timeout"])
            assert not any("States.Timeout" in r["ErrorEquals"] for r in task["Retry"])
            assert task["Next"] == "Route Decision"
    assert every["Prepare Review Request"]["Next"] == "Review Heartbeat?"
    choice = every["Review Heartbeat?"]
    assert choice["Choices"][0]["Next"] == "Request Human Review With Heartbeat"
    assert choice["Default"] == "Request Human Review"
    assert every["Request Human Review"]["Catch"][0]["Next"] == "Audit Review Timeout"
    assert every["Audit Review Timeout"]["Next"] == "Escalation Heartbeat?"
    assert every["Escalation Heartbeat?"]["Default"] == "Escalate Review"
    assert every["Escalate Review"]["Catch"][0]["Next"] == "Audit Escalation Timeout"
    assert every["Audit Escalation Timeout"]["Next"] == "Apply Policy Default"


def test_review_defaults_and_validation() -> None:
    every = _all(human_review.build())
    prepare = every["Prepare Review Request"]["Output"]
    out = _eval(prepare, {"input": {"item": {"id": "a"}, "reason": "pii"}})
    assert out == {
        "item": {"id": "a"},
        "reason": "pii",
        "deadline_seconds": 86400,
        "escalation_deadline_seconds": 86400,
    }
    asked = {"item": {"id": "a"}, "reason": "r", "deadline_seconds": 60, "heartbeat_seconds": 300}
    out = _eval(prepare, {"input": asked})
    assert out["deadline_seconds"] == 60 and out["heartbeat_seconds"] == 59
    out = _eval(prepare, {"input": {**asked, "heartbeat_seconds": 30}})
    assert out["heartbeat_seconds"] == 30
    rule = every["Validate Review Request"]["Choices"][0]["Condition"]
    assert (
        _eval(rule, {"input": {"item": {"id": "a"}, "reason": "r", "heartbeat_seconds": 5}}) is True
    )
    for bad in (
        {"reason": "r"},
        {"item": {"id": "a"}},
        {"item": {"id": 3}, "reason": "r"},
        {"item": {"id": "a"}, "reason": "r", "deadline_seconds": 0},
        {"item": {"id": "a"}, "reason": "r", "deadline_seconds": 2.5},
    ):
        assert _eval(rule, {"input": bad}) is False, bad


@pytest.mark.parametrize(
    "decision, target",
    [
        ("approve", "Apply Approval"),
        ("reject", "Apply Rejection"),
        ("edit", "Apply Edits"),
        ("maybe", "Audit Invalid Decision"),
    ],
)
def test_review_routes_decisions(decision: str, target: str) -> None:
    choice = _all(human_review.build())["Route Decision"]
    state = {"input": {"decision": {"decision": decision, "reviewer": "ann"}}}
    matched = [r["Next"] for r in choice["Choices"] if _eval(r["Condition"], state) is True]
    assert (matched[0] if matched else choice["Default"]) == target


def test_review_policy_default_is_reject_and_audited() -> None:
    every = _all(human_review.build())
    policy = every["Apply Policy Default"]
    out = _eval(policy["Output"], {"input": {"item": {"id": "a"}, "reason": "r"}})
    assert out["decision"]["decision"] == "reject" and out["decision"]["reviewer"] == "policy"
    assert policy["Next"] == "Route Decision"
    assert every["Audit Escalation Timeout"]["Assign"] == {"level": "policy"}
    for name in ("Apply Approval", "Apply Rejection", "Apply Edits"):
        assert every[name]["Next"] == "Audit Decision"
    assert every["Audit Invalid Decision"]["Next"] == "Invalid Decision"
    ctx = {"Execution": {"Id": "arn:x"}, "State": {"EnteredTime": "2026-01-01T00:00:00Z"}}
    payload = every["Audit Review Timeout"]["Arguments"]["Payload"]
    record = _eval(
        payload,
        {
            "input": {"item": {"id": "a"}, "reason": "r", "timeout": {"Error": "States.Timeout"}},
            "context": ctx,
        },
        level="primary",
    )
    assert record["action"] == "timeout" and record["actor"] == "system"
    assert record["reason"] == "States.Timeout" and "decision" not in record
    done = _eval(
        every["Review Complete"]["Output"],
        {
            "input": {
                "item": {"id": "a"},
                "decision": {"decision": "reject", "reviewer": "policy"},
                "applied": {"ok": True},
            }
        },
        level="policy",
    )
    assert done == {
        "item_id": "a",
        "decision": "reject",
        "reviewer": "policy",
        "level": "policy",
        "applied": {"ok": True},
    }


def test_ingestion_output_carries_the_summary_counts() -> None:
    asl = ingestion.build()
    summary = asl["States"]["Summarise Ingestion"]
    assert summary["ResultPath"] == "$.summary"
    assert set(summary["ResultSelector"]) == {
        "documents.$",
        "indexed.$",
        "unchanged.$",
        "quarantined.$",
        "removed.$",
        "flagged_for_review.$",
    }
    counts = {
        "documents": 5,
        "indexed": 2,
        "unchanged": 1,
        "quarantined": 2,
        "removed": 0,
        "flagged_for_review": 1,
    }
    state = {"input": {"run_id": "r1", "summary": counts, "map": {"map_run_arn": "arn:m"}}}
    out = _eval(asl["States"]["Ingestion Complete"]["Output"], state)
    assert out == {"run_id": "r1", "counts": counts, "map_run_arn": "arn:m"}


def test_only_web_fetches_retry_a_busy_site() -> None:
    every = _all(reindex.build())
    for name, state in every.items():
        if state.get("Type") != "Task":
            continue
        retried = [e for r in state.get("Retry", []) for e in r["ErrorEquals"]]
        fetches = name in ("Fetch Page", "Fetch Site Page", "Crawl Site")
        assert ("Kbflow.TransientFetchError" in retried) is fetches, name
        if fetches:
            busy = ["Kbflow.TransientFetchError"]
            [rule] = [r for r in state["Retry"] if r["ErrorEquals"] == busy]
            assert rule["IntervalSeconds"] >= 5 and rule["JitterStrategy"] == "FULL"


def test_long_documents_are_embedded_in_slices() -> None:
    every = _all(ingestion.build())
    choice = every["Many Chunks?"]
    assert every["Chunk Text"]["Next"] == "Many Chunks?"
    assert choice["Default"] == "Embed Chunks" and choice["Choices"][0]["Next"] == (
        "Plan Embedding Slices"
    )
    rule = choice["Choices"][0]["And"]
    assert {"Variable": "$.chunks", "IsPresent": True} in rule
    assert {"Variable": "$.chunks", "NumericGreaterThan": ingestion.EMBED_SLICE_CHUNKS} in rule
    plan = every["Plan Embedding Slices"]
    assert plan["Parameters"]["starts.$"] == (
        f"States.ArrayRange(0, States.MathAdd($.chunks, -1), {ingestion.EMBED_SLICE_CHUNKS})"
    )
    slices = every["Embed Chunk Slices"]
    assert slices["ItemsPath"] == "$.embed_slices.starts"
    assert slices["MaxConcurrency"] == ingestion.EMBED_SLICES_IN_FLIGHT
    assert slices["ResultPath"] == "$.embedding_slices"
    assert slices["Next"] == every["Embed Chunks"]["Next"] == "Index Document"
    task = slices["ItemProcessor"]["States"]["Embed Chunk Slice"]
    assert task["Parameters"]["Payload.$"] == "States.JsonMerge($.doc, $.slice, false)"
    assert task["Parameters"]["FunctionName"] == "${EmbedChunksFunctionArn}"
