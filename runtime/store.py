"""The durable store: one SQLite database (WAL mode) per store directory.

Tables: state machines (with versions), executions (with their owner), history events,
the task journal (completed task outcomes, used to resume and redrive), Map Runs, task
tokens and activity tasks. Many processes may read the database at once (the CLI and the
console read while an engine writes); one engine process owns each running execution.

Durability and batching
-----------------------
The writer (:class:`Store`, used on the engine loop thread) buffers history events and
commits them in batches: when ``batch_events`` are buffered, when ``batch_ms`` have passed
(checked on every append and by the engine's periodic flush), and **always** before a task
is invoked, after a task outcome is journaled, and when an execution finishes. Consequences:

* A process crash (``kill -9``) loses only the buffered history events of the states that ran
  since the last commit. Those states did no external work (no task was invoked since the last
  commit, otherwise the commit before that invocation would have written them), so resume
  recomputes them deterministically from the last committed transition.
* A task outcome is committed in the same transaction as the events before it, so after a
  crash a completed task is never invoked again. A task that was in flight is invoked again
  (at-least-once, as Lambda retries), so handlers must be idempotent.
* ``synchronous=NORMAL`` in WAL mode: committed transactions survive a process crash; an OS
  crash or power loss may lose the last transactions (the database stays consistent), which
  again only means re-running work from an earlier transition.

Execution ownership
-------------------
An execution row names its owner: host, pid and the process start time (``/proc`` ticks,
so a recycled pid is not mistaken for the owner), plus a heartbeat the engine refreshes every
few seconds (:mod:`kbflow.runtime.owners`). :func:`owner_alive` tells whether the owner still
runs. Map Run counts are saved every quarter second and when the parent ends; a crash may lose
the latest counts, which the replayed Map Run recomputes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from kbflow.errors import ConfigurationError

from .execution import ExecutionRecord
from .history import details_key, payload
from .owners import Owner, is_me, owner_alive, row_owner_alive

__all__ = ["DB_NAME", "JournalEntry", "Owner", "Store", "dump_details", "owner_alive"]

JSON = Any
DB_NAME: Final = "engine.sqlite3"
SCHEMA_VERSION: Final = 2
"""The layout of ``engine.sqlite3`` (``PRAGMA user_version``)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    type TEXT NOT NULL, role_arn TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (arn, version));
CREATE TABLE IF NOT EXISTS executions (
    n INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    sm_version INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL, input TEXT NOT NULL,
    output TEXT, error TEXT, cause TEXT, start_date REAL NOT NULL, stop_date REAL,
    redrive_count INTEGER NOT NULL DEFAULT 0, redrive_date REAL, parent_arn TEXT,
    map_run_arn TEXT, owner_host TEXT, owner_pid INTEGER, owner_started INTEGER,
    heartbeat REAL, stop_request TEXT);
CREATE INDEX IF NOT EXISTS executions_sm ON executions (state_machine_arn, start_date);
CREATE INDEX IF NOT EXISTS executions_status ON executions (status);
CREATE TABLE IF NOT EXISTS events (
    execution INTEGER NOT NULL, id INTEGER NOT NULL, previous_id INTEGER NOT NULL,
    timestamp REAL NOT NULL, type TEXT NOT NULL, details TEXT,
    PRIMARY KEY (execution, id));
