"""Ingestion glue: plan a run, fetch + fingerprint a document, record and quarantine it.

Everything here is a plain function over JSON-shaped dicts (the doc payload of
docs/contracts.md) and an :class:`~kbflow.tasks.adapters.config.Adapters` bundle; the Lambda
handlers in :mod:`kbflow.tasks.handlers.ingestion` only call these.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import uuid
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from kbflow.tasks.adapters.objectstore import FILE_BUCKET, NoSuchKey
from kbflow.tasks.adapters.records import ManifestEntry, QuarantineRecord
from kbflow.tasks.core import media
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    EmptyDocument,
    InvalidInput,
    SourceAccessDenied,
    TaskError,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from kbflow.tasks.adapters.config import Adapters

__all__ = [
    "DEFAULT_OPTIONS",
    "KEPT_STATUSES",
    "artifact_key",
    "doc_id_for",
    "failed_stage",
    "fetch_document",
    "keep_original",
    "lambda_cause",
    "options_of",
    "parse_source_uri",
    "plan_ingestion",
    "quarantine_document",
    "read_original",
    "record_manifest",
    "relative_key",
    "run_id_from",
    "source_id",
]

DEFAULT_OPTIONS: Final[dict[str, Any]] = {
    "pii": "redact",
    "review_pii": True,
    "max_bytes": 100 * 1024 * 1024,
    "chunk_tokens": 256,
    "chunk_overlap": 32,
    "ocr_min_confidence": 0.8,
    "embed_batch": 32,
    "remove_vanished": True,
}
"""Ingestion options and their defaults (flow input ``options`` overrides them)."""

KEPT_STATUSES: Final = frozenset({"indexed", "approved", "edited", "rejected"})
"""Manifest statuses meaning "this content was handled": same bytes again → ``unchanged``."""

_UNSAFE_ID: Final = re.compile(r"[^A-Za-z0-9._-]")
_STAGES: Final = (
    ("sha256", "fetch"),
    ("text", "extract"),
    ("clean", "clean"),
    ("pii", "pii"),
    ("chunks", "chunk"),
    ("embeddings", "embed"),
    ("indexed", "index"),
)


def options_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The doc's options merged over :data:`DEFAULT_OPTIONS`."""
    return {**DEFAULT_OPTIONS, **(doc.get("options") or {})}


def doc_id_for(bucket: str, key: str) -> str:
    """``sha256(bucket/key)[:32]`` (docs/contracts.md)."""
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32]


def source_id(source: dict[str, Any]) -> str:
    """The manifest's source id: the site origin for web pages, else ``bucket/prefix``."""
    if source.get("site"):
        return str(source["site"])
    return f"{source['bucket']}/{source.get('prefix', '')}"


def relative_key(doc: dict[str, Any]) -> str:
    """The key shown to people: relative to the source folder for ``file`` sources."""
    key = str(doc["key"])
    source = doc.get("source") or {}
    prefix = str(source.get("prefix", ""))
    if source.get("bucket") == FILE_BUCKET and prefix and key.startswith(prefix):
        return key[len(prefix) :]
    return key


def artifact_key(doc: dict[str, Any], name: str) -> str:
    """The work-store key of one artifact of a doc: ``runs/<run_id>/<doc_id>/<name>``."""
    return f"runs/{doc.get('run_id') or 'adhoc'}/{doc['doc_id']}/{name}"


def parse_source_uri(uri: str) -> dict[str, str]:
    """Normalise ``s3://bucket/prefix`` or ``file:///abs/dir`` to ``{"uri","bucket","prefix"}``.

    A ``file`` URI maps to bucket ``file`` and prefix ``abs/dir/`` (docs/contracts.md).

    Raises:
        InvalidInput: Another scheme, a missing bucket, or a relative file path.
    """
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise InvalidInput(f"source uri {uri!r} names no bucket", pointer="/source/uri")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return {"uri": uri, "bucket": parts.netloc, "prefix": prefix}
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidInput(
                f"source uri {uri!r} must be file:///absolute/dir", pointer="/source/uri"
            )
        path = posixpath.normpath(unquote(parts.path))
        prefix = path.strip("/") + "/" if path != "/" else ""
        return {"uri": f"file://{path}", "bucket": FILE_BUCKET, "prefix": prefix}
    raise InvalidInput(
        f"source uri {uri!r}: scheme must be s3:// or file://", pointer="/source/uri"
    )


