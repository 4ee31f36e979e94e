"""Helpers of the durable-execution tests: CLI subprocesses, logs, flow definitions."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
KBFLOW = [sys.executable, "-c", "import sys; from kbflow.cli import main; sys.exit(main())"]
SLOW = "slow=durable_handlers:slow_item"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def kbflow(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``kbflow`` CLI in a subprocess and wait for it."""
    return subprocess.run([*KBFLOW, *args], capture_output=True, text=True, env=_env(),
                          timeout=timeout, check=False)


def start_kbflow(*args: str) -> subprocess.Popen[str]:
    """Start the ``kbflow`` CLI in a subprocess."""
    return subprocess.Popen([*KBFLOW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())


def log_lines(log: Path) -> list[str]:
    """The handler's append log."""
    return log.read_text().splitlines() if log.exists() else []


def wait_for_ends(log: Path, count: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the log shows ``count`` finished items (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for line in log_lines(log) if line.startswith("end ")) >= count:
            return
        if proc.poll() is not None:
            pytest.fail(f"kbflow ended early: {proc.communicate()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {count} finished items after {timeout}s: {log_lines(log)}")


def journaled_items(store: Path) -> set[int]:
    """Items whose task result the engine committed (what it considers completed)."""
    with sqlite3.connect(store / "engine.sqlite3") as db:
        rows = db.execute("SELECT result FROM task_journal WHERE error IS NULL").fetchall()
    return {int(json.loads(r[0])["Payload"]["item"]) for r in rows}


def kill9(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def map_definition(*, concurrency: int = 3, distributed: bool = False) -> dict[str, Any]:
    """A Map over ``$.items`` calling the ``slow`` function per item."""
    processor: dict[str, Any] = {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "slow", "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": True}}}
    if distributed:
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return {"StartAt": "Items", "States": {"Items": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency,
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "log.$": "$.log",
                         "fail_flag.$": "$.flag", "sleep.$": "$.sleep"},
        "ItemProcessor": processor, "End": True}}}
