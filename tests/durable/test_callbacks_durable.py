"""Task tokens through the store: callbacks from another process, also across a resume."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from durable_helpers import kbflow, kill9, start_kbflow
from kbflow.runtime.store import Store

FLOW = {"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask",
                           "Payload": {"token.$": "$$.Task.Token", "file.$": "$.file"}},
            "ResultPath": "$.decision", "Next": "Done"},
    "Done": {"Type": "Pass", "OutputPath": "$.decision", "End": True}}}
ASK = "ask=durable_handlers:remember_token?mode=thread"


def _tokens(path: Path, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().split()) >= count:
            return path.read_text().split()
        time.sleep(0.05)
    raise AssertionError(f"no {count} token(s) in {path}")


def test_callback_from_another_process_survives_a_kill(
        tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    flow, store, file = flow_file(FLOW), tmp_path / "s", tmp_path / "tokens.txt"
    args = ["run", str(flow), "--input", json.dumps({"file": str(file)}), "--store", str(store),
            "--name", "review", "--function", ASK, "--json"]
    proc = start_kbflow(*args)
    first = _tokens(file, 1)[0]
    kill9(proc)  # killed while waiting for the reviewer
    proc = start_kbflow(*args)  # resumes: the request is sent again, with the same token
    tokens = _tokens(file, 2)
    assert tokens == [first, first]
    assert Store(store).complete_token(first, output=json.dumps({"approved": True}))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["output"] == {"approved": True}
    assert not Store(store).complete_token(first, output="{}")  # delivered once


def test_failure_callback(tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    flow, store, file = flow_file(FLOW), tmp_path / "s", tmp_path / "tokens.txt"
    proc = start_kbflow("run", str(flow), "--input", json.dumps({"file": str(file)}),
                        "--store", str(store), "--name", "no", "--function", ASK, "--json")
    token = _tokens(file, 1)[0]
    assert Store(store).complete_token(token, error="Rejected", cause="not good",
                                       success=False)
    out, _ = proc.communicate(timeout=60)
    result = json.loads(out)
    assert (result["status"], result["error"], result["cause"]) == (
        "FAILED", "Rejected", "not good")
    assert kbflow("executions", "list", "--store", str(store)).returncode == 0
