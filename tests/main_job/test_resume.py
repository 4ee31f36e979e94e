"""kill -9 in the middle of `kbflow ingest`, then run it again: the interrupted execution resumes
and the index ends exactly as a clean run leaves it (nothing lost, no duplicate chunks)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mainjob_helpers import index_snapshot, ingest_json, write_docs

pytest.importorskip("kbflow.runtime.durable", reason="needs the durable store (issue 4)")

TOPICS = ("liquidity", "mortgages", "payments", "fraud", "savings", "treasury", "lending",
          "compliance", "cards", "branches")


def _docs(n: int) -> dict[str, str]:
    out = {}
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        out[f"{topic}/note-{i:03d}.txt"] = (
            f"Note {i} about {topic}. " + " ".join(
                f"Paragraph {j} explains how the {topic} team handles case {i * 7 + j} under the "
                f"policy revision {j}." for j in range(12)) + "\n")
    return out


def _journal_entries(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store / 'engine.sqlite3'}?mode=ro", uri=True,
                             timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM task_journal").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_mid_run(source: Path, store: Path, after_tasks: int) -> None:
    code = "import sys; from kbflow.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "ingest", str(source), "--store",
                             str(store), "--json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _journal_entries(store) < after_tasks:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_kill_then_resume_gives_the_clean_index(tmp_path: Path) -> None:
    n = 50
    source = write_docs(tmp_path / "docs", _docs(n))
    clean = ingest_json(source, tmp_path / "clean")
    assert clean["indexed"] == n

    store = tmp_path / "store"
    _kill_mid_run(source, store, after_tasks=60)
    partial = index_snapshot(store) if (store / "index.sqlite3").exists() else []
    assert len(partial) < len(index_snapshot(tmp_path / "clean"))

    resumed = ingest_json(source, store)
    assert resumed["resumed"] is True
    assert resumed["status"] == "SUCCEEDED"
    assert resumed["documents"] == n and resumed["quarantined"] == []
    assert resumed["indexed"] + resumed["unchanged"] == n
    assert resumed["index"] == clean["index"]
    assert index_snapshot(store) == index_snapshot(tmp_path / "clean")

    again = ingest_json(source, store)  # and the store is healthy: a new run, all unchanged
    assert again["resumed"] is False and again["unchanged"] == n
