"""The main job's ingestion run on a :class:`~kbflow._host.Host`: start or resume, track, report.

:func:`run_ingestion` starts the ingestion flow over a local folder (or resumes the interrupted
execution of the same folder left in a durable store), reports per-document progress from the
history events of the Distributed Map's child executions, and builds the :class:`IngestReport`
that ``kbflow ingest --json`` prints.

Cost estimate (``estimated_cost_usd``), us-east-1 list prices, free tier ignored:

- **standard**: $0.025 per 1,000 state transitions; a transition is every state entered plus
  every retry attempt, counted over the parent execution and every Distributed Map child
  execution (each child is a Standard execution);
- **express**: $1.00 per million requests (one per execution, children included) plus
  $0.00001667 per GB-second of each execution's duration in 100 ms increments at 64 MB (the
  smallest billed memory: payloads pass references, so they stay far below it).

Lambda, S3 and other services the tasks call are not included; nor are human-review
executions, which wait for people, not for the run.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from kbflow._host import Host
from kbflow.errors import ValidationError

__all__ = [
    "COST_ASSUMPTIONS",
    "DocumentProgress",
    "IngestReport",
    "count_transitions",
    "estimate_cost",
    "run_ingestion",
    "source_listing",
]

STANDARD_PER_TRANSITION: Final = 0.025 / 1000
EXPRESS_PER_REQUEST: Final = 1.00 / 1_000_000
EXPRESS_PER_GB_SECOND: Final = 0.00001667
EXPRESS_MEMORY_GB: Final = 64 / 1024
COST_ASSUMPTIONS: Final = (
    "us-east-1 list prices, free tier ignored",
    "standard: $0.025 per 1,000 state transitions (states entered + retry attempts), "
    "parent and Distributed Map child executions",
    "express: $1.00 per million requests (one per execution) + $0.00001667 per GB-second, "
    "100 ms increments, 64 MB billed memory",
    "Lambda, S3 and other service charges, and human-review executions, not included",
)
OUTCOME_STATES: Final[Mapping[str, str]] = {
    "Document Indexed": "indexed",
    "Document Quarantined": "quarantined",
    "Document Unchanged": "unchanged",
}
"""The per-document chain's last states (ingestion flow) and the outcome each means."""
_SCHEDULED: Final = ("TaskScheduled", "LambdaFunctionScheduled")


def source_listing(host: Host, source: Path) -> list[dict[str, Any]]:
    """The objects the Distributed Map's ItemReader will list under a local folder."""
    from kbflow.tasks.adapters.objectstore import FILE_BUCKET, iter_objects

    prefix = str(source.resolve()).strip("/") + "/"
    return list(iter_objects(host.adapters.objects, FILE_BUCKET, prefix))


class DocumentProgress:
    """Per-document outcomes, counted from history events as the run goes (thread-safe).

    Args:
        total: documents expected (the source listing).
        on_change: called (with this object) after each counted document.
    """

    def __init__(
        self, total: int, on_change: Callable[[DocumentProgress], None] | None = None
    ) -> None:
        self.total = total
        self.counts: dict[str, int] = dict.fromkeys(OUTCOME_STATES.values(), 0)
        self.started = time.monotonic()
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        """Documents finished so far (any outcome)."""
        return sum(self.counts.values())

    def __call__(self, execution_arn: str, event: Mapping[str, Any]) -> None:
        """A :class:`~kbflow._host.HistoryListener`: count documents leaving the chain."""
        if event.get("type") != "PassStateExited":
            return
        name = (event.get("stateExitedEventDetails") or {}).get("name")
        outcome = OUTCOME_STATES.get(str(name))
        if outcome is None:
            return
        with self._lock:
            self.counts[outcome] += 1
        if self._on_change is not None:
            self._on_change(self)


