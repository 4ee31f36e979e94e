"""Distributed Map: ItemReader, ItemBatcher, child executions, Map Run records, ResultWriter.

As on AWS, each item (or batch) runs as a child execution with its own history; the parent
history only shows ``MapStateStarted``, ``MapRunStarted`` and ``MapRunSucceeded`` /
``MapRunFailed``. Items come from the state input or from an ``ItemReader`` over the engine's
ObjectStore (``s3:listObjectsV2``; ``s3:getObject`` with JSON, JSONL, CSV or MANIFEST input);
results can be written by a ``ResultWriter`` (``s3:putObject``) as ``manifest.json`` plus
``SUCCEEDED_0.json`` / ``FAILED_0.json`` like AWS.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from kbflow.errors import KbflowError, StatesError

from .asl import model as m
from .asl.jsonpath import compile_path
from .asl.model import Unset
from .asl.templates import compile_template
from .concurrent import MapSettings, item_input, iterate
from .dataflow import render_jsonata, resolve_path
from .interpreter import Frame, Interpreter, mark_state_failed
from .plan import StatePlan

if TYPE_CHECKING:
    from .execution import Run

__all__ = ["MapRun", "read_items", "run_map_run"]

JSON = Any
DEFAULT_CONCURRENCY: Final = 1000
_THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"


@dataclass(slots=True)
class MapRun:
    """A Map Run record (``DescribeMapRun``)."""

    map_run_arn: str
    execution_arn: str
    start_date: datetime
    max_concurrency: int
    tolerated_failure_count: int
    tolerated_failure_percentage: float
    status: str = "RUNNING"
    stop_date: datetime | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total",
         "resultsWritten"), 0))
    children: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, JSON]:
        """DescribeMapRun's response."""
        out: dict[str, JSON] = {
            "mapRunArn": self.map_run_arn, "executionArn": self.execution_arn,
            "status": self.status, "startDate": self.start_date,
            "maxConcurrency": self.max_concurrency,
            "toleratedFailureCount": self.tolerated_failure_count,
            "toleratedFailurePercentage": self.tolerated_failure_percentage,
            "itemCounts": dict(self.counts), "executionCounts": dict(self.counts)}
        if self.stop_date is not None:
            out["stopDate"] = self.stop_date
        return out


async def run_map_run(it: Interpreter, frame: Frame, plan: StatePlan, effective: JSON,
                      items: list[JSON], settings: MapSettings, ctx: dict[str, JSON]) -> JSON:
    """Run a distributed Map state's Map Run and return the state's raw result."""
    state = plan.state
    assert isinstance(state, m.Map)
    run = frame.run
    history = run.history
    if not isinstance(state.item_reader, Unset):
        items = _read(plan, state.item_reader, effective, ctx, frame)
    inputs = [item_input(plan, effective, item, i, ctx, frame) for i, item in enumerate(items)]
    if not isinstance(state.item_batcher, Unset):
        inputs = batch_items(plan, state.item_batcher, inputs, effective, ctx, frame)
    frame.prev = history.add("MapStateStarted", frame.prev, {"length": len(inputs)})
    map_run = _new_map_run(run, plan, settings)
    run.host.register_map_run(map_run)
    frame.prev = history.add("MapRunStarted", frame.prev, {"mapRunArn": map_run.map_run_arn})
    map_run.counts["total"] = map_run.counts["pending"] = len(inputs)
    children: list[Run] = []

    async def run_one(index: int, value: JSON) -> JSON:
        child = run.host.start_map_child(run, plan, value, map_run)
        children.append(child)
        map_run.counts["pending"] -= 1
        map_run.counts["running"] += 1
        await child.done.wait()
        map_run.counts["running"] -= 1
        status = child.record.status
        map_run.counts[_COUNT_KEYS.get(status, "failed")] += 1
        if status != "SUCCEEDED":
            raise StatesError(child.record.error or "States.TaskFailed", child.record.cause)
        return json.loads(child.record.output or "null")

    limit = settings.max_concurrency or DEFAULT_CONCURRENCY
    try:
        results, _ = await iterate(inputs, settings, run_one, limit)
    except StatesError as err:
        _close(map_run, run, "FAILED")
        frame.prev = history.add("MapRunFailed", frame.prev, {
            "error": _THRESHOLD, "cause": "The specified tolerated failure threshold was exceeded"})
        raise mark_state_failed(StatesError(
            _THRESHOLD, "The specified tolerated failure threshold was exceeded"), plan) from err
    output = results
    if not isinstance(state.result_writer, Unset):
        output = _write_results(plan, state.result_writer, map_run, children, effective, ctx, frame)
    _close(map_run, run, "SUCCEEDED")
    frame.prev = history.add("MapRunSucceeded", frame.prev)
    frame.prev = history.add("MapStateSucceeded", frame.prev)
    return output


_COUNT_KEYS: Final = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut",
                      "ABORTED": "aborted"}