CREATE TABLE IF NOT EXISTS task_journal (
    execution_arn TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, key TEXT NOT NULL,
    result TEXT, error TEXT, cause TEXT, caught INTEGER NOT NULL DEFAULT 0,
    event_id INTEGER NOT NULL DEFAULT 0, start_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (execution_arn, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_runs (
    arn TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, status TEXT NOT NULL,
    start_date REAL NOT NULL, stop_date REAL, max_concurrency INTEGER NOT NULL,
    tolerated_failure_count INTEGER NOT NULL, tolerated_failure_percentage REAL NOT NULL,
    counts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, state TEXT, status TEXT NOT NULL,
    output TEXT, error TEXT, cause TEXT, created REAL NOT NULL, updated REAL);
CREATE INDEX IF NOT EXISTS task_tokens_status ON task_tokens (status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity_tasks (
    task_token TEXT PRIMARY KEY, activity_arn TEXT NOT NULL, execution_arn TEXT,
    input TEXT NOT NULL, status TEXT NOT NULL, worker_name TEXT, output TEXT, error TEXT,
    cause TEXT, created REAL NOT NULL, updated REAL);
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One completed task attempt: its result, or its error."""

    state: str
    key: str
    result: str | None
    error: str | None
    cause: str | None
    caught: bool
    event_id: int = 0
    """The id of the task's last history event (replay continues the branch from it)."""
    start_id: int = 0
    """The id of the event before the task's first one (tells apart equal keys in branches)."""


def _ts(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


_ENCODE_LOOSE: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                        default=str).encode


def dump_details(details: Any) -> str | None:
    """Event details as the store keeps them (the text replay compares events by)."""
    if details is None:
        return None
    try:
        return payload(details)  # the history's fast compact encoder
    except TypeError:  # a non-JSON value (e.g. a datetime) in details
        return _ENCODE_LOOSE(details)


_INSERT_EVENT: Final = "INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?)"
_EXEC_N: Final = "(SELECT n FROM executions WHERE arn=?)"
_INSERT_JOURNAL: Final = "INSERT OR REPLACE INTO task_journal VALUES (?,?,?,?,?,?,?,?,?,?)"
_EXEC_COLUMNS: Final = ("arn, name, state_machine_arn, status, input, output, error, cause, "
                        "start_date, stop_date, redrive_count, parent_arn, map_run_arn, "
                        "owner_host, owner_pid, owner_started, heartbeat, redrive_date")


class Store:
    """A durable store in ``directory/engine.sqlite3``.

    Args:
        directory: the store directory (created if missing).
        batch_events: commit when this many events are buffered.
        batch_ms: commit when the oldest buffered event is this old (checked every 64 events
            and by the engine's background flush every ``flush_interval``).
        readonly: open for reading only (CLI ``list``/``describe``/``history``).
    """

    def __init__(self, directory: str | os.PathLike[str], *, batch_events: int = 2000,
                 batch_ms: float = 50.0, readonly: bool = False) -> None:
        self.directory = Path(directory)
        if readonly and not (self.directory / DB_NAME).exists():
            raise ConfigurationError(f"no kbflow store at {self.directory} ({DB_NAME} missing)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._check_schema()
        if not readonly:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA cache_size=-32768")  # 32 MiB of page cache
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._lock = threading.RLock()
        self._events: list[tuple[Any, ...]] = []
        self._numbers: dict[str, int] = {}
        self._journal: list[tuple[Any, ...]] = []
        self._oldest = 0.0
        self.batch_events = batch_events
        self.batch_seconds = batch_ms / 1000.0
        self.commits = 0
        self.owner = Owner.current()

    # ------------------------------------------------------------------ plumbing

    def _check_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                  "name='executions'").fetchone()[0]
        if tables and version != SCHEMA_VERSION:
            self._db.close()
            raise ConfigurationError(
                f"{self.path} has store schema version {version}, this kbflow uses "
                f"{SCHEMA_VERSION}; move the file away to start a new store")

    def close(self) -> None:
        """Commit what is buffered and close the connection."""
        with self._lock:
            self.flush()
            self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def flush(self, *, heartbeat: bool = False) -> None:
        """Commit every buffered event and journal entry in one transaction."""
        with self._lock:
            if not self._events and not self._journal and not heartbeat:
                return
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if self._events:
                    db.executemany(_INSERT_EVENT, self._events)
                if self._journal:
                    db.executemany(_INSERT_JOURNAL, self._journal)
                if heartbeat:
                    db.execute("UPDATE executions SET heartbeat=? WHERE owner_pid=? AND "
                               "owner_host=? AND status='RUNNING'",
                               (time.time(), self.owner.pid, self.owner.host))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._events.clear()
            self._journal.clear()
            self.commits += 1

    # ------------------------------------------------------------------ events

    def append_event(self, execution_arn: str, event: Mapping[str, Any]) -> None:
        """Buffer one history event; commit if the batch is full or old."""
        event_type = event["type"]
        details = event.get(details_key(event_type))
        number = self._numbers.get(execution_arn)
        if number is None:
            number = self._number(execution_arn)
        events = self._events
        events.append((number, event["id"], event["previousEventId"],
                       event["timestamp"].timestamp(), event_type,
                       None if details is None else dump_details(details)))
        n = len(events)
        if n == 1:
            self._oldest = time.monotonic()
        elif n >= self.batch_events or (n & 63 == 0 and (
                time.monotonic() - self._oldest >= self.batch_seconds)):
            self.flush()

    def _number(self, execution_arn: str) -> int:
        """The integer key of an execution in the events table (cached)."""
        rows = self._rows("SELECT n FROM executions WHERE arn=?", (execution_arn,))
        if not rows:
            raise ConfigurationError(f"execution {execution_arn} is not in the store")
        number = self._numbers[execution_arn] = int(rows[0][0])
        return number

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every committed event of an execution, oldest first, as GetExecutionHistory."""
        rows = self._rows("SELECT id, previous_id, timestamp, type, details FROM events "
                          f"WHERE execution={_EXEC_N} ORDER BY id", (execution_arn,))
        out = []
        for event_id, prev, stamp, event_type, details in rows:
            event: dict[str, Any] = {"id": event_id, "previousEventId": prev,
                                     "timestamp": _dt(stamp), "type": event_type}
            if details is not None:
                event[details_key(event_type)] = json.loads(details)
            out.append(event)
        return out

    def event_rows(self, execution_arn: str) -> list[tuple[int, int, float, str, str | None]]:
        """``(id, previous id, timestamp, type, details text)`` of every committed event."""
        return [(r[0], r[1], r[2], r[3], r[4]) for r in self._rows(
            "SELECT id, previous_id, timestamp, type, details FROM events WHERE "
            f"execution={_EXEC_N} ORDER BY id", (execution_arn,))]

    # ------------------------------------------------------------------ task journal

    def journal(self, execution_arn: str, seq: int, entry: JournalEntry) -> None:
        """Record a completed task attempt and commit at once (with the events before it)."""
        self._journal.append((execution_arn, seq, entry.state, entry.key, entry.result,
                              entry.error, entry.cause, int(entry.caught), entry.event_id,
                              entry.start_id))
        self.flush()

    def journal_entries(self, execution_arn: str) -> list[tuple[int, JournalEntry]]:
        """The journal of an execution, in order."""
        rows = self._rows("SELECT seq, state, key, result, error, cause, caught, event_id, "
                          "start_id FROM task_journal WHERE execution_arn=? ORDER BY seq",
                          (execution_arn,))
        return [(r[0], JournalEntry(r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8]))
                for r in rows]

    def drop_uncaught_errors(self, execution_arn: str) -> int:
        """Forget the failed task attempts no Catch handled (redrive reruns them)."""
        self.flush()
        cur = self._write("DELETE FROM task_journal WHERE execution_arn=? AND error IS NOT NULL "
                          "AND caught=0", (execution_arn,))
        return cur.rowcount

    # ------------------------------------------------------------------ state machines

    def put_state_machine(self, arn: str, name: str, definition: str, type: str,
                          role_arn: str) -> int:
        """Store a definition; a changed definition becomes a new version. Returns it."""
        rows = self._rows("SELECT version, definition FROM state_machines WHERE arn=? "
                          "ORDER BY version DESC LIMIT 1", (arn,))
        if rows and rows[0][1] == definition:
            return int(rows[0][0])
        version = int(rows[0][0]) + 1 if rows else 1
        self._write("INSERT INTO state_machines VALUES (?,?,?,?,?,?,?)",
                    (arn, version, name, definition, type, role_arn, time.time()))
        return version

    def state_machine(self, arn: str, version: int | None = None) -> dict[str, Any] | None:
        """A stored definition (the latest version unless ``version``)."""
        sql = ("SELECT arn, version, name, definition, type, role_arn FROM state_machines "
               "WHERE arn=?")
        args: tuple[Any, ...] = (arn,)
        if version is not None:
            sql, args = sql + " AND version=?", (arn, version)
        rows = self._rows(sql + " ORDER BY version DESC LIMIT 1", args)
        if not rows:
            return None
        keys = ("arn", "version", "name", "definition", "type", "role_arn")
        return dict(zip(keys, rows[0], strict=True))

    # ------------------------------------------------------------------ executions

    def insert_execution(self, record: ExecutionRecord, sm_version: int) -> None:
        """Record a new execution owned by this process (committed at once)."""
        self.flush()
        owner = self.owner
        self._write(
            "INSERT INTO executions (arn, name, state_machine_arn, sm_version, status, "
            "input, start_date, redrive_count, parent_arn, map_run_arn, owner_host, owner_pid, "
            "owner_started, heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(arn) DO "
            "UPDATE SET name=excluded.name, state_machine_arn=excluded.state_machine_arn, "
            "sm_version=excluded.sm_version, status=excluded.status, input=excluded.input, "
            "start_date=excluded.start_date, redrive_count=excluded.redrive_count, "
            "parent_arn=excluded.parent_arn, map_run_arn=excluded.map_run_arn, "
            "owner_host=excluded.owner_host, owner_pid=excluded.owner_pid, "
            "owner_started=excluded.owner_started, heartbeat=excluded.heartbeat, output=NULL, "
            "error=NULL, cause=NULL, stop_date=NULL",
            (record.execution_arn, record.name, record.state_machine_arn, sm_version,
             record.status, record.input, _ts(record.start_date), record.redrive_count,
             record.parent_arn, record.map_run_arn, owner.host, owner.pid, owner.started,
             time.time()))

    def finish_execution(self, record: ExecutionRecord) -> None:
        """Record an execution's final status, with every buffered event, in one commit."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT_EVENT, self._events)
                self._db.executemany(_INSERT_JOURNAL, self._journal)
                self._db.execute(
                    "UPDATE executions SET status=?, output=?, error=?, cause=?, stop_date=? "
                    "WHERE arn=?", (record.status, record.output, record.error, record.cause,
                                    _ts(record.stop_date), record.execution_arn))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._events.clear()
            self._journal.clear()
            self.commits += 1

    def claim(self, execution_arn: str, *, redrive: bool = False) -> bool:
        """Take ownership of an execution whose owner is dead (atomically). True on success."""
        with self._lock:
            self.flush()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT status, owner_host, owner_pid, owner_started, heartbeat FROM "
                    "executions WHERE arn=?", (execution_arn,)).fetchone()
                ok = row is not None and (redrive or row[0] == "RUNNING") and not (
                    row[0] == "RUNNING" and row_owner_alive(row[1:], None)
                    and not is_me(row[1:], self.owner))
                if ok:
                    self._db.execute("UPDATE executions SET owner_host=?, owner_pid=?, "
                                     "owner_started=?, heartbeat=? WHERE arn=?",
                                     (self.owner.host, self.owner.pid, self.owner.started,
                                      time.time(), execution_arn))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return ok

    def release(self) -> int:
        """Give up ownership of this process's RUNNING executions (another engine may resume
        them at once). Returns how many were released."""
        self.flush()
        cur = self._write("UPDATE executions SET owner_host=NULL, owner_pid=NULL, "
                          "owner_started=NULL WHERE status='RUNNING' AND owner_pid=? AND "
                          "owner_host=?", (self.owner.pid, self.owner.host))
        return cur.rowcount

    def mark_redriven(self, record: ExecutionRecord, when: datetime) -> None:
        """Record a redrive: RUNNING again with the new redrive count."""
        self._write("UPDATE executions SET status='RUNNING', output=NULL, error=NULL, cause=NULL,"
                    " stop_date=NULL, redrive_count=?, redrive_date=? WHERE arn=?",
                    (record.redrive_count, when.timestamp(), record.execution_arn))

    def execution_version(self, arn: str) -> int | None:
        """The state machine version an execution started with."""
        rows = self._rows("SELECT sm_version FROM executions WHERE arn=?", (arn,))
        return int(rows[0][0]) if rows else None

    def execution(self, arn: str) -> tuple[ExecutionRecord, Owner | None, float | None] | None:
        """An execution's record, owner and heartbeat."""
        rows = self._rows(f"SELECT {_EXEC_COLUMNS} FROM executions WHERE arn=?", (arn,))
        return _to_record(rows[0]) if rows else None

    def find_execution(self, name_or_arn: str) -> ExecutionRecord | None:
        """An execution by ARN or by name (the newest top-level one with that name)."""
        rows = self._rows(f"SELECT {_EXEC_COLUMNS} FROM executions WHERE arn=? OR "
                          "(name=? AND map_run_arn IS NULL) ORDER BY start_date DESC LIMIT 1",
                          (name_or_arn, name_or_arn))
        return _to_record(rows[0])[0] if rows else None

    def executions(self, *, status: str | None = None, include_children: bool = False,
                   state_machine_arn: str | None = None) -> list[ExecutionRecord]:
        """Executions, newest first."""
        sql = f"SELECT {_EXEC_COLUMNS} FROM executions WHERE 1=1"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql, args = sql + " AND status=?", (*args, status)
        if state_machine_arn is not None:
            sql, args = sql + " AND state_machine_arn=?", (*args, state_machine_arn)
        if not include_children:
            sql += " AND map_run_arn IS NULL"
        return [_to_record(r)[0] for r in self._rows(sql + " ORDER BY start_date DESC", args)]

    def orphans(self) -> list[str]:
        """ARNs of top-level RUNNING executions whose owner is dead."""
        rows = self._rows("SELECT arn, owner_host, owner_pid, owner_started, heartbeat FROM "
                          "executions WHERE status='RUNNING' AND map_run_arn IS NULL "
                          "AND parent_arn IS NULL")
        return [r[0] for r in rows if not row_owner_alive(r[1:], None)]

    def request_stop(self, arn: str, error: str | None, cause: str | None) -> None:
        """Ask the owning process to stop an execution (it polls for requests)."""
        self._write("UPDATE executions SET stop_request=? WHERE arn=? AND status='RUNNING'",
                    (json.dumps({"error": error, "cause": cause}), arn))

    def stop_requests(self) -> list[tuple[str, str | None, str | None]]:
        """``(arn, error, cause)`` of stop requests for executions this process owns."""
        rows = self._rows("SELECT arn, stop_request FROM executions WHERE status='RUNNING' AND "
                          "stop_request IS NOT NULL AND owner_pid=? AND owner_host=?",
                          (self.owner.pid, self.owner.host))
        out = []
        for arn, text in rows:
            req = json.loads(text)
            out.append((arn, req.get("error"), req.get("cause")))
            self._write("UPDATE executions SET stop_request=NULL WHERE arn=?", (arn,))
        return out

    def abort_orphan(self, arn: str, error: str | None, cause: str | None) -> None:
        """Abort a RUNNING execution whose owner is dead (``ExecutionAborted`` event)."""
        with self._lock:
            self.flush()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                number = self._db.execute("SELECT n FROM executions WHERE arn=?",
                                          (arn,)).fetchone()[0]
                last = self._db.execute("SELECT coalesce(max(id), 0) FROM events WHERE "
                                        "execution=?", (number,)).fetchone()[0]
                details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
                now = time.time()
                self._db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)",
                                 (number, last + 1, last, now, "ExecutionAborted",
                                  dump_details(details or None)))
                self._db.execute("UPDATE executions SET status='ABORTED', error=?, cause=?, "
                                 "stop_date=? WHERE arn=? AND status='RUNNING'",
                                 (error, cause, now, arn))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def secret(self) -> str:
        """A random secret of this store (created once; task tokens are derived from it)."""
        rows = self._rows("SELECT value FROM meta WHERE key='secret'")
        if rows:
            return str(rows[0][0])
        self._write("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (os.urandom(24).hex(),))
        return str(self._rows("SELECT value FROM meta WHERE key='secret'")[0][0])

    # ------------------------------------------------------------------ map runs

    def put_map_run(self, arn: str, execution_arn: str, status: str, start: datetime,
                    stop: datetime | None, max_concurrency: int, count: int, pct: float,
                    counts: Mapping[str, int]) -> None:
        """Insert or update a Map Run record (committed with the next flush)."""
        self._write("INSERT OR REPLACE INTO map_runs VALUES (?,?,?,?,?,?,?,?,?)",
                    (arn, execution_arn, status, start.timestamp(), _ts(stop), max_concurrency,
                     count, pct, json.dumps(dict(counts))))

    def map_runs(self, execution_arn: str) -> list[dict[str, Any]]:
        """Map Runs of an execution."""
        rows = self._rows("SELECT arn, status, start_date, stop_date, counts FROM map_runs "
                          "WHERE execution_arn=? ORDER BY start_date", (execution_arn,))
        return [{"mapRunArn": r[0], "status": r[1], "startDate": _dt(r[2]),
                 "stopDate": _dt(r[3]), "counts": json.loads(r[4])} for r in rows]

    # ------------------------------------------------------------------ task tokens

    def put_token(self, token: str, execution_arn: str, state: str | None) -> None:
        """Record an issued task token."""
        self._write("INSERT OR IGNORE INTO task_tokens (token, execution_arn, state, status, "
                    "created) VALUES (?,?,?,'WAITING',?)", (token, execution_arn, state,
                                                           time.time()))

    def complete_token(self, token: str, *, output: str | None = None, error: str | None = None,
                       cause: str | None = None, success: bool = True) -> bool:
        """Send a callback through the store (from any process). False if not waiting."""
        status = "SUCCEEDED" if success else "FAILED"
        cur = self._write("UPDATE task_tokens SET status=?, output=?, error=?, cause=?, updated=?"
                          " WHERE token=? AND status='WAITING'",
                          (status, output, error, cause, time.time(), token))
        return cur.rowcount == 1

    def completed_tokens(self, tokens: list[str]) -> list[tuple[str, str, str | None,
                                                                str | None, str | None]]:
        """``(token, status, output, error, cause)`` of the given tokens that were completed."""
        out = []
        for i in range(0, len(tokens), 500):
            chunk = tokens[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.extend(self._rows(f"SELECT token, status, output, error, cause FROM task_tokens "
                                  f"WHERE token IN ({marks}) AND status!='WAITING'", tuple(chunk)))
        return out

    def close_token(self, token: str, status: str) -> None:
        """Mark a token as consumed (``DELIVERED``) or dead (``TIMED_OUT``)."""
        self._write("UPDATE task_tokens SET status=?, updated=? WHERE token=?",
                    (status, time.time(), token))

    def tokens(self, status: str = "WAITING") -> list[dict[str, Any]]:
        """Task tokens by status."""
        rows = self._rows("SELECT token, execution_arn, state, created FROM task_tokens "
                          "WHERE status=? ORDER BY created", (status,))
        return [{"token": r[0], "executionArn": r[1], "state": r[2], "created": _dt(r[3])}
                for r in rows]

    def iter_all_events(self) -> Iterator[tuple[str, int]]:
        """``(execution_arn, count)`` per execution (diagnostics)."""
        yield from self._rows("SELECT x.arn, count(*) FROM events e JOIN executions x ON "
                              "x.n=e.execution GROUP BY x.arn")


def _to_record(row: tuple[Any, ...]) -> tuple[ExecutionRecord, Owner | None, float | None]:
    (arn, name, sm_arn, status, input_, output, error, cause, start, stop, redrives, parent,
     map_run, host, pid, started, heartbeat, _redrive_date) = row
    start_date = _dt(start)
    assert start_date is not None
    record = ExecutionRecord(arn, sm_arn, name, input_, start_date, status, _dt(stop), output,
                             error, cause, redrives, parent, map_run)
    owner = Owner(host, int(pid), int(started or 0)) if pid is not None else None
    return record, owner, heartbeat
