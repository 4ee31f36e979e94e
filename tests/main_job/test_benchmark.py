"""benchmarks/ingest.py runs end to end on a tiny folder and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mainjob_helpers import DOCS

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ingest.py"


def test_benchmark_reports_every_figure(source: Path) -> None:
    result = subprocess.run([sys.executable, str(BENCH), str(source), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    run = figures["run"]
    assert run["documents"] == len(DOCS)
    assert run["indexed"] == len(DOCS) and run["quarantined_pct"] == 0
    assert run["documents_per_s"] > 0 and run["transitions"] > 0
    stages = {s["stage"]: s for s in figures["stages"]}
    assert {"FetchDocument", "ChunkText", "EmbedChunks", "IndexDocument"} <= set(stages)
    assert stages["EmbedChunks"]["calls"] == len(DOCS) and stages["EmbedChunks"]["cpu"]
    overhead = figures["overhead"]
    assert overhead["documents"] == len(DOCS)
    assert overhead["loop_s"] > 0 and overhead["engine_serial_s"] > 0
    assert figures["workers"]["one_s"] > 0 and figures["workers"]["speedup"] > 0
    assert set(figures["mrr"]) == {"lexical", "vector", "hybrid"}
    for mode in figures["mrr"].values():
        assert mode["queries"] == len(DOCS)
        assert mode["mrr"] == 1.0  # three distinct documents: each span finds its own