def run_id_from(event: dict[str, Any]) -> str:
    """The run id: ``run_id``, else the execution name in ``execution_arn``, else a uuid.

    The id becomes part of work-store keys, so characters other than letters, digits, ``.``,
    ``_`` and ``-`` are replaced with ``-`` (at most 80 characters).
    """
    raw = str(event.get("run_id") or "")
    arn = str(event.get("execution_arn") or "")
    if not raw and arn.count(":") >= 7:
        raw = arn.rsplit(":", 1)[-1]
    safe = _UNSAFE_ID.sub("-", raw)[:80].lstrip("._-")
    return safe or uuid.uuid4().hex


def plan_ingestion(event: dict[str, Any]) -> dict[str, Any]:
    """Plan a run: normalise the source and fill in option defaults.

    Raises:
        InvalidInput: Bad source URI or an unknown PII mode.
    """
    options = {**DEFAULT_OPTIONS, **(event.get("options") or {})}
    if options["pii"] not in ("detect", "redact"):
        raise InvalidInput(
            f"options.pii must be 'detect' or 'redact', got {options['pii']!r}",
            pointer="/options/pii",
        )
    return {
        "run_id": run_id_from(event),
        "source": parse_source_uri(event["source"]["uri"]),
        "options": options,
    }


def read_original(doc: dict[str, Any], adapters: Adapters) -> bytes:
    """The document's bytes: ``artifacts.original`` in the work store, else the source object.

    Raises:
        SourceAccessDenied: The object vanished, is unreadable or lies outside its root.
    """
    original = (doc.get("artifacts") or {}).get("original")
    bucket, key = (
        (adapters.work_bucket, original) if original else (doc["source"]["bucket"], doc["key"])
    )
    try:
        return adapters.objects.get_object(bucket, key)
    except NoSuchKey as exc:
        raise SourceAccessDenied(
            f"{bucket}/{key} vanished before it could be read", bucket=bucket, key=key
        ) from exc


def fetch_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Fetch a source object, fingerprint it and compare with the manifest.

    Returns:
        The doc with ``doc_id``, ``size``, ``sha256``, ``media_type`` and ``status``
        (``new``, ``changed`` or ``unchanged``).

    Raises:
        DocumentTooLarge: The object is over ``options.max_bytes`` (checked before reading).
        EmptyDocument: The object is empty or only whitespace.
        UnsupportedMediaType: The content is of a type kbflow cannot extract.
        SourceAccessDenied: Unreadable, vanished, or outside the source root.
    """
    bucket, key = doc["source"]["bucket"], doc["key"]
    limit = int(options_of(doc)["max_bytes"])
    try:
        size = int(adapters.objects.head_object(bucket, key)["ContentLength"])
    except NoSuchKey as exc:
        raise SourceAccessDenied(f"{bucket}/{key} does not exist", bucket=bucket, key=key) from exc
    if size > limit:
        raise DocumentTooLarge(f"{key} is {size} bytes (limit {limit})", size=size)
    data = read_original(doc, adapters)
    if not data.strip():
        raise EmptyDocument(f"{relative_key(doc)} is empty ({len(data)} bytes)", size=len(data))
    media_type = media.detect_media_type(data, PurePosixPath(key).name)
    doc_id = doc_id_for(bucket, key)
    sha = hashlib.sha256(data).hexdigest()
    entry = adapters.manifest.get(doc_id)
    if entry is None:
        status = "new"
    else:
        status = "unchanged" if entry.sha256 == sha and entry.status in KEPT_STATUSES else "changed"
    if status != "unchanged" and not media.is_supported(media_type):
        raise UnsupportedMediaType(
            f"{relative_key(doc)}: {media_type} is not a supported type", media_type=media_type
        )
    return {
        **doc,
        "doc_id": doc_id,
        "size": len(data),
        "sha256": sha,
        "media_type": media_type,
        "status": status,
        "artifacts": dict(doc.get("artifacts") or {}),
    }


def record_manifest(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Record an indexed doc in the manifest (idempotent). Returns the doc with ``recorded``."""
    adapters.manifest.put(
        ManifestEntry(
            doc_id=doc["doc_id"],
            sha256=doc["sha256"],
            key=doc["key"],
            source=source_id(doc["source"]),
            run_id=str(doc.get("run_id") or ""),
            status="indexed",
            chunks=int(doc.get("chunks") or 0),
            etag=doc.get("etag"),
            last_modified=doc.get("last_modified"),
        )
    )
    return {**doc, "recorded": True}


