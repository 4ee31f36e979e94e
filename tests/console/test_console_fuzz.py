"""Malformed requests never get a 500 and never crash the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from console_helpers import Served, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kbflow.runtime.api import AppConfig, Settings
from kbflow.runtime.api.operations import ASYNC_OPERATIONS, OPERATIONS
from kbflow.runtime.engine import Engine

OPS = sorted([*OPERATIONS, *ASYNC_OPERATIONS, "Nope", ""])
MEMBERS = [
    "name",
    "definition",
    "roleArn",
    "type",
    "stateMachineArn",
    "executionArn",
    "input",
    "output",
    "taskToken",
    "maxResults",
    "nextToken",
    "reverseOrder",
    "includeExecutionData",
    "statusFilter",
    "mapRunArn",
    "activityArn",
    "resourceArn",
    "tags",
    "tagKeys",
    "error",
    "cause",
    "workerName",
    "inspectionLevel",
    "stateName",
]
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz"
ARNS = [
    SM,
    SM.replace("stateMachine:fuzz", "execution:fuzz:x"),
    "arn:aws:states:::x",
    "",
    SM.replace("stateMachine:fuzz", "activity:a"),
    "arn:" + "a" * 3000,
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(ARNS),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(MEMBERS), json_values, max_size=6).map(json.dumps)
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60)
TARGETS = [f"AWSStepFunctions.{op}" for op in OPS if op]
raw = st.binary(max_size=300) | st.text(max_size=200).map(str.encode)


@pytest.fixture(scope="module")
def target() -> Iterator[Served]:
    engine = Engine()
    engine.create_state_machine(
        "fuzz", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    try:
        yield from serve(
            engine, AppConfig(settings=Settings(activity_poll_seconds=0.05, sync_timeout_seconds=2))
        )
    finally:
        engine.close()


@pytest.fixture(scope="module")
def http(target: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=10) as client:
        yield client


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["__type"].startswith("com.amazonaws.swf.service.v2.model#")


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(op=st.sampled_from(OPS), body=bodies | raw.map(lambda b: b.decode("latin-1")))
def test_fuzz_operations(http: httpx.Client, op: str, body: str) -> None:
    check(
        http.post(
            "/",
            content=body.encode("latin-1", "replace"),
            headers={
                "X-Amz-Target": f"AWSStepFunctions.{op}",
                "Content-Type": "application/x-amz-json-1.0",
            },
        )
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target_header=header_text | st.sampled_from(TARGETS), ctype=header_text, body=raw)
def test_fuzz_headers(http: httpx.Client, target_header: str, ctype: str, body: bytes) -> None:
    headers: dict[str, Any] = {"X-Amz-Target": target_header, "Content-Type": ctype}
    check(http.post("/", content=body, headers=headers))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(
        [
            "/console/api/execution",
            "/console/api/executions",
            "/console/api/state-machines",
            "/console/api/reviews",
        ]
    ),
    arn=st.text(max_size=80) | st.sampled_from(ARNS),
    status=st.text(max_size=10),
)
def test_fuzz_console_reads(http: httpx.Client, path: str, arn: str, status: str) -> None:
    response = http.get(path, params={"arn": arn, "status": status, "q": arn})
    assert response.status_code < 500


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values.map(json.dumps) | raw.map(lambda b: b.decode("latin-1")))
def test_fuzz_review_decisions(http: httpx.Client, target: Served, body: str) -> None:
    response = http.post(
        "/console/api/reviews/decide",
        content=body.encode("latin-1"),
        headers={"X-CSRF-Token": target.config.csrf_token, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 409), response.text


def test_server_still_answers(http: httpx.Client) -> None:
    response = http.post(
        "/",
        content=b"{}",
        headers={
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert response.status_code == 200 and response.json()["stateMachines"][0]["name"] == "fuzz"
