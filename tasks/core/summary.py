"""Summarise an ingestion run and remove documents that vanished from the source.

The Distributed Map's results arrive either inline (a list of per-document outputs) or through
its ``ResultWriter`` (``{"Bucket","Key"}`` of a ``manifest.json`` listing result files of child
executions, each a JSON array of ``{"Status","Input","Output",...}`` entries). Both are read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from kbflow.tasks.core.errors import InvalidInput
from kbflow.tasks.core.ingest import doc_id_for, lambda_cause, options_of, source_id

if TYPE_CHECKING:
    from kbflow.tasks.adapters.config import Adapters
    from kbflow.tasks.adapters.objectstore import ObjectStore

__all__ = ["LIST_LIMIT", "RunTally", "iter_docs", "load_results", "summarise_ingestion"]

LIST_LIMIT: Final = 1000
"""Most entries per list in the response (Step Functions payloads stop at 256 KiB); the full
summary is written to the work store at ``summary_key``."""


def _writer_location(results: Any) -> tuple[str, str] | None:
    if not isinstance(results, dict):
        return None
    details = results.get("ResultWriterDetails", results)
    if isinstance(details, dict) and "Bucket" in details and "Key" in details:
        return str(details["Bucket"]), str(details["Key"])
    return None


def load_results(results: Any, objects: ObjectStore) -> list[Any]:
    """The Map's per-item outputs, whether inline or written by ``ResultWriter``.

    Failed child executions are returned as ``{"failed": True, "Error", "Cause", "Input"}``.

    Raises:
        InvalidInput: ``results`` is neither a list nor a ResultWriter location.
    """
    if isinstance(results, list):
        return results
    location = _writer_location(results)
    if location is None:
        raise InvalidInput(
            "results must be the Map output list or its ResultWriterDetails", pointer="/results"
        )
    bucket, key = location
    manifest = json.loads(objects.get_object(bucket, key))
    out: list[Any] = []
    for status, files in (manifest.get("ResultFiles") or {}).items():
        for entry_file in files:
            for entry in json.loads(objects.get_object(bucket, entry_file["Key"])):
                out.append(_writer_entry(status, entry))
    return out


def _writer_entry(status: str, entry: dict[str, Any]) -> Any:
    if status == "SUCCEEDED" and entry.get("Output") is not None:
        output = entry["Output"]
        return json.loads(output) if isinstance(output, str) else output
    raw_input = entry.get("Input")
    try:
        parsed_input = json.loads(raw_input) if isinstance(raw_input, str) else raw_input
    except ValueError:
        parsed_input = None
    return {
        "failed": True,
        "Error": entry.get("Error", "States.TaskFailed"),
        "Cause": entry.get("Cause", ""),
        "Input": parsed_input,
    }


def iter_docs(value: Any) -> Iterator[dict[str, Any]]:
    """Flatten Map outputs (lists, batches, ``{"doc": ...}`` wrappers) into per-doc dicts."""
    if isinstance(value, list):
        for item in value:
            yield from iter_docs(item)
    elif isinstance(value, dict):
        if value.get("failed") or "key" in value:
            yield value
        else:
            for wrapper in ("doc", "Payload", "Items", "results", "Output"):
                if wrapper in value:
                    yield from iter_docs(value[wrapper])
                    return


@dataclass
class RunTally:
    """Counts of one run, filled by :meth:`add`."""

    documents: int = 0
    indexed: int = 0
    unchanged: int = 0
    quarantined: list[dict[str, str]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    complete: bool = True
    """False when a failed batch hid which documents it held (vanished removal is skipped)."""

    def add(self, doc: dict[str, Any], source: dict[str, Any]) -> None:
        """Count one per-document output."""
        if doc.get("failed"):
            self._add_failed_batch(doc, source)
            return
        self.documents += 1
        self.seen.add(str(doc.get("doc_id") or doc_id_for(source["bucket"], doc["key"])))
        status = doc.get("status")
        if status == "quarantined":
            self.quarantined.append(
                {
                    "key": _relative(doc["key"], source),
                    "error": str(doc.get("error", "")),
                    "cause": lambda_cause(str(doc.get("cause", ""))),
                }
            )
        elif status == "unchanged":
            self.unchanged += 1
        else:
            self.indexed += 1
        review = doc.get("review") or {}
        if review.get("required") and status != "quarantined":
            reasons = list(review.get("reasons") or [])
            self.review.append(
                {
                    "item": {
                        "id": doc.get("doc_id"),
                        "key": doc["key"],
                        "run_id": doc.get("run_id"),
                        "source": source,
                        "sha256": doc.get("sha256"),
                        "reasons": reasons,
                    },
                    "reason": ",".join(reasons) or "flagged",
                }
            )

    def _add_failed_batch(self, failure: dict[str, Any], source: dict[str, Any]) -> None:
        items = list(_items_of(failure.get("Input")))
        if not items:
            self.complete = False
        for item in items:
            self.documents += 1
            key = str(item.get("Key") or item.get("key"))
            self.seen.add(doc_id_for(source["bucket"], key))
            self.quarantined.append(
                {
                    "key": _relative(key, source),
                    "error": str(failure.get("Error")),
                    "cause": lambda_cause(str(failure.get("Cause")))[:2000],
                }
            )


def _items_of(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _items_of(item)
    elif isinstance(value, dict):
        if "Key" in value or "key" in value:
            yield value
        elif "Items" in value:
            yield from _items_of(value["Items"])


def _relative(key: str, source: dict[str, Any]) -> str:
    prefix = str(source.get("prefix", ""))
    return key[len(prefix) :] if source.get("bucket") == "file" and key.startswith(prefix) else key


def summarise_ingestion(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Count the run's outcomes and remove documents no longer in the source.

    A manifest entry of the same source not seen in this run has vanished: it is deleted from
    the index and the manifest. Removal is skipped if a failed batch hid its items, or when
    ``options.remove_vanished`` is false.

    Returns:
        ``{"run_id","source","documents","indexed","unchanged","quarantined","removed",
        "review","index","counts","truncated","summary_key"}``; the lists hold at most
        :data:`LIST_LIMIT` entries (``counts`` has their full lengths, ``summary_key`` the full
        summary in the work store).
    """
    source = event["source"]
    tally = RunTally()
    for doc in iter_docs(load_results(event["results"], adapters.objects)):
        tally.add(doc, source)
    removed: list[str] = []
    if tally.complete and options_of(event)["remove_vanished"]:
        for entry in adapters.manifest.list_for_source(source_id(source)):
            if entry.doc_id not in tally.seen:
                adapters.index.delete(entry.doc_id)
                adapters.manifest.delete(entry.doc_id)
                removed.append(_relative(entry.key, source))
    full = {
        "run_id": event.get("run_id"),
        "source": source,
        "documents": tally.documents,
        "indexed": tally.indexed,
        "unchanged": tally.unchanged,
        "quarantined": tally.quarantined,
        "removed": sorted(removed),
        "review": tally.review,
        "index": dict(adapters.index.stats()),
    }
    key = f"runs/{event.get('run_id') or 'adhoc'}/summary.json"
    adapters.objects.put_object(adapters.work_bucket, key, json.dumps(full).encode("utf-8"))
    lists = ("quarantined", "removed", "review")
    return {
        **full,
        **{name: full[name][:LIST_LIMIT] for name in lists},
        "counts": {name: len(full[name]) for name in lists},
        "truncated": any(len(full[name]) > LIST_LIMIT for name in lists),
        "summary_key": key,
    }
