"""``kbflow reindex``: keep a wiki's pages in the index (full crawl, or one change event)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click
from kbflow.cli._ingest import quiet_logs, store_option

__all__ = ["reindex", "reindex_input", "run_reindex"]


def reindex_input(site: str | None, event_file: Path | None, *, max_pages: int | None = None,
                  max_depth: int | None = None, delay: float | None = None) -> dict[str, Any]:
    """The reindex flow's input: ``{"mode": "full", "site", "options"}`` or the change event.

    Raises:
        click.UsageError: neither or both of ``site`` and ``event_file``.
        ValidationError: the input breaks ``definitions/schemas/reindex.input.json``.
    """
    from kbflow._validation import validate_input

    if (site is None) == (event_file is None):
        raise click.UsageError("give exactly one of --site URL or --event FILE")
    if event_file is not None:
        try:
            value: dict[str, Any] = json.loads(event_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise click.UsageError(f"{event_file} is not JSON: {exc}") from exc
    else:
        options = {k: v for k, v in (("max_pages", max_pages), ("max_depth", max_depth),
                                     ("delay_seconds", delay)) if v is not None}
        value = {"mode": "full", "site": str(site)}
        if options:
            value["options"] = options
    validate_input("reindex", value)
    return value


def run_reindex(host: Any, flow_input: dict[str, Any], *, timeout: float | None = None
                ) -> dict[str, Any]:
    """Run the reindex flow on ``host`` and return ``{"executionArn","status","output",...}``."""
    arn = host.engine.start_execution(host.workflows["reindex"], flow_input,
                                      name=f"reindex-{uuid.uuid4().hex[:12]}")
    described = host.engine.wait(arn, timeout=timeout)
    out: dict[str, Any] = {"executionArn": arn, "status": described.get("Status"),
                           "output": json.loads(described.get("Output") or "null"),
                           "index": dict(host.adapters.index.stats())}
    if described.get("Status") != "SUCCEEDED":
        out["error"], out["cause"] = described.get("Error"), described.get("Cause")
    return out


@click.command()
@click.option("--site", default=None, metavar="URL",
              help="Full catch-up: crawl the site (same host), re-index what changed and "
                   "delete pages that vanished.")
@click.option("--event", "event_file", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='One change event (EventBridge shape): {"detail": {"page": URL, '
                   '"action": "created|updated|deleted"}}.')
@store_option
@click.option("--max-pages", type=click.IntRange(1), default=None,
              help="Crawl at most this many pages (default 200).")
@click.option("--max-depth", type=click.IntRange(0), default=None,
              help="Follow links this deep from URL (default 3).")
@click.option("--delay", type=click.FloatRange(0), default=None,
              help="Seconds between requests (default 1; robots.txt Crawl-delay wins if longer).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def reindex(site: str | None, event_file: Path | None, store: Path, max_pages: int | None,
            max_depth: int | None, delay: float | None, as_json: bool) -> None:
    """Re-index a wiki on the embedded engine (definitions/reindex.asl.json).

    --site URL crawls the site politely (robots.txt, delay), diffs it against the manifest,
    re-indexes new and changed pages and deletes vanished ones. --event FILE applies one page
    change event. Exit status 1 when the run failed.

    Example: kbflow reindex --site http://wiki.local/ --max-pages 50
    """
    quiet_logs()
    from kbflow._host import Host
    from kbflow.errors import ValidationError

    try:
        flow_input = reindex_input(site, event_file, max_pages=max_pages, max_depth=max_depth,
                                   delay=delay)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc
    from kbflow.errors import KbflowError

    try:
        with Host(store) as host:
            result = run_reindex(host, flow_input)
    except KbflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        _print(result)
    if result["status"] != "SUCCEEDED":
        sys.exit(1)


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reindex {result['status']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("execution", result["executionArn"])
    output = result.get("output") or {}
    if isinstance(output, dict):
        for key, value in output.items():
            table.add_row(str(key), json.dumps(value) if not isinstance(value, str) else value)
    table.add_row("index", f"{result['index'].get('documents', 0)} documents, "
                           f"{result['index'].get('chunks', 0)} chunks")
    if result.get("error"):
        table.add_row("error", f"{result['error']}: {result.get('cause')}")
    Console().print(table)
