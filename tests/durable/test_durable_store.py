"""The SQLite store: WAL, batched commits, concurrent readers, owners, versions."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kbflow.errors import ConfigurationError
from kbflow.runtime.durable import DurableEngine
from kbflow.runtime.execution import ExecutionRecord
from kbflow.runtime.store import Owner, Store, owner_alive


def _event(i: int) -> dict[str, object]:
    return {"id": i, "previousEventId": i - 1, "timestamp": datetime.now(UTC),
            "type": "PassStateEntered", "stateEnteredEventDetails": {"name": f"S{i}"}}


def test_wal_mode_and_tables(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "engine.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"state_machines", "executions", "events", "task_journal", "map_runs",
            "task_tokens", "activity_tasks"} <= tables


def test_events_are_batched_until_flush(tmp_path: Path) -> None:
    store = Store(tmp_path, batch_events=100, batch_ms=60_000)
    store.insert_execution(ExecutionRecord("arn:x", "arn:sm", "x", "{}", datetime.now(UTC)), 1)
    reader = Store(tmp_path, readonly=True)
    for i in range(1, 11):
        store.append_event("arn:x", _event(i))
    assert reader.events("arn:x") == []  # buffered, not committed
    store.flush()
    events = reader.events("arn:x")
    assert [e["id"] for e in events] == list(range(1, 11))
    assert events[3]["stateEnteredEventDetails"] == {"name": "S4"}
    for i in range(11, 111):
        store.append_event("arn:x", _event(i))
    assert len(reader.events("arn:x")) == 110  # the 100th buffered event committed the batch


def test_events_need_a_stored_execution(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not in the store"):
        Store(tmp_path).append_event("arn:nowhere", _event(1))


def test_readonly_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no kbflow store"):
        Store(tmp_path / "nothing", readonly=True)


def test_state_machine_versions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.put_state_machine("arn:sm", "sm", '{"a":1}', "STANDARD", "r") == 1
    assert store.put_state_machine("arn:sm", "sm", '{"a":1}', "STANDARD", "r") == 1
    assert store.put_state_machine("arn:sm", "sm", '{"a":2}', "STANDARD", "r") == 2
    stored = store.state_machine("arn:sm", 1)
    assert stored is not None and stored["definition"] == '{"a":1}'
    latest = store.state_machine("arn:sm")
    assert latest is not None and latest["version"] == 2


def test_owner_liveness(tmp_path: Path) -> None:
    me = Owner.current()
    assert owner_alive(me, None)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    ticks = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    other = Owner(me.host, child.pid, ticks)
    assert owner_alive(other, None)
    assert not owner_alive(Owner(me.host, child.pid, ticks + 1), None)  # a recycled pid
    child.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not owner_alive(other, None)  # a zombie (killed, not yet reaped) is dead
    child.wait()
    assert not owner_alive(other, None)
    assert not owner_alive(None, None)
    remote = Owner("another-host", 1, 1)
    assert owner_alive(remote, 1000.0, now=1010.0)
    assert not owner_alive(remote, 1000.0, now=1100.0)


def test_claim_refuses_a_live_owner_and_takes_a_dead_one(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record = ExecutionRecord("arn:e", "arn:sm", "e", "{}", datetime.now(UTC))
    store.insert_execution(record, 1)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ticks = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        store._write("UPDATE executions SET owner_pid=?, owner_started=?", (child.pid, ticks))
        assert store.orphans() == []
        assert not store.claim("arn:e")
    finally:
        child.kill()
        child.wait()
    assert store.orphans() == ["arn:e"]
    assert store.claim("arn:e")
    found = store.execution("arn:e")
    assert found is not None and found[1] == Owner.current()


READER = textwrap.dedent("""
    import json, sys, time
    from kbflow.runtime.store import Store
    store = Store(sys.argv[1], readonly=True)
    print("ready", flush=True)
    seen, errors = [], 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            runs = store.executions()
            n = sum(len(store.events(r.execution_arn)) for r in runs)
            seen.append(n)
            if runs and all(r.status == "SUCCEEDED" for r in runs) and len(runs) >= 5:
                break
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
        time.sleep(0.005)
    print(json.dumps({"seen": seen, "errors": errors}))
""")


def test_a_reader_process_reads_while_the_engine_writes(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    Store(store_dir).close()
    reader = subprocess.Popen([sys.executable, "-c", READER, str(store_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
    chain = {"StartAt": "S0", "States": {
        f"S{i}": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:nap",
                  **({"Next": f"S{i + 1}"} if i < 199 else {"End": True})} for i in range(200)}}
    with DurableEngine(store_dir) as engine:
        engine.register_function("nap", lambda event, context: time.sleep(0.002))
        sm = engine.create_state_machine("chain", chain)
        arns = [engine.start_execution(sm, {}, name=f"r{i}") for i in range(5)]
        for arn in arns:
            assert engine.wait(arn, timeout=60)["Status"] == "SUCCEEDED"
    out, err = reader.communicate(timeout=60)
    out = out.strip().splitlines()[-1]
    report = json.loads(out)
    assert report["errors"] == 0, err
    seen = report["seen"]
    assert seen == sorted(seen)  # the reader only ever sees whole, growing commits
    assert seen[-1] == 5 * (2 + 200 * 5)  # entered, scheduled, started, succeeded, exited
    assert len(set(seen)) > 2, "the reader never saw the history grow"


def test_a_store_of_another_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with sqlite3.connect(tmp_path / "engine.sqlite3") as db:
        db.execute("PRAGMA user_version=1")
    with pytest.raises(ConfigurationError, match="schema version 1"):
        Store(tmp_path)
    with pytest.raises(ConfigurationError, match="schema version 1"):
        Store(tmp_path, readonly=True)
