"""Task stores: manifest, quarantine, reviews, audit and notifier, as protocols + SQLite.

Each store is a small :class:`typing.Protocol`; the SQLite implementations here share one file,
``<store>/kbflow.sqlite3`` (WAL journal, busy timeout, one connection per thread and process, so
engine worker threads and processes can use it at once). The DynamoDB/SNS implementations live
in :mod:`kbflow.tasks.adapters.dynamo`.

The audit table is append-only: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from kbflow.tasks.adapters.records import (
    AuditRecord,
    ManifestEntry,
    Notification,
    QuarantineRecord,
    ReviewRequest,
    new_id,
)
from kbflow.tasks.core.errors import TransientStoreError

__all__ = [
    "Audit",
    "Manifest",
    "Notifier",
    "Quarantine",
    "ReviewStore",
    "SqliteAudit",
    "SqliteDatabase",
    "SqliteManifest",
    "SqliteNotifier",
    "SqliteQuarantine",
    "SqliteReviewStore",
]


@runtime_checkable
class Manifest(Protocol):
    """What was indexed, by document id."""

    def get(self, doc_id: str) -> ManifestEntry | None:
        """The entry, or ``None``."""
        ...

    def put(self, entry: ManifestEntry) -> None:
        """Insert or replace an entry."""
        ...

    def list_for_source(self, source: str) -> list[ManifestEntry]:
        """Every entry whose ``source`` equals ``source``."""
        ...

    def delete(self, doc_id: str) -> None:
        """Remove an entry (no error when missing)."""
        ...


@runtime_checkable
class Quarantine(Protocol):
    """Records of quarantined documents."""

    def put(self, record: QuarantineRecord) -> None:
        """Insert or replace the record for (run_id, doc_id)."""
        ...

    def list_for_run(self, run_id: str) -> list[QuarantineRecord]:
        """Records of one run."""
        ...


@runtime_checkable
class ReviewStore(Protocol):
    """Human-review requests."""

    def put(self, request: ReviewRequest) -> None:
        """Insert or replace a request."""
        ...

    def get(self, review_id: str) -> ReviewRequest | None:
        """The request, or ``None``."""
        ...

    def update(self, review_id: str, **changes: Any) -> ReviewRequest:
        """Change fields of a request; raises KeyError when it does not exist."""
        ...

    def list(self, status: str | None = None) -> list[ReviewRequest]:
        """Requests, oldest first, optionally only those with ``status``."""
        ...


@runtime_checkable
class Audit(Protocol):
    """The append-only audit log."""

    def append(self, record: AuditRecord) -> AuditRecord:
        """Store a record (with its ``seq`` set) and return it."""
        ...

    def list(self, subject: str | None = None) -> list[AuditRecord]:
        """Records in time order, optionally for one subject."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Sends notifications to reviewers."""

    def notify(self, subject: str, message: dict[str, Any]) -> str:
        """Send one message; returns its id. ``message`` must hold no secrets."""
        ...


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS manifest (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS manifest_by_source ON manifest(source);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id TEXT NOT NULL, doc_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, doc_id));
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT PRIMARY KEY, status TEXT NOT NULL, requested_at TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL, seq TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit(subject, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TABLE IF NOT EXISTS notifications (
    notification_id TEXT PRIMARY KEY, at TEXT NOT NULL, data TEXT NOT NULL);
"""


class SqliteDatabase:
    """The shared ``kbflow.sqlite3`` file: per-thread, per-process connections in WAL mode.

    Args:
        path: The database file (created with its folder).
        busy_timeout_s: How long a writer waits for a lock before failing.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection().executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise TransientStoreError(f"SQLite store {self.path.name} busy: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=True
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); SQLite lock errors become transient."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise TransientStoreError(f"SQLite store {self.path.name} busy: {exc}") from exc

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query and return all rows."""
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise TransientStoreError(f"SQLite store {self.path.name} busy: {exc}") from exc

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


class SqliteManifest:
    """Manifest in SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get(self, doc_id: str) -> ManifestEntry | None:
        """See :meth:`Manifest.get`."""
        rows = self._db.query("SELECT data FROM manifest WHERE doc_id = ?", (doc_id,))
        return ManifestEntry.from_dict(json.loads(rows[0][0])) if rows else None

    def put(self, entry: ManifestEntry) -> None:
        """See :meth:`Manifest.put`."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO manifest (doc_id, source, data) VALUES (?, ?, ?)",
                (entry.doc_id, entry.source, _dump(entry.to_dict())),
            )

    def list_for_source(self, source: str) -> list[ManifestEntry]:
        """See :meth:`Manifest.list_for_source`."""
        rows = self._db.query(
            "SELECT data FROM manifest WHERE source = ? ORDER BY doc_id", (source,)
        )
        return [ManifestEntry.from_dict(json.loads(r[0])) for r in rows]

    def delete(self, doc_id: str) -> None:
        """See :meth:`Manifest.delete`."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM manifest WHERE doc_id = ?", (doc_id,))


