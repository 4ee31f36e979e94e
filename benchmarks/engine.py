"""Engine benchmark: kbflow's embedded engine vs moto's Step Functions engine.

Runs every workload of ``../shared/bench/workloads/*.json`` (``{"definition", "input",
"transitions"}``) on both engines in one run and prints transitions per second (states
entered per second of wall time for one execution, history recorded; best of ``--repeat``)
and the ratio. moto is an optional bench dependency (``pip install "moto[stepfunctions]"``);
it cannot run JSONata, so that row reports ``n/a``.

    python benchmarks/engine.py [--workloads DIR] [--repeat 3] [--moto-repeat 1] [--no-moto]

moto runs in a child process (its mock keeps many objects alive, which would slow the
collector for kbflow); each workload runs on kbflow and then on moto, so both see the same
machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kbflow.runtime.engine import Engine

DEFAULT_WORKLOADS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "workloads"


def load_workloads(directory: Path) -> dict[str, dict[str, Any]]:
    """Read every ``*.json`` workload in ``directory``, by name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def bench_kbflow(workload: dict[str, Any], repeat: int) -> tuple[float, str]:
    """Best wall time of one execution on kbflow (history recorded) and its status."""
    with Engine() as engine:
        sm = engine.create_state_machine("bench", workload["definition"])
        best, status = float("inf"), ""
        for _ in range(repeat):
            start = time.perf_counter()
            arn = engine.start_execution(sm, workload["input"])
            status = engine.wait(arn)["Status"]
            best = min(best, time.perf_counter() - start)
            assert engine.history(arn), "history must be recorded"
    return best, status


def _moto_client() -> tuple[Any, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import logging

    logging.disable(logging.CRITICAL)
    import boto3
    from moto import mock_aws

    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    return mock, boto3.client("stepfunctions", region_name="us-east-1")


def bench_moto(client: Any, workload: dict[str, Any], repeat: int) -> tuple[float, str]:
    """Best wall time of one execution on moto's engine and its status."""
    sm = client.create_state_machine(
        name=f"bench-{time.monotonic_ns()}", definition=json.dumps(workload["definition"]),
        roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
    best, status = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        arn = client.start_execution(stateMachineArn=sm,
                                     input=json.dumps(workload["input"]))["executionArn"]
        while True:
            status = client.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                break
            time.sleep(0.002)
        best = min(best, time.perf_counter() - start)
    return best, status


class MotoWorker:
    """moto's engine in a child process (so its mock's objects do not slow this one down)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--moto-worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)

    def run(self, workload: dict[str, Any], repeat: int) -> tuple[float, str]:
        """Best wall time of one execution of ``workload`` on moto, and its status."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"workload": workload, "repeat": repeat}) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._proc.stdout.readline())
        return float(reply["secs"]), str(reply["status"])

    def close(self) -> None:
        """Stop the child process."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


def moto_worker() -> int:
    """Child-process loop: one JSON request per line in, one JSON reply per line out."""
    mock, client = _moto_client()
    for line in sys.stdin:
        request = json.loads(line)
        secs, status = bench_moto(client, request["workload"], int(request["repeat"]))
        print(json.dumps({"secs": secs, "status": status}), flush=True)
    mock.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=Path, default=DEFAULT_WORKLOADS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moto-repeat", type=int, default=1)
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--moto-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moto_worker:
        return moto_worker()
    workloads = load_workloads(args.workloads)
    moto = None
    if not args.no_moto:
        try:
            import moto as _moto  # noqa: F401

            moto = MotoWorker()
        except ImportError:
            print("moto is not installed: moto column skipped", file=sys.stderr)
    rows = [("workload", "transitions", "kbflow t/s", "moto t/s", "ratio")]
    ok = True
    # Each workload runs on kbflow and then on moto, so both see the same machine load.
    for name, workload in workloads.items():
        n = int(workload["transitions"])
        secs, status = bench_kbflow(workload, args.repeat)
        ok = ok and status == "SUCCEEDED"
        kb = n / secs
        moto_cell, ratio_cell = "n/a", "n/a"
        if moto is not None and "jsonata" not in name:
            m_secs, m_status = moto.run(workload, args.moto_repeat)
            if m_status == "SUCCEEDED":
                mt = n / m_secs
                moto_cell, ratio_cell = f"{mt:,.0f}", f"{kb / mt:,.0f}x"
            else:
                moto_cell = m_status
        rows.append((name, f"{n:,}", f"{kb:,.0f}", moto_cell, ratio_cell))
    _print_table(rows)
    if moto is not None:
        moto.close()
    return 0 if ok else 1


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print(line(row))


if __name__ == "__main__":
    raise SystemExit(main())
