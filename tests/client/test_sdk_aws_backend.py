"""AwsBackend: AWS error codes become kbflow errors; throttling is retried with backoff."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import kbflow
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from kbflow import AwsBackend, Client

EXEC = "arn:aws:states:us-east-1:123456789012:execution:m:e"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


@pytest.fixture
def sfn() -> Iterator[Any]:
    client = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    yield client
    client.close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ExecutionDoesNotExist", kbflow.ExecutionNotFound),
        ("InvalidArn", kbflow.InvalidArn),
        ("StateMachineDoesNotExist", kbflow.StateMachineNotFound),
        ("ExecutionAlreadyExists", kbflow.ExecutionAlreadyExists),
        ("ExecutionLimitExceeded", kbflow.ExecutionLimitExceeded),
        ("TaskDoesNotExist", kbflow.TaskDoesNotExist),
        ("TaskTimedOut", kbflow.TaskTimedOut),
        ("InvalidToken", kbflow.InvalidToken),
        ("ExecutionNotRedrivable", kbflow.ExecutionNotRedrivable),
        ("InvalidExecutionInput", kbflow.BackendError),
        ("ValidationException", kbflow.BackendError),
    ],
)
def test_aws_error_codes_become_kbflow_errors(
    sfn: Any, code: str, error: type[kbflow.BackendError]
) -> None:
    backend = AwsBackend(sfn, sleep=Sleeps())
    with Stubber(sfn) as stub:
        stub.add_client_error("describe_execution", service_error_code=code, service_message="nope")
        with pytest.raises(error) as info:
            backend.describe_execution(EXEC)
    assert type(info.value) is error
    assert info.value.code == code and "nope" in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)  # chained with raise ... from exc


def test_throttling_is_retried_with_jittered_backoff(sfn: Any) -> None:
    sleeps = Sleeps()
    backend = AwsBackend(sfn, sleep=sleeps, jitter=lambda: 0.5, base_delay=0.1, max_delay=0.3)
    with Stubber(sfn) as stub:
        for code in ("ThrottlingException", "ThrottlingException", "ThrottlingException"):
            stub.add_client_error(
                "send_task_heartbeat", service_error_code=code, http_status_code=400
            )
        stub.add_response("send_task_heartbeat", {}, {"taskToken": "t"})
        backend.send_task_heartbeat("t")
        stub.assert_no_pending_responses()
    assert sleeps == [0.05, 0.1, 0.15]  # full jitter (0.5 x ceiling), ceiling doubling up to 0.3


def test_throttling_that_persists_raises_throttled(sfn: Any) -> None:
    sleeps = Sleeps()
    backend = AwsBackend(sfn, sleep=sleeps, max_attempts=3)
    with Stubber(sfn) as stub:
        for _ in range(3):
            stub.add_client_error("describe_execution", service_error_code="ThrottlingException")
        with pytest.raises(kbflow.Throttled) as info:
            backend.describe_execution(EXEC)
    assert len(sleeps) == 2 and info.value.code == "ThrottlingException"
    assert isinstance(info.value.__cause__, ClientError)


def test_transient_server_errors_are_retried(sfn: Any) -> None:
    backend = AwsBackend(sfn, sleep=Sleeps())
    with Stubber(sfn) as stub:
        stub.add_client_error(
            "stop_execution", service_error_code="ServiceUnavailable", http_status_code=503
        )
        stub.add_response(
            "stop_execution", {"stopDate": "2026-01-01T00:00:00Z"}, {"executionArn": EXEC}
        )
        backend.stop_execution(EXEC)
        stub.assert_no_pending_responses()


def test_connection_errors_are_retried_then_raised_as_backend_error() -> None:
    calls: list[dict[str, Any]] = []

    class Down:
        def describe_execution(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with pytest.raises(kbflow.BackendError) as info:
        AwsBackend(Down(), sleep=Sleeps(), max_attempts=4).describe_execution(EXEC)
    assert len(calls) == 4 and info.value.code == "EndpointConnectionError"
    assert isinstance(info.value.__cause__, EndpointConnectionError)


def test_requests_are_shaped_as_the_api_expects(sfn: Any) -> None:
    client = Client(backend=AwsBackend(sfn, sleep=Sleeps()), validate=False)
    with Stubber(sfn) as stub:
        stub.add_response(
            "start_execution",
            {"executionArn": EXEC, "startDate": "2026-01-01T00:00:00Z"},
            {
                "stateMachineArn": MACHINE,
                "name": "e",
                "input": '{"a":[1,"é"]}',
                "traceHeader": "Root=1",
            },
        )
        stub.add_response("send_task_failure", {}, {"taskToken": "t", "error": "E", "cause": "C"})
        stub.add_response(
            "list_executions",
            {"executions": [], "nextToken": "n2"},
            {"stateMachineArn": MACHINE, "statusFilter": "FAILED", "maxResults": 1000},
        )
        stub.add_response(
            "list_executions",
            {"executions": []},
            {
                "stateMachineArn": MACHINE,
                "statusFilter": "FAILED",
                "maxResults": 1000,
                "nextToken": "n2",
            },
        )
        run = client.start(MACHINE, {"a": [1, "é"]}, name="e", trace_header="Root=1")
        client.send_task_failure("t", "E", "C")
        assert client.list(MACHINE, status="FAILED") == []
        stub.assert_no_pending_responses()
    assert run.arn == EXEC and run.input == {"a": [1, "é"]}


def test_loopback_endpoint_serves_the_kbflow_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    client = Client.aws(endpoint_url="http://127.0.0.1:8083/", region="us-east-1")
    assert client.console_url(EXEC) == f"http://127.0.0.1:8083/#/execution/{quote(EXEC, safe='')}"
    client.close()


def test_import_kbflow_does_not_import_boto3_or_jsonschema(tmp_path: Path) -> None:
    heavy = "('boto3', 'botocore', 'jsonschema')"
    code = f"import sys, kbflow; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
