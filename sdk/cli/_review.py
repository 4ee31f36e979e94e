"""``kbflow review``: list, show and decide the human reviews waiting in a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from kbflow.cli._ingest import quiet_logs, store_option

__all__ = ["review"]

_reviewer = click.option("--reviewer", required=True, envvar="KBFLOW_REVIEWER",
                         help="Who decides (required; recorded in the audit). "
                              "Env: KBFLOW_REVIEWER.")
_comment = click.option("--comment", default=None, help="Why (recorded in the audit).")
_as_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _adapters(store: Path) -> Any:
    from kbflow.tasks.adapters.config import local_adapters

    if not (store / "kbflow.sqlite3").exists():
        raise click.ClickException(f"no kbflow store in {store}: run `kbflow ingest` first")
    return local_adapters(store)


@click.group()
def review() -> None:
    """Human review: documents flagged by ingestion (PII, low OCR confidence) wait here.

    Each pending review is a human-review execution waiting on a task token. Deciding it
    (approve, reject, edit) sends the decision through the engine; the flow applies it and
    writes an audit record. Decisions need --reviewer and are audited (see `review show`).

    Example: kbflow review list && kbflow review approve 3f9c2a --reviewer alice
    """


@review.command("list")
@store_option
@_as_json
def list_reviews(store: Path, as_json: bool) -> None:
    """List the reviews waiting for a decision, oldest first."""
    from kbflow._review_desk import pending_reviews

    rows = pending_reviews(_adapters(store))
    if as_json:
        click.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} review(s) waiting", title_justify="left")
    for col in ("id", "status", "reason", "document", "requested", "deadline"):
        table.add_column(col, overflow="fold")
    for r in rows:
        item = r.get("item") or {}
        document = str(item.get("key", item.get("id")))
        table.add_row(r["review_id"], r["status"], r["reason"], document,
                      str(r.get("requested_at")), str(r.get("deadline")))
    Console().print(table)


@review.command()
@click.argument("review_id")
@store_option
@_as_json
def show(review_id: str, store: Path, as_json: bool) -> None:
    """Show one review (a unique id prefix is enough) and the item's audit trail."""
    from kbflow._review_desk import audit_trail, get_review

    adapters = _adapters(store)
    request = _or_usage(lambda: get_review(adapters, review_id))
    data = {"review": request.public(), "audit": audit_trail(adapters, request)}
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    _print_review(data)


def _print_review(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    r = data["review"]
    console.print(f"[bold]review {r['review_id']}[/] ({r['status']}): {r['reason']}")
    console.print(f"execution: {r['execution_arn']}")
    console.print(f"item: {json.dumps(r.get('item'), default=str)[:600]}")
    if r.get("decision"):
        console.print(f"decision: {json.dumps(r['decision'])}")
    table = Table(title="audit", title_justify="left")
    for col in ("at", "action", "actor", "reason", "via"):
        table.add_column(col, overflow="fold")
    for a in data["audit"]:
        table.add_row(str(a.get("at")), a.get("action", ""), a.get("actor", ""),
                      a.get("reason", ""), str((a.get("details") or {}).get("via", "flow")))
    console.print(table)


def _or_usage(fn: Any) -> Any:
    from kbflow.errors import KbflowError

    try:
        return fn()
    except KbflowError as exc:
        raise click.ClickException(str(exc)) from exc


def _decide(store: Path, review_id: str, decision: str, reviewer: str, comment: str | None,
            edits: dict[str, Any] | None, as_json: bool) -> None:
    quiet_logs()
    from kbflow._host import Host
    from kbflow._review_desk import decide

    with Host(store) as host:
        outcome = _or_usage(lambda: decide(host, review_id, decision, reviewer=reviewer,
                                           comment=comment, edits=edits))
    if as_json:
        click.echo(json.dumps({"review_id": outcome.review_id, "decision": outcome.decision,
                               "executionArn": outcome.execution_arn, "status": outcome.status,
                               "output": outcome.output, "audit": outcome.audit}, default=str))
        return
    click.echo(f"{decision} sent for review {outcome.review_id} by {reviewer}; "
               f"human-review execution {outcome.status}")
    last = outcome.audit[-1] if outcome.audit else None
    if last is not None:
        click.echo(f"audit: {last.get('at')} {last.get('action')} by {last.get('actor')}")


@review.command()
@click.argument("review_id")
@store_option
@_reviewer
@_comment
@_as_json
def approve(review_id: str, store: Path, reviewer: str, comment: str | None,
            as_json: bool) -> None:
    """Approve: the document stays indexed as it is."""
    _decide(store, review_id, "approve", reviewer, comment, None, as_json)


@review.command()
@click.argument("review_id")
@store_option
@_reviewer
@_comment
@_as_json
def reject(review_id: str, store: Path, reviewer: str, comment: str | None,
           as_json: bool) -> None:
    """Reject: the document is removed from the index and quarantined."""
    _decide(store, review_id, "reject", reviewer, comment, None, as_json)


@review.command()
@click.argument("review_id")
@click.option("--file", "text_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The corrected text (UTF-8) to index instead.")
@store_option
@_reviewer
@_comment
@_as_json
def edit(review_id: str, text_file: Path, store: Path, reviewer: str, comment: str | None,
         as_json: bool) -> None:
    """Edit: index the text of --file in place of the document's text."""
    text = text_file.read_text(encoding="utf-8")
    _decide(store, review_id, "edit", reviewer, comment, {"text": text}, as_json)
