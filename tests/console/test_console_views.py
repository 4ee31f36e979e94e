"""The console's data: graph, per-state summaries, cost, lists, live updates."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from console_helpers import Served
from kbflow.runtime.api.console import mask_tokens
from kbflow.runtime.api.cost import estimate, transitions
from kbflow.runtime.api.graph import END, START, graph_of, state_runs, taken_transitions

FLOW = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Work",
                "States": {
                    "Work": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
                        "Retry": [
                            {
                                "ErrorEquals": ["Flaky"],
                                "IntervalSeconds": 1,
                                "MaxAttempts": 2,
                                "BackoffRate": 1,
                            }
                        ],
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.results",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "X.Err"}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
            "Next": "Done",
        },
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Never": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def test_graph_of_containers_and_edges() -> None:
    graph = graph_of(FLOW)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["Each\0box"]["type"] == "Container"
    assert nodes["Each"]["parent"] == "Each\0box" and nodes["Work"]["parent"] == "Each\0box"
    assert nodes["Ok"]["parent"] == nodes["Boom"]["parent"] == "Both\0box"
    edges = {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}
    assert (START, "Each", "next") in edges
    assert ("Each", "Work", "next") in edges and ("Work", "Each\0end", "end") in edges
    assert ("Each\0end", "Both", "next") in edges  # leaving a container from its join node
    assert ("Both\0end", "Recover", "catch") in edges
    assert ("Done", END, "end") in edges
    assert not any(
        e["source"].endswith("\0box") or e["target"].endswith("\0box") for e in graph["edges"]
    )  # no edge touches a container


def _run_flow(served: Served) -> tuple[str, list[dict[str, Any]]]:
    calls = {"n": 0}

    class Flaky(Exception):
        pass

    def flaky(event: Any, ctx: Any) -> Any:
        calls["n"] += 1
        if event == 2 and calls["n"] < 10 and not getattr(flaky, "failed", False):
            flaky.failed = True  # type: ignore[attr-defined]
            raise Flaky("first try fails")
        return event * 10

    served.engine.register_function("flaky", flaky)
    sfn = served.client()
    arn = sfn.create_state_machine(
        name="views", definition=json.dumps(FLOW), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    run = sfn.start_execution(
        stateMachineArn=arn, name="v1", input=json.dumps({"items": [1, 2, 3]})
    )["executionArn"]
    result = served.engine.wait(run, timeout=30)
    assert result["Status"] == "SUCCEEDED"
    return run, served.engine.history(run)


def test_state_runs_statuses(served: Served) -> None:
    _, events = _run_flow(served)
    runs = state_runs(events, "SUCCEEDED")
    assert runs["Each"].status == "succeeded"
    assert runs["Each"].iterations == {"total": 3, "succeeded": 3}
    assert runs["Work"].entered == 3 and runs["Work"].status == "succeeded"
    assert [r["error"] for r in runs["Work"].retries] == ["Flaky"]
    assert runs["Boom"].status == "failed"
    assert runs["Both"].status == "caught"
    assert runs["Recover"].status == "succeeded" and runs["Done"].status == "succeeded"
    assert "Never" not in runs  # not reached
    assert json.loads(runs["Recover"].output)["error"]["Error"] == "X.Err"
    taken = set(taken_transitions(events))
    assert {
        ("Each", "Work"),
        ("Each", "Both"),
        ("Both", "Ok"),
        ("Both", "Boom"),
        ("Both", "Recover"),
        ("Recover", "Done"),
    } <= taken
    assert ("Both", "Done") not in taken and not any("Never" in t for t in taken)
    running = state_runs(events[:6], "RUNNING")
    assert any(r.status == "running" for r in running.values())


def test_cost_estimate(served: Served) -> None:
    _, events = _run_flow(served)
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    assert transitions(events) == entered + 1  # one retry attempt
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cost = estimate(events, start, start + timedelta(milliseconds=250), start)
    assert cost["standard_usd"] == pytest.approx((entered + 1) * 0.000025)
    assert cost["billed_ms"] == 300
    assert cost["express_usd"] == pytest.approx(1e-6 + 0.00001667 * 0.0625 * 0.3)


def test_console_lists_and_execution_view(served: Served) -> None:
    run, events = _run_flow(served)
    base = served.url + "/console/api"
    machines = httpx.get(base + "/state-machines").json()["stateMachines"]
    assert machines[0]["name"] == "views" and machines[0]["counts"] == {"SUCCEEDED": 1}
    assert [
        e["name"]
        for e in httpx.get(base + "/executions", params={"status": "SUCCEEDED", "q": "V1"}).json()[
            "executions"
        ]
    ] == ["v1"]
    assert httpx.get(base + "/executions", params={"status": "FAILED"}).json()["total"] == 0
    view = httpx.get(base + "/execution", params={"arn": run}).json()
    assert view["execution"]["status"] == "SUCCEEDED"
    assert len(view["events"]) == view["eventCount"] == len(events)
    assert view["states"]["Both"]["status"] == "caught"
    assert view["graph"]["nodes"][0]["id"] == START
    assert view["cost"]["transitions"] == transitions(events)
    assert httpx.get(base + "/execution", params={"arn": "nope"}).status_code == 404
    machine = httpx.get(base + "/state-machine", params={"arn": machines[0]["stateMachineArn"]})
    assert machine.json()["stateMachine"]["name"] == "views"
    assert {n["id"] for n in machine.json()["graph"]["nodes"]} >= {"Each", "Work", "Never"}
    assert httpx.get(base + "/state-machine", params={"arn": "x"}).status_code == 404
    served.client().delete_state_machine(stateMachineArn=view["stateMachine"]["stateMachineArn"])
    orphan = httpx.get(base + "/execution", params={"arn": run}).json()
    assert orphan["execution"]["status"] == "SUCCEEDED" and len(orphan["graph"]["nodes"]) == 2
    page = httpx.get(served.url + "/")
    assert "dagre.min.js" in page.text and served.config.csrf_token in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(served.url + "/static/vendor/dagre.min.js").status_code == 200


def test_live_updates_stream(served: Served) -> None:
    sfn = served.client()
    arn = sfn.create_state_machine(
        name="live",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps(
            {
                "StartAt": "W",
                "States": {
                    "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                    "P": {"Type": "Pass", "End": True},
                },
            }
        ),
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    kinds, seen_ids = [], []
    started = time.monotonic()
    with httpx.stream(
        "GET",
        served.url + "/console/api/execution/stream",
        params={"arn": run, "after": "0"},
        timeout=20,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
                kinds.append(kind)
            elif line.startswith("data: ") and kind == "update":
                data = json.loads(line[6:])
                seen_ids.extend(e["id"] for e in data["events"])
            if kind == "done" or time.monotonic() - started > 15:
                break
    assert kinds[0] == "update" and kinds[-1] == "done" and kinds.count("update") >= 2
    assert seen_ids == list(range(1, len(seen_ids) + 1))  # every event once, in order
    assert seen_ids[-1] == len(served.engine.history(run))


def test_mask_tokens() -> None:
    token = "A" * 40
    text = json.dumps({"Payload": {"task_token": token, "x": 1}})
    assert token not in mask_tokens(text)
    assert mask_tokens({"taskToken": token, "n": [text]}) == {
        "taskToken": "***",
        "n": [text.replace(token, "***")],
    }


def test_distributed_map_view(served: Served) -> None:
    sfn = served.client()
    arn = sfn.create_state_machine(
        name="dist",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps(
            {
                "StartAt": "M",
                "States": {
                    "M": {
                        "Type": "Map",
                        "ItemsPath": "$.items",
                        "Label": "Fan",
                        "ItemProcessor": {
                            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                            "StartAt": "Echo",
                            "States": {"Echo": {"Type": "Pass", "End": True}},
                        },
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input='{"items": [1, 2, 3]}')["executionArn"]
    served.engine.wait(run, timeout=20)
    base = served.url + "/console/api/execution"
    state = httpx.get(base, params={"arn": run}).json()["states"]["M"]
    assert state["iterations"] == {"total": 3, "succeeded": 3, "failed": 0, "mapRun": 1}
    assert len(state["children"]) == 3 and {c["status"] for c in state["children"]} == {"SUCCEEDED"}
    child = httpx.get(base, params={"arn": state["children"][0]["executionArn"]}).json()
    assert child["stateMachine"]["name"] == "dist/Fan"
    assert [n["id"] for n in child["graph"]["nodes"]] == [START, END, "Echo"]
    assert child["states"]["Echo"]["status"] == "succeeded"