def _new_map_run(run: Run, plan: StatePlan, settings: MapSettings) -> MapRun:
    state = plan.state
    assert isinstance(state, m.Map)
    label = state.label if isinstance(state.label, str) else plan.name
    parts = run.record.execution_arn.split(":")
    sm_name, exec_name = parts[6], parts[7]
    arn = ":".join(parts[:5]) + f":mapRun:{sm_name}/{label}:{uuid.uuid4()}"
    del exec_name
    return MapRun(arn, run.record.execution_arn, run.clock.now(),
                  settings.max_concurrency, settings.tolerated_count or 0,
                  settings.tolerated_percentage or 0.0)


def _close(map_run: MapRun, run: Run, status: str) -> None:
    map_run.status = status
    map_run.stop_date = run.clock.now()


# ---------------------------------------------------------------------------- ItemReader


def _parameters(plan: StatePlan, params: Any, args: Any, effective: JSON,
                ctx: dict[str, JSON], frame: Frame, field: str) -> dict[str, JSON]:
    if plan.jsonata and not isinstance(args, Unset):
        value = render_jsonata(args, {"input": effective, "context": ctx}, frame.variables, field)
    elif not isinstance(params, Unset):
        value = compile_template(params).render(effective, ctx, frame.variables,
                                                field=f"{field}.Parameters")
    else:
        value = {}
    return value if isinstance(value, dict) else {}


def _read(plan: StatePlan, reader: m.ItemReader, effective: JSON, ctx: dict[str, JSON],
          frame: Frame) -> list[JSON]:
    params = _parameters(plan, reader.parameters, reader.arguments, effective, ctx, frame,
                         "ItemReader")
    config = reader.reader_config if not isinstance(reader.reader_config, Unset) else None
    store = frame.run.host.object_store
    try:
        if store is None:
            raise KbflowError("no ObjectStore is configured on this engine")
        items = read_items(store, reader.resource, params, config)
    except StatesError:
        raise
    except (KbflowError, ValueError, KeyError, UnicodeDecodeError, OSError) as exc:
        raise StatesError("States.ItemReaderFailed", str(exc)) from exc
    limit = _max_items(config, effective, ctx, frame)
    return items[:limit] if limit else items


def _max_items(config: m.ReaderConfig | None, effective: JSON, ctx: dict[str, JSON],
               frame: Frame) -> int | None:
    if config is None:
        return None
    if isinstance(config.max_items, int):
        return config.max_items or None
    if isinstance(config.max_items_path, str):
        value = resolve_path(compile_path(config.max_items_path), effective, ctx, frame.variables)
        return int(value) if isinstance(value, int) else None
    return None


def read_items(store: Any, resource: str, params: Mapping[str, JSON],
               config: m.ReaderConfig | None) -> list[JSON]:
    """Read a distributed Map's items through an ObjectStore, with S3 semantics.

    Args:
        store: the ObjectStore.
        resource: ``arn:aws:states:::s3:listObjectsV2`` or ``arn:aws:states:::s3:getObject``.
        params: the reader's Parameters (``Bucket``, ``Prefix`` or ``Key``).
        config: the ``ReaderConfig``.

    Returns:
        The items.
    """
    bucket = str(params.get("Bucket", ""))
    if resource.endswith("s3:listObjectsV2"):
        return _list_objects(store, bucket, str(params.get("Prefix", "")))
    if not resource.endswith("s3:getObject"):
        raise KbflowError(f"unsupported ItemReader resource {resource!r}")
    body = store.get_object(bucket, str(params.get("Key", "")))
    kind = "JSON"
    if config is not None and isinstance(config.input_type, str):
        kind = config.input_type
    return _decode(store, bucket, body, kind, config)


def _list_objects(store: Any, bucket: str, prefix: str) -> list[JSON]:
    items: list[JSON] = []
    token = None
    while True:
        page = store.list_objects_v2(bucket, prefix, token)
        for obj in page.get("Contents", []):
            modified = obj.get("LastModified")
            items.append({"Etag": obj.get("ETag"), "Key": obj["Key"],
                          "LastModified": int(modified.timestamp()) if isinstance(
                              modified, datetime) else modified,
                          "Size": obj.get("Size"), "StorageClass": obj.get("StorageClass",
                                                                            "STANDARD")})
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return items


def _decode(store: Any, bucket: str, body: bytes, kind: str,
            config: m.ReaderConfig | None) -> list[JSON]:
    text = body.decode("utf-8-sig")
    if kind == "JSON":
        value = json.loads(text)
        if not isinstance(value, list):
            raise KbflowError("the JSON object read by the ItemReader is not an array")
        return value
    if kind == "JSONL":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if kind == "CSV":
        return _csv_rows(text, config)
    if kind == "MANIFEST":
        return _manifest_rows(store, json.loads(text))
    raise KbflowError(f"unsupported InputType {kind!r}")


def _csv_rows(text: str, config: m.ReaderConfig | None) -> list[JSON]:
    delimiter = ","
    if config is not None and isinstance(config.csv_delimiter, str):
        delimiter = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ",
                     "TAB": "\t"}.get(config.csv_delimiter, ",")
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if config is not None and config.csv_header_location == "GIVEN":
        headers = list(config.csv_headers) if not isinstance(config.csv_headers, Unset) else []
    else:
        headers, rows = (rows[0], rows[1:]) if rows else ([], [])
    return [dict(zip(headers, row, strict=False)) for row in rows if row]