def failed_stage(doc: dict[str, Any]) -> str:
    """The stage a doc failed in: the first stage whose output the doc lacks."""
    done = {
        **(doc.get("artifacts") or {}),
        **{k: doc[k] for k in ("sha256", "pii", "indexed") if doc.get(k) is not None},
    }
    for field_name, stage in _STAGES:
        if field_name not in done:
            return stage
    return "record"


_LAMBDA_MESSAGE: Final = re.compile(r'^\{\s*"errorMessage"\s*:\s*"((?:[^"\\]|\\.)*)')


def lambda_cause(cause: str) -> str:
    """The human message inside a Lambda error cause (``{"errorMessage": ...}`` JSON), even when
    the JSON was truncated; other causes are returned unchanged."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        match = _LAMBDA_MESSAGE.match(cause)
        if match is None:
            return cause
        try:
            return str(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


def _error_of(doc: dict[str, Any]) -> tuple[str, str]:
    """``(error, cause)`` from a Catch's ``{"Error","Cause"}``; unwraps Lambda's JSON cause."""
    raw = doc.get("error") or {}
    if isinstance(raw, str):
        return raw, lambda_cause(str(doc.get("cause") or ""))
    return str(raw.get("Error") or "States.TaskFailed"), lambda_cause(str(raw.get("Cause") or ""))


def keep_original(doc: dict[str, Any], adapters: Adapters) -> str | None:
    """Copy a doc's original into the quarantine store.

    Returns:
        The quarantine key, or ``None`` when the original is unreadable, gone or outside its
        root (such originals are recorded, never copied).
    """
    source = doc.get("source") or {}
    if not source.get("bucket"):
        return None
    bucket, key = source["bucket"], doc["key"]
    doc_id = doc.get("doc_id") or doc_id_for(bucket, key)
    kept = (
        f"{adapters.quarantine_prefix}{doc.get('run_id') or 'adhoc'}/{doc_id}/"
        f"{PurePosixPath(key).name or 'original'}"
    )
    try:
        adapters.objects.copy_object(bucket, key, adapters.quarantine_bucket, kept)
    except (TaskError, NoSuchKey):
        return None
    return kept


def quarantine_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Set a failed doc aside: keep a copy of the original and record error, cause and stage.

    Returns:
        ``{"key","doc_id","status":"quarantined","error","cause","stage","original"}``.
    """
    bucket, key = doc["source"]["bucket"], doc["key"]
    doc_id = doc.get("doc_id") or doc_id_for(bucket, key)
    error, cause = _error_of(doc)
    stage = failed_stage(doc)
    run_id = str(doc.get("run_id") or "")
    kept = keep_original({**doc, "doc_id": doc_id}, adapters)
    adapters.quarantine.put(
        QuarantineRecord(
            run_id=run_id,
            doc_id=doc_id,
            key=key,
            source=source_id(doc["source"]),
            error=error,
            cause=cause[:2000],
            stage=stage,
            original=kept,
        )
    )
    return {
        "key": key,
        "doc_id": doc_id,
        "status": "quarantined",
        "error": error,
        "cause": cause[:2000],
        "stage": stage,
        "original": kept,
    }