@dataclass(slots=True)
class IngestReport:
    """What ``kbflow ingest --json`` prints (one JSON object)."""

    executionArn: str  # noqa: N815 - the JSON field name
    status: str
    documents: int = 0
    indexed: int = 0
    unchanged: int = 0
    quarantined: list[dict[str, str]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    transitions: int = 0
    estimated_cost_usd: dict[str, float] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    review: int = 0
    error: str | None = None
    cause: str | None = None
    resumed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object (``error``/``cause`` only when the run failed)."""
        out = asdict(self)
        for key in ("error", "cause"):
            if out[key] is None:
                del out[key]
        return out


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _seconds(start: Any, stop: Any) -> float:
    begin, end = _when(start), _when(stop)
    if begin is None or end is None:
        return 0.0
    return max(0.0, (end - begin).total_seconds())


def count_transitions(events: Sequence[Mapping[str, Any]]) -> int:
    """Billed state transitions of one history: states entered plus retry attempts."""
    entered = sum(1 for e in events if str(e.get("type", "")).endswith("StateEntered"))
    tasks = sum(1 for e in events if e.get("type") == "TaskStateEntered")
    attempts = sum(1 for e in events if e.get("type") in _SCHEDULED)
    return entered + max(0, attempts - tasks)


def estimate_cost(transitions: int, durations: Sequence[float]) -> dict[str, float]:
    """Standard and Express prices (see the module docstring) for a run.

    Args:
        transitions: state transitions over every execution of the run.
        durations: each execution's duration in seconds.

    Returns:
        ``{"standard": usd, "express": usd}``, rounded to 12 decimals.
    """
    express = 0.0
    for seconds in durations:
        billed_ms = max(100, math.ceil(seconds * 1000 / 100) * 100)
        express += EXPRESS_PER_REQUEST + EXPRESS_PER_GB_SECOND * EXPRESS_MEMORY_GB * billed_ms / 1e3
    return {
        "standard": round(transitions * STANDARD_PER_TRANSITION, 12),
        "express": round(express, 12),
    }


def _run_executions(host: Host, arn: str) -> list[str]:
    """The run's executions: the parent and its Distributed Map children."""
    out = [arn]
    for map_run in host.engine.list_map_runs(arn):
        out.extend(host.engine.list_map_run_executions(map_run["mapRunArn"]))
    return out


def _transitions_and_durations(host: Host, arn: str) -> tuple[int, list[float]]:
    total = 0
    durations: list[float] = []
    for execution in _run_executions(host, arn):
        total += count_transitions(host.engine.history(execution))
        d = host.engine.describe_execution(execution)
        durations.append(_seconds(d.get("StartDate"), d.get("StopDate")))
    return total, durations


def _summary(host: Host, output: Mapping[str, Any]) -> dict[str, Any]:
    """The full run summary SummariseIngestion wrote to the work store."""
    run_id = output.get("run_id")
    if not run_id:
        return {}
    key = f"runs/{run_id}/summary.json"
    try:
        found = json.loads(host.adapters.objects.get_object(host.adapters.work_bucket, key))
    except Exception:  # noqa: BLE001 - a missing summary leaves the counts from the output
        return {}
    return found if isinstance(found, dict) else {}


def build_report(host: Host, arn: str, *, resumed: bool = False) -> IngestReport:
    """The :class:`IngestReport` of a finished ingestion execution."""
    d = host.engine.describe_execution(arn)
    report = IngestReport(executionArn=arn, status=str(d.get("Status")), resumed=resumed)
    report.duration_seconds = round(_seconds(d.get("StartDate"), d.get("StopDate")), 3)
    if report.status != "SUCCEEDED":
        report.error, report.cause = d.get("Error"), d.get("Cause")
    output = json.loads(d.get("Output") or "{}")
    counts = output.get("counts") or {}
    summary = _summary(host, output)
    report.documents = int(summary.get("documents", counts.get("documents", 0)))
    report.indexed = int(summary.get("indexed", counts.get("indexed", 0)))
    report.unchanged = int(summary.get("unchanged", counts.get("unchanged", 0)))
    report.quarantined = [
        {"key": str(q.get("key")), "error": str(q.get("error")), "cause": str(q.get("cause"))}
        for q in summary.get("quarantined", [])
    ]
    report.removed = list(summary.get("removed", []))
    report.review = len(summary.get("review", [])) or int(counts.get("flagged_for_review", 0))
    report.index = {k: int(v) for k, v in host.adapters.index.stats().items()}
    report.transitions, durations = _transitions_and_durations(host, arn)
    report.estimated_cost_usd = estimate_cost(report.transitions, durations)
    return report


def flow_input(source: Path, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ingestion flow's input for a local folder."""
    out: dict[str, Any] = {"source": {"uri": source.resolve().as_uri()}}
    if options:
        out["options"] = dict(options)
    return out


def _interrupted(host: Host, payload: Mapping[str, Any]) -> Any:
    """The interrupted (RUNNING, owner gone) ingestion of the same input in the durable store."""
    store = getattr(host.engine, "store", None)
    if store is None:
        return None
    wanted = json.dumps(payload, sort_keys=True)
    for record in store.executions(status="RUNNING"):
        if record.state_machine_arn != host.workflows["ingestion"]:
            continue
        try:
            same = json.dumps(json.loads(record.input), sort_keys=True) == wanted
        except ValueError:
            same = False
        if same:
            return record
    return None


def _start_or_resume(host: Host, source: Path, payload: Mapping[str, Any]) -> tuple[str, bool]:
    """Start a run, or resume the interrupted one (same name and input resume it)."""
    sm = host.workflows["ingestion"]
    record = _interrupted(host, payload)
    if record is not None:
        return str(host.engine.start_execution(sm, record.input, name=record.name)), True
    return str(host.engine.start_execution(sm, dict(payload), name=execution_name(source))), False


def execution_name(source: Path) -> str:
    """A unique, readable execution name for one run over ``source``."""
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]
    return f"ingest-{digest}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def run_ingestion(
    host: Host,
    source: Path,
    *,
    options: Mapping[str, Any] | None = None,
    progress: DocumentProgress | None = None,
    timeout: float | None = None,
) -> IngestReport:
    """Run (or resume) the ingestion flow over ``source`` and report it.

    Args:
        host: the host (its file roots must include ``source``).
        source: the folder to ingest.
        options: ingestion options (``max_bytes``, ``pii``, ...; see PlanIngestion).
        progress: counts documents as they finish (subscribed for the run).
        timeout: seconds to wait for the execution (``None``: no limit).

    Returns:
        The report.

    Raises:
        ValidationError: ``source`` is not a folder.
    """
    if not source.is_dir():
        raise ValidationError(f"{source} is not a folder", pointer="/source/uri")
    payload = flow_input(source, options)
    unsubscribe = host.subscribe(progress) if progress is not None else None
    try:
        arn, resumed = _start_or_resume(host, source, payload)
        host.engine.wait(arn, timeout=timeout)
    finally:
        if unsubscribe is not None:
            unsubscribe()
    return build_report(host, arn, resumed=resumed)
