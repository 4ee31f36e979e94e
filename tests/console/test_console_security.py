"""Access token, Host check, body limits, AWS-shaped 400s, CSRF, and no task tokens in logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from console_helpers import Served, serve
from kbflow.runtime.api import AppConfig, Settings
from kbflow.runtime.engine import Engine

TOKEN = "s3cret-token-for-tests-0123456789"
TARGET = "AWSStepFunctions.ListStateMachines"
AMZ = "application/x-amz-json-1.0"


@pytest.fixture
def guarded() -> Iterator[Served]:
    engine = Engine()
    try:
        yield from serve(
            engine,
            AppConfig(
                auth_token=TOKEN, max_body=64 * 1024, settings=Settings(activity_poll_seconds=1)
            ),
        )
    finally:
        engine.close()


def post(
    url: str, body: bytes | str, *, target: str = TARGET, ctype: str = AMZ, **headers: str
) -> httpx.Response:
    return httpx.post(
        url + "/",
        content=body,
        timeout=10,
        headers={"X-Amz-Target": target, "Content-Type": ctype, **headers},
    )


def test_token_required_everywhere(guarded: Served) -> None:
    for response in (
        post(guarded.url, "{}"),
        httpx.get(guarded.url + "/"),
        httpx.get(guarded.url + "/console/api/reviews"),
        httpx.get(guarded.url + "/static/console.js"),
    ):
        assert response.status_code == 401
        assert response.json()["__type"].endswith("#AccessDeniedException")
    with pytest.raises(ClientError) as exc:
        guarded.client().list_state_machines()
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert guarded.client(**{"X-Kbflow-Token": TOKEN}).list_state_machines()["stateMachines"] == []
    assert post(guarded.url, "{}", **{"X-Kbflow-Token": TOKEN + "x"}).status_code == 401
    page = httpx.get(guarded.url + f"/?token={TOKEN}")
    assert page.status_code == 200 and "kbflow" in page.text
    cookie = page.cookies.get("kbflow_token")
    assert cookie == TOKEN
    api = httpx.get(guarded.url + "/console/api/state-machines", cookies={"kbflow_token": TOKEN})
    assert api.status_code == 200


def test_loopback_host_check(served: Served) -> None:
    ok = post(served.url, "{}")
    assert ok.status_code == 200
    rebound = post(served.url, "{}", Host="evil.example.com")
    assert rebound.status_code == 403
    assert rebound.json()["__type"].endswith("#AccessDeniedException")


def test_bad_bodies_are_aws_shaped_400s(guarded: Served) -> None:
    auth = {"X-Kbflow-Token": TOKEN}
    cases = [
        (post(guarded.url, "{nope", **auth), 400, "SerializationException"),
        (post(guarded.url, "[1, 2]", **auth), 400, "SerializationException"),
        (post(guarded.url, b"\xff\xfe", **auth), 400, "SerializationException"),
        (
            post(guarded.url, "{}", target="AWSStepFunctions.Explode", **auth),
            400,
            "UnknownOperationException",
        ),
        (
            post(guarded.url, "{}", target="Other.ListStateMachines", **auth),
            400,
            "UnknownOperationException",
        ),
        (post(guarded.url, "{}", ctype="text/plain", **auth), 400, "SerializationException"),
        (
            post(guarded.url, json.dumps({"maxResults": "many"}), **auth),
            400,
            "SerializationException",
        ),
        (post(guarded.url, json.dumps({"maxResults": 5000}), **auth), 400, "ValidationException"),
        (
            post(
                guarded.url,
                json.dumps({"stateMachineArn": 7}),
                target="AWSStepFunctions.DescribeStateMachine",
                **auth,
            ),
            400,
            "SerializationException",
        ),
        (
            post(guarded.url, "{}", target="AWSStepFunctions.DescribeExecution", **auth),
            400,
            "ValidationException",
        ),
        (post(guarded.url, "[" * 100_000 + "]" * 100_000, **auth), 413, "ValidationException"),
        (post(guarded.url, json.dumps({"x": "a" * 70_000}), **auth), 413, "ValidationException"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["__type"] == f"com.amazonaws.swf.service.v2.model#{code}", body
        assert "Traceback" not in response.text


def test_deep_json_is_a_400_not_a_500(served: Served) -> None:
    response = post(served.url, "[" * 50_000 + "]" * 50_000)
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def _review_machine(served: Served) -> str:
    served.engine.register_function("notify", lambda event, ctx: {"ok": True})
    sfn = served.client()
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "notify",
                    "Payload": {
                        "task_token.$": "$$.Task.Token",
                        "item.$": "$.item",
                        "reason": "pii",
                    },
                },
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name="t-human-review",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    return str(
        sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"item": {"id": "doc-1", "key": "a.pdf"}})
        )["executionArn"]
    )


def _pending(served: Served) -> list[dict[str, Any]]:
    for _ in range(100):
        reviews = httpx.get(served.url + "/console/api/reviews").json()["reviews"]
        if reviews:
            return list(reviews)
        time.sleep(0.05)
    raise AssertionError("no review became pending")


def test_review_decisions_need_csrf_and_tokens_stay_out_of_logs(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("kbflow", "uvicorn", "starlette"):  # the server side (boto3 logs its requests)
        caplog.set_level(logging.DEBUG, logger=name)
    execution = _review_machine(served)
    review = _pending(served)[0]
    token = served.backend.pending_callbacks()[0].token
    decide = served.url + "/console/api/reviews/decide"
    body = {"id": review["id"], "decision": "approve", "reviewer": "ana"}
    assert httpx.post(decide, json=body).status_code == 403  # no CSRF token
    assert (
        httpx.post(
            decide,
            json=body,
            headers={"X-CSRF-Token": served.config.csrf_token, "Origin": "http://evil.example.com"},
        ).status_code
        == 403
    )
    csrf = {"X-CSRF-Token": served.config.csrf_token}
    assert httpx.post(decide, json={**body, "decision": "maybe"}, headers=csrf).status_code == 400
    assert httpx.post(decide, json={**body, "id": "0" * 24}, headers=csrf).status_code == 409
    done = httpx.post(decide, json=body, headers={**csrf, "Origin": served.url})
    assert done.status_code == 200, done.text
    sfn = served.client()
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"decision": "approve", "reviewer": "ana"}
    # Errors that involve the token, then check every log record and console response.
    for _ in range(2):
        with pytest.raises(ClientError):
            sfn.send_task_success(taskToken=token, output="{}")
    view = httpx.get(served.url + "/console/api/execution", params={"arn": execution}).text
    assert token not in view and "***" in view
    assert token not in httpx.get(served.url + "/console/api/reviews").text
    server_logs = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("kbflow", "uvicorn", "starlette"))
    )
    assert token not in server_logs
    assert token not in httpx.get(served.url + "/").text


def test_edit_and_reject_decisions(served: Served) -> None:
    sfn = served.client()
    first = _review_machine(served)
    csrf = {"X-CSRF-Token": served.config.csrf_token}
    decide = served.url + "/console/api/reviews/decide"
    review = _pending(served)[0]
    missing = {"id": review["id"], "decision": "edit", "reviewer": "bo"}
    assert httpx.post(decide, json=missing, headers=csrf).status_code == 400  # edit needs text
    edited = httpx.post(
        decide, headers=csrf, json={**missing, "text": "Fixed text", "comment": "typo"}
    )
    assert edited.status_code == 200
    assert served.engine.wait(first, timeout=10)["Status"] == "SUCCEEDED"
    assert json.loads(sfn.describe_execution(executionArn=first)["output"]) == {
        "decision": "edit",
        "reviewer": "bo",
        "comment": "typo",
        "edits": {"text": "Fixed text"},
    }
    arn = first.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    second = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"item": {"id": "doc-2"}}))[
        "executionArn"
    ]
    review = _pending(served)[0]
    assert review["executionArn"] == second and review["item"] == {"id": "doc-2"}
    assert (
        httpx.post(
            decide, headers=csrf, json={"id": review["id"], "decision": "reject", "reviewer": "cy"}
        ).status_code
        == 200
    )
    assert served.engine.wait(second, timeout=10)["Status"] == "SUCCEEDED"
    assert json.loads(sfn.describe_execution(executionArn=second)["output"])["decision"] == (
        "reject"
    )
    assert httpx.get(served.url + "/console/api/reviews").json()["reviews"] == []


def test_chunked_body_over_the_limit(guarded: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    response = httpx.post(
        guarded.url + "/",
        content=chunks(),
        timeout=10,
        headers={"X-Amz-Target": TARGET, "Content-Type": AMZ, "X-Kbflow-Token": TOKEN},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["__type"].endswith("#ValidationException")