class SqliteQuarantine:
    """Quarantine records in SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put(self, record: QuarantineRecord) -> None:
        """See :meth:`Quarantine.put`."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO quarantine (run_id, doc_id, data) VALUES (?, ?, ?)",
                (record.run_id, record.doc_id, _dump(record.to_dict())),
            )

    def list_for_run(self, run_id: str) -> list[QuarantineRecord]:
        """See :meth:`Quarantine.list_for_run`."""
        rows = self._db.query(
            "SELECT data FROM quarantine WHERE run_id = ? ORDER BY doc_id", (run_id,)
        )
        return [QuarantineRecord.from_dict(json.loads(r[0])) for r in rows]


class SqliteReviewStore:
    """Review requests in SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put(self, request: ReviewRequest) -> None:
        """See :meth:`ReviewStore.put`."""
        with self._db.transaction() as conn:
            self._write(conn, request)

    @staticmethod
    def _write(conn: sqlite3.Connection, request: ReviewRequest) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO reviews (review_id, status, requested_at, data)"
            " VALUES (?, ?, ?, ?)",
            (request.review_id, request.status, request.requested_at, _dump(request.to_dict())),
        )

    def get(self, review_id: str) -> ReviewRequest | None:
        """See :meth:`ReviewStore.get`."""
        rows = self._db.query("SELECT data FROM reviews WHERE review_id = ?", (review_id,))
        return ReviewRequest.from_dict(json.loads(rows[0][0])) if rows else None

    def update(self, review_id: str, **changes: Any) -> ReviewRequest:
        """See :meth:`ReviewStore.update`."""
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT data FROM reviews WHERE review_id = ?", (review_id,)
            ).fetchall()
            if not rows:
                raise KeyError(f"no review request {review_id!r}")
            updated = replace(ReviewRequest.from_dict(json.loads(rows[0][0])), **changes)
            self._write(conn, updated)
        return updated

    def list(self, status: str | None = None) -> list[ReviewRequest]:
        """See :meth:`ReviewStore.list`."""
        if status is None:
            rows = self._db.query("SELECT data FROM reviews ORDER BY requested_at, review_id")
        else:
            rows = self._db.query(
                "SELECT data FROM reviews WHERE status = ? ORDER BY requested_at, review_id",
                (status,),
            )
        return [ReviewRequest.from_dict(json.loads(r[0])) for r in rows]


class SqliteAudit:
    """The append-only audit log in SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def append(self, record: AuditRecord) -> AuditRecord:
        """See :meth:`Audit.append`."""
        stored = replace(record, seq=f"{record.at}#{new_id()[:12]}")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (subject, seq, data) VALUES (?, ?, ?)",
                (stored.subject, stored.seq, _dump(stored.to_dict())),
            )
        return stored

    def list(self, subject: str | None = None) -> list[AuditRecord]:
        """See :meth:`Audit.list`."""
        if subject is None:
            rows = self._db.query("SELECT data FROM audit ORDER BY id")
        else:
            rows = self._db.query(
                "SELECT data FROM audit WHERE subject = ? ORDER BY id", (subject,)
            )
        return [AuditRecord.from_dict(json.loads(r[0])) for r in rows]


class SqliteNotifier:
    """A local inbox: notifications are rows the CLI (``kbflow review list``) can show."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def notify(self, subject: str, message: dict[str, Any]) -> str:
        """See :meth:`Notifier.notify`."""
        note = Notification(subject=subject, message=message)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO notifications (notification_id, at, data) VALUES (?, ?, ?)",
                (note.notification_id, note.at, _dump(note.to_dict())),
            )
        return note.notification_id

    def inbox(self) -> list[Notification]:
        """Every notification, oldest first."""
        rows = self._db.query("SELECT data FROM notifications ORDER BY rowid")
        return [Notification.from_dict(json.loads(r[0])) for r in rows]
