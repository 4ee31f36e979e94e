"""Durable-store benchmark: transitions/s with the SQLite store vs in memory, and 1,000
concurrent executions.

* every workload of ``../shared/bench/workloads`` (target on ``chain-1000``: the store keeps at
  least a third of the in-memory figure): one execution, history recorded, best of
  ``--repeat``; the durable engine also commits every event to SQLite.
* 1,000 concurrent executions of a small flow (Pass → Wait 1 s → Task on a thread worker →
  Choice → Succeed), all started at once on one durable engine; every one must SUCCEED and
  every history must be committed.

    python benchmarks/durable.py [--workloads DIR] [--repeat 5] [--executions 1000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from kbflow.runtime.durable import DurableEngine
from kbflow.runtime.engine import Engine

DEFAULT_WORKLOADS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "workloads"
SMALL_FLOW: dict[str, Any] = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Pause"},
    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
    "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
             "ResultPath": "$.doubled", "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Done", "Choices": [
        {"Variable": "$.doubled", "NumericLessThan": 0, "Next": "Done"}]},
    "Done": {"Type": "Succeed"}}}


def _double(event: dict[str, Any], context: Any) -> int:
    return int(event["n"]) * 2


def best_time(engine: Engine, workload: dict[str, Any], repeat: int) -> float:
    """Best wall time of one execution of ``workload`` on ``engine``."""
    sm = engine.create_state_machine("bench", workload["definition"])
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        arn = engine.start_execution(sm, workload["input"])
        status = engine.wait(arn)["Status"]
        best = min(best, time.perf_counter() - start)
        assert status == "SUCCEEDED", status
    return best


def compare(workload: dict[str, Any], repeat: int) -> tuple[float, float, int]:
    """Transitions/s of one workload in memory and with the SQLite store."""
    transitions = int(workload.get("transitions", 1000))
    with Engine(history_limit=10**7) as engine:
        memory = best_time(engine, workload, repeat)
    with tempfile.TemporaryDirectory() as tmp, DurableEngine(tmp, history_limit=10**7) as engine:
        durable = best_time(engine, workload, repeat)
    return transitions / memory, transitions / durable, transitions


def concurrent(count: int) -> dict[str, Any]:
    """Run ``count`` executions at once on one durable engine."""
    with tempfile.TemporaryDirectory() as tmp:
        with DurableEngine(tmp) as engine:
            engine.register_function("double", _double, timeout_seconds=30)
            sm = engine.create_state_machine("small", SMALL_FLOW)
            start = time.perf_counter()
            arns = [engine.start_execution(sm, {"n": i}, name=f"c{i}") for i in range(count)]
            statuses = [engine.wait(arn, timeout=600)["Status"] for arn in arns]
            elapsed = time.perf_counter() - start
        with sqlite3.connect(Path(tmp) / "engine.sqlite3") as db:
            stored = dict(db.execute("SELECT status, count(*) FROM executions GROUP BY status"))
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    failed = sum(1 for s in statuses if s != "SUCCEEDED")
    return {"executions": count, "succeeded": count - failed, "errors": failed,
            "stored": stored, "events": events, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=Path, default=DEFAULT_WORKLOADS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--executions", type=int, default=1000)
    args = parser.parse_args(argv)
    ratio = 0.0
    print(f"{'workload':<22}{'in-memory t/s':>15}{'SQLite t/s':>13}{'ratio':>8}")
    for path in sorted(args.workloads.glob("*.json")):
        memory, durable, _ = compare(json.loads(path.read_text()), args.repeat)
        print(f"{path.stem:<22}{memory:>15,.0f}{durable:>13,.0f}{durable / memory:>8.0%}")
        if path.stem == "chain-1000":
            ratio = durable / memory
    print(f"chain-1000 ratio {ratio:.0%} (target >= 33%)")
    result = concurrent(args.executions)
    print(f"{result['executions']} concurrent executions: {result['succeeded']} SUCCEEDED, "
          f"{result['errors']} errors in {result['seconds']:.2f}s; store holds {result['stored']} "
          f"and {result['events']:,} events")
    ok = ratio >= 1 / 3 and result["errors"] == 0 and result["stored"].get(
        "SUCCEEDED") == args.executions
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
