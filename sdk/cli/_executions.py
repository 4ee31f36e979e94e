"""``kbflow executions list|describe|history|redrive|stop``: executions in a durable store.

``list``, ``describe`` and ``history`` only read the store (safe while another process runs
executions in it). ``redrive`` restarts a failed execution on a durable engine in this process
and waits for its end; ``stop`` asks the owning process to stop an execution (or aborts it
directly when its owner is gone).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from kbflow.errors import KbflowError

from ._run import (
    build_engine,
    execution_result,
    file_root_option,
    function_option,
    report,
    store_option,
    uses_catalog,
    wire_local_adapters,
)

__all__ = ["executions"]

JSON = Any


def _store(directory: Path, *, readonly: bool = True) -> Any:
    from kbflow.runtime.store import Store

    try:
        return Store(directory, readonly=readonly)
    except KbflowError as exc:
        raise click.ClickException(str(exc)) from None


def _find(store: Any, name: str) -> Any:
    record = store.find_execution(name)
    if record is None:
        raise click.ClickException(f"no execution named {name!r} in {store.directory}")
    return record


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, default=_default))


@click.group()
def executions() -> None:
    """Inspect and control executions kept in a durable store (--store DIR)."""


@executions.command("list")
@store_option
@click.option("--status", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT",
                                             "ABORTED"]), default=None, help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_(store: Path, status: str | None, as_json: bool) -> None:
    """List the executions in the store, newest first."""
    db = _store(store)
    rows = [{"name": r.name, "executionArn": r.execution_arn, "status": r.status,
             "startDate": r.start_date, "stopDate": r.stop_date,
             "redriveCount": r.redrive_count} for r in db.executions(status=status)]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no executions")
    for row in rows:
        stop = row["stopDate"].isoformat(timespec="seconds") if row["stopDate"] else "-"
        click.echo(f"{row['status']:<10} {row['name']:<40} "
                   f"{row['startDate'].isoformat(timespec='seconds')}  {stop}")


@executions.command()
@click.argument("name")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print DescribeExecution's JSON.")
def describe(name: str, store: Path, as_json: bool) -> None:
    """Describe execution NAME (a name or an execution ARN)."""
    from datetime import UTC

    from kbflow.runtime.redrive import redrive_status

    db = _store(store)
    record = _find(db, name)
    described = record.describe()
    stored = db.state_machine(record.state_machine_arn)
    status, reason = redrive_status(record, stored["type"] if stored else "STANDARD",
                                    datetime.now(UTC))
    described["RedriveStatus"] = status
    if reason:
        described["RedriveStatusReason"] = reason
    described["MapRuns"] = db.map_runs(described["ExecutionArn"])
    if as_json:
        _echo_json(described)
        return
    for key, value in described.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=_default)
        click.echo(f"{key}: {shown}")


@executions.command()
@click.argument("name")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the events as one JSON array.")
def history(name: str, store: Path, as_json: bool) -> None:
    """Print the history events of execution NAME (GetExecutionHistory)."""
    db = _store(store)
    events = db.events(_find(db, name).execution_arn)
    if as_json:
        _echo_json(events)
        return
    for event in events:
        details = {k: v for k, v in event.items()
                   if k not in ("id", "previousEventId", "timestamp", "type")}
        text = json.dumps(next(iter(details.values()))) if details else ""
        click.echo(f"{event['id']:>5} {event['timestamp'].isoformat(timespec='milliseconds')} "
                   f"{event['type']:<28} {text[:160]}")


@executions.command()
@click.argument("name")
@store_option
@function_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for task handlers (default: CPU count).")
@file_root_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"executionArn", "status", "output", "error", "cause"}.')
def redrive(name: str, store: Path, functions: tuple[str, ...], workers: int | None,
            file_roots: tuple[Path, ...], as_json: bool) -> None:
    """Redrive failed execution NAME from where it failed, and wait for its end.

    Successful steps are not run again; only failed tasks and the Map iterations and Parallel
    branches that failed or were aborted rerun. Exit status 0 only when it SUCCEEDED.
    """
    record = _find(_store(store), name)
    engine = build_engine(store, functions, workers)
    try:
        definition = _require_functions(engine, record.state_machine_arn)
        if uses_catalog(definition):
            wire_local_adapters(engine, store, [r.resolve() for r in file_roots])
        try:
            arn = engine.redrive_execution(record.execution_arn)
        except KbflowError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
        result = execution_result(engine.wait(arn))
    finally:
        engine.close()
    report(result, as_json)


def _require_functions(engine: Any, state_machine_arn: str) -> str:
    from ._run import _function_names

    stored = engine.store.state_machine(state_machine_arn)
    if stored is None:
        raise click.ClickException(f"the store has no definition for {state_machine_arn}")
    missing = sorted(set(_function_names(stored["definition"])) - set(engine.functions))
    if missing:
        raise click.ClickException(f"unknown Lambda function(s) {', '.join(missing)}; register "
                                   "each with --function NAME=module:callable")
    return str(stored["definition"])


@executions.command()
@click.argument("name")
@store_option
@click.option("--error", default=None, help="The error code to record.")
@click.option("--cause", default=None, help="The cause to record.")
@click.option("--wait", "wait_seconds", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the owning process to stop it.")
@click.option("--json", "as_json", is_flag=True, help="Print the final DescribeExecution JSON.")
def stop(name: str, store: Path, error: str | None, cause: str | None, wait_seconds: float,
         as_json: bool) -> None:
    """Stop (abort) running execution NAME."""
    from kbflow.runtime.store import owner_alive

    db = _store(store, readonly=False)
    record = _find(db, name)
    if record.status != "RUNNING":
        raise click.ClickException(f"execution {name!r} is {record.status}, not RUNNING")
    found = db.execution(record.execution_arn)
    assert found is not None
    if owner_alive(found[1], found[2]):
        db.request_stop(record.execution_arn, error, cause)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            current = db.execution(record.execution_arn)
            if current is not None and current[0].status != "RUNNING":
                break
            time.sleep(0.1)
        else:
            raise click.ClickException(f"the owning process did not stop {name!r} in time")
    else:
        db.abort_orphan(record.execution_arn, error, cause)
    final = db.execution(record.execution_arn)
    assert final is not None
    if as_json:
        _echo_json(final[0].describe())
    else:
        click.echo(f"{final[0].status}  {record.execution_arn}")
