"""Measure the main job (`kbflow ingest`) on a folder of documents.

Usage::

    python benchmarks/ingest.py CORPUS [--limit N] [--skip-workers] [--json]

CORPUS is a folder of documents, or a folder made by ``../shared/corpus/fetch-corpus.sh`` (its
``docs/`` is used). Prints:

- **documents/s** of a real run: the ingestion flow on the embedded engine with the durable
  store, as ``kbflow ingest`` runs it, and the share of documents quarantined;
- **time per stage**: each task function's total and mean time, from a plain Python loop;
- **orchestration overhead**: the same task functions called in a plain Python loop vs.
  through the engine with one handler thread (so both do the work serially; the difference
  is what the engine adds: Map Runs, history, data flow, JSON boundaries); target <= 5 %;
- **speed-up from 1 to 2 workers** on the CPU-bound stages (extract, clean, PII, chunk,
  embed run in 1 or 2 warm worker processes, ``KBFLOW_EMBED_THREADS=1`` in both); target 1.7x;
- **known-item MRR@10** for lexical, vector and hybrid search: one 12-word span sampled from
  each indexed document is the query, a hit is the source document in the top 10. The corpus
  ships the same manuals several times (HTML chapters, their reStructuredText sources, one
  big text file, a PDF and page images of it), so many spans occur word for word in several
  documents, and no ranking can know which copy a span was sampled from. Two more figures
  say how much of the gap that is: "any copy" also accepts the other documents holding the
  span's words in the same order (case and punctuation aside), and the strict MRR over only
  the queries whose words occur in one document.

Every run uses a fresh store in a temporary folder; the embedder and the extractor (OCR) are
loaded once and shared, so model loading is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbflow._host import Host, SharedWorkers
from kbflow._mainjob import run_ingestion, source_listing
from kbflow.tasks.adapters.config import Lazy, local_adapters, use_adapters
from kbflow.tasks.adapters.index import LocalIndex
from kbflow.tasks.catalog import FUNCTIONS, resolve_handler
from kbflow.tasks.core.evaluation import evaluate_known_items, sample_queries, span_matches

EXTRACTORS = {"application/pdf": "ExtractPdf", "text/html": "ExtractHtml",
              "application/xhtml+xml": "ExtractHtml",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
              "ExtractDocx"}
CHAIN = ("CleanText", "RedactPii", "ChunkText", "EmbedChunks", "IndexDocument", "RecordManifest")
CPU_STAGES = tuple(fn.name for fn in FUNCTIONS if fn.execution == "cpu")


class Shared:
    """The heavy adapters, loaded once and shared by every run."""

    def __init__(self) -> None:
        from kbflow.tasks.adapters.embedder import default_local_embedder
        from kbflow.tasks.adapters.extractors import LocalExtractor

        self.embedder = default_local_embedder()
        self.embedder.embed(["warm up the embedding model"])
        self.extractor = LocalExtractor()

    def overrides(self) -> dict[str, Any]:
        return {"embedder_": self.embedder, "extractor_": Lazy(lambda: self.extractor)}


def _extractor_for(media_type: str | None) -> str | None:
    if not media_type:
        return None
    if media_type in EXTRACTORS:
        return EXTRACTORS[media_type]
    if media_type.startswith("image/"):
        return "ExtractImage"
    return "ExtractText" if media_type.startswith("text/") else None


class PlainLoop:
    """The flow's per-document chain as a plain Python loop over the same handlers."""

    def __init__(self) -> None:
        self.handlers = {fn.name: resolve_handler(fn.handler) for fn in FUNCTIONS}
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def call(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        payload = json.loads(json.dumps(event))  # the JSON boundary, as Lambda has
        start = time.perf_counter()
        try:
            return self.handlers[name](payload, None)  # type: ignore[no-any-return]
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def document(self, plan: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {**plan, "key": item["Key"], "size": item["Size"]}
        try:
            doc = self.call("FetchDocument", doc)
            if doc.get("status") == "unchanged":
                return {"key": doc["key"], "doc_id": doc["doc_id"], "status": "unchanged"}
            extractor = _extractor_for(doc.get("media_type"))
            if extractor is None:
                raise _Unsupported(f"no extractor for the media type of {doc['key']}")
            for name in (extractor, *CHAIN):
                doc = self.call(name, doc)
        except Exception as exc:  # noqa: BLE001 - the flow's Catch: quarantine and go on
            error = {"Error": type(exc).__name__, "Cause": str(exc)}
            out = self.call("QuarantineDocument", {**doc, "error": error})
            return {"key": out["key"], "doc_id": out.get("doc_id"), "status": "quarantined",
                    "error": out["error"], "cause": out["cause"]}
        return {"key": doc["key"], "doc_id": doc["doc_id"], "status": "indexed"}

    def run(self, source: Path, adapters: Any) -> tuple[float, dict[str, Any]]:
        with use_adapters(adapters):
            start = time.perf_counter()
            plan = self.call("PlanIngestion", {"source": {"uri": source.as_uri()}})
            from kbflow.tasks.adapters.objectstore import FILE_BUCKET, iter_objects

            items = list(iter_objects(adapters.objects, FILE_BUCKET, plan["source"]["prefix"]))
            results = [self.document(plan, item) for item in items]
            summary = self.call("SummariseIngestion", {**plan, "results": results})
            return time.perf_counter() - start, summary


class _Unsupported(Exception):
    pass


_Unsupported.__name__ = "Kbflow.UnsupportedMediaType"


class _Timed:
    """A handler wrapper adding its run time to a shared total (keeps ``path`` for workers)."""

    def __init__(self, handler: Any, totals: dict[str, float]) -> None:
        self.handler = handler
        self.path = getattr(handler, "path", None)
        self.totals = totals

    def __call__(self, event: Any, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.handler(event, context)
        finally:
            self.totals["seconds"] += time.perf_counter() - start


def _serial(totals: dict[str, float]) -> Callable[[Host], None]:
    """Configure a host: every task function on one handler thread, timed into ``totals``."""

    def configure(host: Host) -> None:
        from kbflow.runtime.invoke import InProcessInvoker

        one = InProcessInvoker(max_workers=1)
        for name, fn in list(host.engine.functions.items()):
            host.engine.register_function(name, _Timed(fn.handler, totals),
                                          timeout_seconds=fn.timeout_seconds,
                                          memory_mb=fn.memory_mb, invoker=one)
        host.use_invoker(one, cpu_only=True)

    return configure


def _engine_run(source: Path, shared: Shared, *, durable: bool,
                configure: Callable[[Host], None] | None = None) -> tuple[float, Any, Path]:
    store = Path(tempfile.mkdtemp(prefix="kbflow-bench-"))
    host = Host(store, file_roots=[source], durable=durable,
                adapter_overrides=shared.overrides())
    try:
        if configure is not None:
            configure(host)
        start = time.perf_counter()
        report = run_ingestion(host, source)
        return time.perf_counter() - start, report, store
    finally:
        host.close()


def _worker_run(source: Path, shared: Shared, workers: int) -> float:
    env_threads = os.environ.get("KBFLOW_EMBED_THREADS")
    os.environ["KBFLOW_EMBED_THREADS"] = "1"

    def use_workers(host: Host) -> None:
        from kbflow.tasks.adapters.config import local_environ

        env = {**local_environ(host.store, host.file_roots), "KBFLOW_EMBED_THREADS": "1",
               "POWERTOOLS_LOG_LEVEL": "ERROR"}
        host.use_invoker(SharedWorkers(workers, env))

    try:
        seconds, _, store = _engine_run(source, shared, durable=False, configure=use_workers)
        shutil.rmtree(store, ignore_errors=True)
        return seconds
    finally:
        if env_threads is None:
            os.environ.pop("KBFLOW_EMBED_THREADS", None)
        else:
            os.environ["KBFLOW_EMBED_THREADS"] = env_threads


def _doc_texts(store: Path) -> dict[str, str]:
    # Through LocalIndex, not the standard sqlite3: one SQLite library per file per process.
    texts: dict[str, list[str]] = defaultdict(list)
    index = LocalIndex(store / "index.sqlite3")
    try:
        for key, _, text in index.export_chunks():
            texts[key].append(text)
    finally:
        index.close()
    return {key: "\n".join(parts) for key, parts in texts.items()}


def known_item_mrr(store: Path, shared: Shared, k: int = 10) -> dict[str, dict[str, float]]:
    """MRR@k and recall@k per search mode over one 12-word span per indexed document."""
    adapters = local_adapters(store, embedder_=shared.embedder)
    docs = _doc_texts(store)
    queries = sample_queries(docs, words=12, seed=0)
    accept = span_matches(docs, queries)
    vectors = dict(zip(queries.values(), shared.embedder.embed(list(queries.values())),
                       strict=True))
    single = {key: q for key, q in queries.items() if len(accept[key]) == 1}
    out: dict[str, dict[str, float]] = {}
    for mode in ("lexical", "vector", "hybrid"):
        def search(text: str, mode: str = mode) -> list[str]:
            return [h.key for h in adapters.index.search(text, vectors[text], k=k, mode=mode)]

        strict = evaluate_known_items(search, queries, k)
        lenient = evaluate_known_items(search, queries, k, acceptable=accept)
        only = evaluate_known_items(search, single, k)
        out[mode] = {"mrr": strict.mrr, "recall": strict.recall, "mrr_any": lenient.mrr,
                     "mrr_single_copy": only.mrr, "single_copy_queries": only.queries,
                     "queries": strict.queries}
    adapters.index.close()
    return out


def _stage_table(loop: PlainLoop) -> list[dict[str, Any]]:
    return [{"stage": name, "calls": loop.calls[name], "seconds": round(loop.seconds[name], 3),
             "mean_ms": round(1000 * loop.seconds[name] / loop.calls[name], 2),
             "cpu": name in CPU_STAGES}
            for name in sorted(loop.seconds, key=lambda n: -loop.seconds[n])]


Emit = Callable[[str, dict[str, Any]], None]


def measure_run(source: Path, shared: Shared) -> tuple[dict[str, Any], dict[str, Any]]:
    """``kbflow ingest`` as users run it (durable store, parallel): run figures and MRR@10."""
    total = len(source_listing_for(source))
    seconds, report, store = _engine_run(source, shared, durable=True)
    run = {"documents": total, "seconds": round(seconds, 2), "documents_per_s": total / seconds,
           "indexed": report.indexed, "quarantined": len(report.quarantined),
           "quarantined_pct": 100 * len(report.quarantined) / max(1, total),
           "quarantine_reasons": _reasons(report.quarantined),
           "transitions": report.transitions, "cost_usd": report.estimated_cost_usd}
    mrr = known_item_mrr(store, shared)
    shutil.rmtree(store, ignore_errors=True)
    return run, mrr


def measure_overhead(source: Path, shared: Shared) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Stage times (plain loop) and the engine's overhead over the loop, both serial.

    Each side's wall time is divided by the time spent inside the task functions in that same
    run, so load from other processes (which slows the handlers of one run more than the
    other's) cancels out: ``pct`` compares time outside the handlers, per second inside them.
    """
    loop = PlainLoop()
    loop_store = Path(tempfile.mkdtemp(prefix="kbflow-bench-"))
    loop_seconds, _ = loop.run(source, local_adapters(loop_store, file_roots=[source],
                                                      **shared.overrides()))
    loop_in = sum(loop.seconds.values())
    totals = {"seconds": 0.0}
    serial_seconds, _, serial_store = _engine_run(source, shared, durable=False,
                                                  configure=_serial(totals))
    for store in (loop_store, serial_store):
        shutil.rmtree(store, ignore_errors=True)
    engine_in = totals["seconds"]
    overhead = {"documents": len(source_listing_for(source)), "loop_s": round(loop_seconds, 2),
                "loop_in_tasks_s": round(loop_in, 2), "engine_serial_s": round(serial_seconds, 2),
                "engine_in_tasks_s": round(engine_in, 2),
                "pct": 100 * ((serial_seconds / engine_in) / (loop_seconds / loop_in) - 1),
                "raw_pct": 100 * (serial_seconds / loop_seconds - 1)}
    return _stage_table(loop), overhead


def measure(source: Path, sample: Path, *, workers: bool = True, run: bool = True,
            emit: Emit | None = None) -> dict[str, Any]:
    """Every figure of the module docstring; ``sample`` is the subset for the serial figures."""
    shared = Shared()
    _warm_up(source, shared)
    out: dict[str, Any] = {}

    def record(name: str, value: Any) -> None:
        out[name] = value
        if emit is not None:
            emit(name, out)

    if run:
        figures, mrr = measure_run(source, shared)
        record("run", figures)
        record("mrr", mrr)
    stages, overhead = measure_overhead(sample, shared)
    record("stages", stages)
    record("overhead", overhead)
    if workers:
        one, two = _worker_run(sample, shared, 1), _worker_run(sample, shared, 2)
        record("workers", {"documents": overhead["documents"], "one_s": round(one, 2),
                           "two_s": round(two, 2), "speedup": one / two})
    return out


def _warm_up(source: Path, shared: Shared) -> None:
    """One plain-loop pass over a few documents of each type (imports, caches, OCR model)."""
    by_suffix: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        if len(by_suffix[path.suffix]) < 2:
            by_suffix[path.suffix].append(path)
    sample = Path(tempfile.mkdtemp(prefix="kbflow-bench-warm-"))
    for i, path in enumerate(p for paths in by_suffix.values() for p in paths):
        shutil.copy2(path, sample / f"{i}{path.suffix}")
    store = Path(tempfile.mkdtemp(prefix="kbflow-bench-"))
    PlainLoop().run(sample, local_adapters(store, file_roots=[sample], **shared.overrides()))
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(sample, ignore_errors=True)


def source_listing_for(source: Path) -> list[dict[str, Any]]:
    with Host(tempfile.mkdtemp(prefix="kbflow-bench-"), file_roots=[source],
              durable=False) as host:
        listing = source_listing(host, source)
        shutil.rmtree(host.store, ignore_errors=True)
        return listing


def _reasons(quarantined: list[dict[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for q in quarantined:
        counts[q["error"]] += 1
    return dict(counts)


def _print(name: str, figures: dict[str, Any]) -> None:
    value = figures[name]
    if name == "run":
        print(f"documents                     {value['documents']}")
        print(f"documents/s (kbflow ingest)   {value['documents_per_s']:.2f}   "
              f"({value['seconds']} s; {value['indexed']} indexed, {value['quarantined']} "
              f"quarantined = {value['quarantined_pct']:.1f} %: {value['quarantine_reasons']})")
        print(f"state transitions             {value['transitions']}   est. cost Standard "
              f"${value['cost_usd']['standard']:.4f}, Express ${value['cost_usd']['express']:.6f}")
    elif name == "mrr":
        for mode, m in value.items():
            print(f"MRR@10 {mode:8}               {m['mrr']:.3f}   (recall@10 {m['recall']:.3f}; "
                  f"any copy {m['mrr_any']:.3f}; on the {m['single_copy_queries']} of "
                  f"{m['queries']} queries whose words occur in one document only "
                  f"{m['mrr_single_copy']:.3f})")
    elif name == "stages":
        print("time per stage (plain loop)   stage: total s, calls, mean ms")
        for s in value:
            tag = " (cpu)" if s["cpu"] else ""
            print(f"  {s['stage'] + tag:26} {s['seconds']:8.2f} s {s['calls']:5d} "
                  f"{s['mean_ms']:9.1f}")
    elif name == "overhead":
        print(f"orchestration overhead        {value['pct']:+.1f} %   ({value['documents']} docs, "
              f"target <= 5 %: plain loop {value['loop_s']} s of which in tasks "
              f"{value['loop_in_tasks_s']} s; engine with one handler thread "
              f"{value['engine_serial_s']} s of which in tasks {value['engine_in_tasks_s']} s; "
              f"raw wall-time ratio {value['raw_pct']:+.1f} %)")
    elif name == "workers":
        print(f"speed-up 1 -> 2 workers       {value['speedup']:.2f}x   "
              f"({value['documents']} docs: {value['one_s']} s -> {value['two_s']} s; "
              f"target >= 1.7x; {os.cpu_count()} CPUs)")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N documents (copied to a temp folder)")
    parser.add_argument("--sample", type=int, default=None,
                        help="measure stage times, overhead and workers on N documents spread "
                             "over the corpus (default: all)")
    parser.add_argument("--skip-workers", action="store_true", help="skip the 1 vs 2 workers runs")
    parser.add_argument("--skip-run", action="store_true",
                        help="skip the full run (documents/s, quarantine, MRR@10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    source = (args.corpus / "docs" if (args.corpus / "docs").is_dir() else args.corpus).resolve()
    corpus_docs = source
    if args.limit:
        source = _subset(source, args.limit)
    sample = _subset(source, args.sample, spread=True) if args.sample else source
    try:
        figures = measure(source, sample, workers=not args.skip_workers, run=not args.skip_run,
                          emit=None if args.json else _print)
    finally:
        for folder in {source, sample} - {corpus_docs}:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, default=str))
    return 0


def _subset(source: Path, limit: int, *, spread: bool = False) -> Path:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    if spread and len(files) > limit:  # every k-th file: all types, in corpus proportions
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    files = files[:limit]
    target = Path(tempfile.mkdtemp(prefix="kbflow-bench-src-"))
    for path in files:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


if __name__ == "__main__":
    sys.exit(main())
