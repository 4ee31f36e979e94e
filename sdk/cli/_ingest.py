"""``kbflow ingest SOURCE``: run the ingestion flow over a folder on the embedded engine."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from kbflow._host import DEFAULT_STORE

__all__ = ["ingest", "quiet_logs", "store_option"]

store_option = click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STORE,
    show_default=True,
    envvar="KBFLOW_STORE",
    help="The store folder: engine state, search index, manifest, reviews, work files.",
)


def quiet_logs() -> None:
    """Keep task warnings (one per quarantined document) and asyncio noise off the terminal.

    ``POWERTOOLS_LOG_LEVEL`` set by the user wins.
    """
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_option
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Run the CPU-bound stages (extraction, OCR, PII, chunking, embedding) in N "
                   "warm worker processes shared by all stages; default: one thread per CPU in "
                   "this process.")
@click.option("--max-bytes", type=click.IntRange(1), default=None,
              help="Quarantine documents larger than this many bytes (default 100 MiB).")
@click.option("--pii", type=click.Choice(["redact", "detect"]), default=None,
              help="Redact PII before indexing (default) or only detect it and flag for review.")
@click.option("--json", "as_json", is_flag=True,
              help="No progress bar; print exactly one JSON object on stdout.")
def ingest(source: Path, store: Path, workers: int | None, max_bytes: int | None,
           pii: str | None, as_json: bool) -> None:
    """Ingest the documents under SOURCE into the store's search index.

    Runs the ingestion state machine (definitions/ingestion.asl.json) on kbflow's embedded
    engine with the local adapters: type routing, extraction/OCR, cleaning, PII redaction,
    chunking, embeddings, and the hybrid index in STORE/index.sqlite3. Re-running over the same
    folder skips unchanged documents, re-indexes changed ones and removes vanished ones; an
    interrupted run left in the durable store is resumed. Bad documents are quarantined with
    the reason and the run goes on.

    The JSON object: executionArn, status, documents, indexed, unchanged, quarantined
    [{key, error, cause}] (key relative to SOURCE), index {documents, chunks} (totals after the
    run), duration_seconds, transitions, estimated_cost_usd {standard, express}.

    Cost assumptions (us-east-1 list prices): Standard $0.025 per 1,000 state transitions
    (states entered + retries, parent and Distributed Map children); Express $1.00 per million
    executions + $0.00001667 per GB-second in 100 ms steps at 64 MB. Lambda and other services
    are not included.

    Exit status: 0 when the run succeeded (even with quarantined documents), 1 when it failed.

    Example: kbflow ingest ./docs --store .kbflow --json
    """
    quiet_logs()
    from kbflow._host import Host
    from kbflow._mainjob import DocumentProgress, run_ingestion, source_listing

    options: dict[str, Any] = {}
    if max_bytes is not None:
        options["max_bytes"] = max_bytes
    if pii is not None:
        options["pii"] = pii
    from kbflow.errors import KbflowError

    try:
        with Host(store, file_roots=[source], workers=workers) as host:
            total = len(source_listing(host, source))
            if as_json:
                report = run_ingestion(host, source, options=options)
            else:
                report = _with_progress(host, source, options, total, DocumentProgress,
                                        run_ingestion)
    except KbflowError as exc:  # e.g. the same folder is being ingested by a live process
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        _print_summary(report)
    if report.status != "SUCCEEDED":
        sys.exit(1)


def _with_progress(host: Any, source: Path, options: dict[str, Any], total: int,
                   progress_cls: Any, run: Any) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:.1f} docs/s"), TextColumn("ETA"),
               TimeRemainingColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
               TextColumn("[red]quarantined {task.fields[quarantined]}[/]"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("documents", total=total or None, rate=0.0, quarantined=0)

        def update(p: Any) -> None:
            import time

            elapsed = max(1e-6, time.monotonic() - p.started)
            bar.update(task, completed=p.done, rate=p.done / elapsed,
                       quarantined=p.counts["quarantined"])

        tracker = progress_cls(total, on_change=update)
        report = run(host, source, options=options, progress=tracker)
        bar.update(task, completed=max(tracker.done, report.documents),
                   total=max(total, report.documents) or None)
    return report


def _print_summary(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ok = report.status == "SUCCEEDED"
    table = Table(title=f"ingestion {'[green]' if ok else '[red]'}{report.status}[/]",
                  show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    rows = [
        ("execution", report.executionArn),
        ("documents", str(report.documents)),
        ("indexed", str(report.indexed)),
        ("unchanged", str(report.unchanged)),
        ("quarantined", str(len(report.quarantined))),
        ("removed (vanished)", str(len(report.removed))),
        ("flagged for review", str(report.review)),
        ("index", f"{report.index.get('documents', 0)} documents, "
                  f"{report.index.get('chunks', 0)} chunks"),
        ("duration", f"{report.duration_seconds:.1f} s"),
        ("state transitions", str(report.transitions)),
        ("est. cost on AWS", f"Standard ${report.estimated_cost_usd.get('standard', 0):.6f}, "
                             f"Express ${report.estimated_cost_usd.get('express', 0):.6f}"),
    ]
    if report.resumed:
        rows.insert(1, ("resumed", "yes (interrupted execution continued)"))
    if report.error:
        rows.append(("error", f"{report.error}: {report.cause}"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if report.quarantined:
        bad = Table(title="quarantined documents")
        for col in ("key", "error", "cause"):
            bad.add_column(col, overflow="fold")
        for q in report.quarantined:
            bad.add_row(q["key"], q["error"], q["cause"][:160])
        console.print(bad)
    if report.review:
        console.print(f"{report.review} document(s) wait for human review: kbflow review list")