def _manifest_rows(store: Any, manifest: Mapping[str, JSON]) -> list[JSON]:
    # S3 Inventory manifest.json: "files" list CSV(.gz) objects with "fileSchema" columns.
    bucket = str(manifest.get("destinationBucket", "")).split(":::")[-1]
    columns = [c.strip() for c in str(manifest.get("fileSchema", "")).split(",") if c.strip()]
    items: list[JSON] = []
    for entry in manifest.get("files", []):
        raw = store.get_object(bucket, entry["key"])
        if entry["key"].endswith(".gz"):
            raw = gzip.decompress(raw)
        for row in csv.reader(io.StringIO(raw.decode())):
            items.append(dict(zip(columns, row, strict=False)))
    return items


# ---------------------------------------------------------------------------- ItemBatcher


def batch_items(plan: StatePlan, batcher: m.ItemBatcher, items: list[JSON], effective: JSON,
                ctx: dict[str, JSON], frame: Frame) -> list[JSON]:
    """Group items into ``{"BatchInput": {...}, "Items": [...]}`` batches."""
    max_items = _batch_limit(batcher.max_items_per_batch, batcher.max_items_per_batch_path,
                             effective, ctx, frame)
    max_bytes = _batch_limit(batcher.max_input_bytes_per_batch,
                             batcher.max_input_bytes_per_batch_path, effective, ctx, frame)
    batch_input: JSON = None
    if not isinstance(batcher.batch_input, Unset):
        if plan.jsonata:
            batch_input = render_jsonata(batcher.batch_input, {"input": effective, "context": ctx},
                                         frame.variables, "ItemBatcher/BatchInput")
        else:
            batch_input = compile_template(batcher.batch_input).render(
                effective, ctx, frame.variables, field="BatchInput")
    batches: list[JSON] = []
    current: list[JSON] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item).encode())
        full = (max_items and len(current) >= max_items) or (
            max_bytes and current and size + item_size > max_bytes)
        if full:
            batches.append(_batch(batch_input, current))
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append(_batch(batch_input, current))
    return batches


def _batch(batch_input: JSON, items: list[JSON]) -> dict[str, JSON]:
    # AWS: each child execution gets {"BatchInput": {...}, "Items": [...]}.
    out: dict[str, JSON] = {"Items": items}
    if batch_input is not None:
        out["BatchInput"] = batch_input
    return out


def _batch_limit(value: Any, path: Any, effective: JSON, ctx: dict[str, JSON],
                 frame: Frame) -> int:
    if isinstance(value, int):
        return value
    if isinstance(path, str):
        found = resolve_path(compile_path(path), effective, ctx, frame.variables)
        return int(found) if isinstance(found, int) else 0
    return 0


# ---------------------------------------------------------------------------- ResultWriter


def _write_results(plan: StatePlan, writer: m.ResultWriter, map_run: MapRun,
                   children: list[Run], effective: JSON, ctx: dict[str, JSON],
                   frame: Frame) -> JSON:
    params = _parameters(plan, writer.parameters, writer.arguments, effective, ctx, frame,
                         "ResultWriter")
    bucket, prefix = str(params.get("Bucket", "")), str(params.get("Prefix", ""))
    store = frame.run.host.object_store
    run_id = map_run.map_run_arn.rsplit(":", 1)[-1]
    base = f"{prefix.rstrip('/')}/{run_id}" if prefix else run_id
    by_status: dict[str, list[JSON]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in children:
        status = "SUCCEEDED" if child.record.status == "SUCCEEDED" else "FAILED"
        by_status[status].append(_child_result(child))
    files: dict[str, list[JSON]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    try:
        if store is None:
            raise KbflowError("no ObjectStore is configured on this engine")
        for status, entries in by_status.items():
            if not entries:
                continue
            key = f"{base}/{status}_0.json"
            body = json.dumps(entries).encode()
            store.put_object(bucket, key, body)
            files[status].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run.map_run_arn,
                    "ResultFiles": files}
        store.put_object(bucket, f"{base}/manifest.json", json.dumps(manifest).encode())
    except (KbflowError, OSError) as exc:
        raise StatesError("States.ResultWriterFailed", str(exc)) from exc
    map_run.counts["resultsWritten"] = len(children)
    return {"MapRunArn": map_run.map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}


def _child_result(child: Run) -> dict[str, JSON]:
    rec = child.record
    out: dict[str, JSON] = {
        "ExecutionArn": rec.execution_arn, "Input": rec.input,
        "InputDetails": {"Included": True}, "Name": rec.name, "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE", "StartDate": rec.start_date.isoformat(),
        "StateMachineArn": rec.state_machine_arn, "Status": rec.status,
        "StopDate": rec.stop_date.isoformat() if rec.stop_date else None}
    if rec.output is not None:
        out["Output"] = rec.output
        out["OutputDetails"] = {"Included": True}
    if rec.error is not None:
        out["Error"] = rec.error
    if rec.cause is not None:
        out["Cause"] = rec.cause
    return out
