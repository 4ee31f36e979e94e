"""Helpers for the main-job tests: tiny document folders, the `kbflow` CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kbflow.tasks.adapters.index import LocalIndex

DOCS: dict[str, str] = {
    "treasury/liquidity.txt": "Quarterly liquidity report. The treasury desk keeps a buffer of "
    "high quality liquid assets covering thirty days of stressed outflows.\n",
    "security/password-policy.md": "# Password policy\n\nPasswords rotate every ninety days and "
    "must contain at least fourteen characters, checked against breached lists.\n",
    "branches/opening-hours.html": "<html><body><h1>Branch opening hours</h1><p>Branches open at "
    "nine and close at five on weekdays; the flagship branch opens on Saturday mornings.</p>"
    "</body></html>",
}


def kbflow(*args: str, cwd: Path | None = None, timeout: float = 300,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `kbflow` CLI in a fresh process, as a user would."""
    code = "import sys; from kbflow.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def ingest_json(source: Path, store: Path, *extra: str) -> dict[str, Any]:
    """`kbflow ingest SOURCE --store STORE --json`, checked to print exactly one JSON object."""
    result = kbflow("ingest", str(source), "--store", str(store), "--json", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])  # type: ignore[no-any-return]


def write_docs(folder: Path, docs: dict[str, str] | None = None) -> Path:
    for rel, text in (DOCS if docs is None else docs).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def index_snapshot(store: Path) -> list[tuple[str, int, str]]:
    """Every chunk in the store's index as (key, chunk_index, text), sorted.

    Read through ``LocalIndex`` (its SQLite library), never the standard ``sqlite3``: a host in
    this process may hold the index open, and a connection of a second SQLite copy closing in
    the same process deletes the WAL under it (see ``kbflow.tasks.adapters.index._local``).
    """
    index = LocalIndex(store / "index.sqlite3")
    try:
        return sorted(index.export_chunks())
    finally:
        index.close()
