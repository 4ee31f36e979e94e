"""examples/sdk_quickstart.py runs: against Step Functions (moto) and on the embedded engine."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sdk_fakes import FAIL, PASS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sdk_quickstart.py"
ROLE = "arn:aws:iam::123456789012:role/kbflow-test"


@pytest.fixture(scope="module")
def quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdk_quickstart", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def _deploy(sfn: Any, monkeypatch: pytest.MonkeyPatch, definition: dict[str, Any]) -> str:
    arn: str = sfn.create_state_machine(
        name="kbflow-ingestion", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    monkeypatch.setenv("KBFLOW_WORKFLOW_INGESTION_ARN", arn)
    return arn


def test_quickstart_on_aws_succeeds(
    quickstart: ModuleType,
    sfn: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arn = _deploy(sfn, monkeypatch, PASS)
    assert quickstart.main(["s3://docs-bucket/inbox/", "--name", "first"]) == 0
    out = capsys.readouterr().out
    assert "started first" in out and "console.aws.amazon.com" in out
    assert "SUCCEEDED: {'ok': True}" in out
    assert quickstart.main(["s3://docs-bucket/inbox/", "--name", "first"]) == 0  # same name: safe
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_quickstart_reports_a_failed_run(
    quickstart: ModuleType,
    sfn: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _deploy(sfn, monkeypatch, FAIL)
    assert quickstart.main(["s3://docs-bucket/inbox/"]) == 1
    assert "failed: Kbflow.Boom: it broke" in capsys.readouterr().err


def test_quickstart_refuses_a_bad_uri_without_starting(
    quickstart: ModuleType,
    sfn: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arn = _deploy(sfn, monkeypatch, PASS)
    assert quickstart.main(["ftp://docs/inbox"]) == 2
    assert "refused: /source/uri" in capsys.readouterr().err
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_quickstart_on_the_embedded_engine(tmp_path: Path) -> None:
    # In a fresh process, as a user runs it (the engine's JSONata cache is per process).
    source = tmp_path / "empty-source"
    source.mkdir()
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--local", str(tmp_path / "store"), f"file://{source}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "http://127.0.0.1:8083/#/execution/arn%3Aaws%3Astates%3A" in result.stdout
    assert "Plan Ingestion" in result.stdout and "SUCCEEDED" in result.stdout
