"""``kbflow console`` as a process, driven by the AWS CLI and boto3."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from click.testing import CliRunner
from console_helpers import free_port
from kbflow.cli._console import console, is_loopback

BIN = Path(sys.executable).parent
AWS = shutil.which("aws", path=str(BIN)) or shutil.which("aws")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kbflow console`` on a free loopback port (the flows registered on start)."""
    port = free_port()
    store = tmp_path_factory.mktemp("store")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (store / "console.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "kbflow"), "console", "--port", str(port), "--store", str(store)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    "kbflow console exited: " + (store / "console.log").read_text()
                )
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def aws(url: str, *args: str) -> Any:
    """Run the AWS CLI against the server; return its parsed JSON output."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    assert AWS is not None
    done = subprocess.run(
        [AWS, "stepfunctions", *args, "--endpoint-url", url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_flows_registered_on_start(server: str) -> None:
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(retries={"max_attempts": 1}),
    )
    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert {"kbflow-ingestion", "kbflow-reindex", "kbflow-human-review"} <= names


@pytest.mark.skipif(AWS is None, reason="the AWS CLI (pip install awscli) is not installed")
def test_aws_cli_crud_and_execution(server: str, tmp_path: Path) -> None:
    definition = tmp_path / "m.json"
    definition.write_text(
        json.dumps(
            {
                "StartAt": "Hello",
                "States": {
                    "Hello": {
                        "Type": "Pass",
                        "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"},
                        "End": True,
                    }
                },
            }
        )
    )
    created = aws(
        server,
        "create-state-machine",
        "--name",
        "cli-hello",
        "--definition",
        f"file://{definition}",
        "--role-arn",
        "arn:aws:iam::123456789012:role/r",
    )
    arn = created["stateMachineArn"]
    assert arn.endswith(":stateMachine:cli-hello")
    listed = aws(server, "list-state-machines")["stateMachines"]
    assert "cli-hello" in {m["name"] for m in listed}
    run = aws(server, "start-execution", "--state-machine-arn", arn, "--input", '{"who": "kb"}')[
        "executionArn"
    ]
    for _ in range(100):
        described = aws(server, "describe-execution", "--execution-arn", run)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"greeting": "hi kb"}
    history = aws(server, "get-execution-history", "--execution-arn", run)["events"]
    assert history[-1]["type"] == "ExecutionSucceeded"
    with pytest.raises(RuntimeError, match="InvalidArn"):
        aws(server, "describe-execution", "--execution-arn", "arn:nope")
    aws(server, "delete-state-machine", "--state-machine-arn", arn)


def test_non_loopback_needs_token() -> None:
    result = CliRunner().invoke(
        console, ["--host", "0.0.0.0", "--port", "0"], env={"KBFLOW_CONSOLE_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "needs --auth-token" in result.output
    short = CliRunner().invoke(console, ["--host", "0.0.0.0", "--auth-token", "abc"])
    assert short.exit_code == 2 and "at least 16" in short.output


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert not is_loopback("example.com")
