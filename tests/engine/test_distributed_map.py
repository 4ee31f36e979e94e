"""Distributed Map over the in-memory ObjectStore: readers, batching, results, Map Runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import event_types, run_machine
from kbflow.runtime.clock import VirtualClock
from kbflow.runtime.engine import Engine
from kbflow.runtime.objectstore import InMemoryObjectStore

PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
             "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture
def store() -> InMemoryObjectStore:
    return InMemoryObjectStore(page_size=2)


@pytest.fixture
def dengine(clock: VirtualClock, store: InMemoryObjectStore) -> Iterator[Engine]:
    with Engine(clock=clock, object_store=store) as eng:
        yield eng


def _map(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": PROCESSOR,
                                             "End": True, **fields}}}


def test_children_run_as_executions_with_their_own_history(dengine: Engine) -> None:
    described, history = run_machine(dengine, _map(MaxConcurrency=2), [1, 2, 3])
    assert json.loads(described["Output"]) == [1, 2, 3]
    assert event_types(history) == [
        "ExecutionStarted", "MapStateEntered:M", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited:M", "ExecutionSucceeded"]
    map_run = history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert ":mapRun:m/M:" in map_run
    run = dengine.describe_map_run(map_run)
    assert run["status"] == "SUCCEEDED" and run["itemCounts"]["succeeded"] == 3
    children = dengine.list_map_run_executions(map_run)
    assert len(children) == 3
    child_history = dengine.history(children[0])
    assert event_types(child_history) == ["ExecutionStarted", "PassStateEntered:P",
                                          "PassStateExited:P", "ExecutionSucceeded"]


def test_list_objects_reader_with_pages(dengine: Engine, store: InMemoryObjectStore) -> None:
    for i in range(5):
        store.put_object("src", f"docs/{i}.txt", b"x" * i)
    store.put_object("src", "other/skip.txt", b"")
    described, _ = run_machine(dengine, _map(ItemReader={
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "src", "Prefix.$": "$.prefix"}},
        ItemSelector={"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"}),
        {"prefix": "docs/"})
    out = json.loads(described["Output"])
    assert out == [{"key": f"docs/{i}.txt", "size": i} for i in range(5)]


@pytest.mark.parametrize(("body", "config", "expected"), [
    (b'[{"a": 1}, {"a": 2}]', {"InputType": "JSON"}, [{"a": 1}, {"a": 2}]),
    (b'{"a": 1}\n{"a": 2}\n', {"InputType": "JSONL"}, [{"a": 1}, {"a": 2}]),
    (b"id,name\n1,x\n2,y\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
     [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}]),
    (b"1,x\n2,y\n", {"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                     "CSVHeaders": ["id", "name"], "MaxItems": 1}, [{"id": "1", "name": "x"}]),
])
def test_get_object_readers(dengine: Engine, store: InMemoryObjectStore, body: bytes,
                            config: dict[str, Any], expected: list[Any]) -> None:
    store.put_object("b", "items", body)
    described, _ = run_machine(dengine, _map(ItemReader={
        "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
        "Parameters": {"Bucket": "b", "Key": "items"}}))
    assert json.loads(described["Output"]) == expected


def test_reader_failure(dengine: Engine) -> None:
    described, _ = run_machine(dengine, _map(ItemReader={
        "Resource": "arn:aws:states:::s3:getObject",
        "Parameters": {"Bucket": "b", "Key": "missing"}}))
    assert described["Error"] == "States.ItemReaderFailed"


def test_batcher_and_result_writer(dengine: Engine, store: InMemoryObjectStore) -> None:
    described, _ = run_machine(dengine, _map(
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
        ItemsPath="$.items",
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "out", "Prefix": "results"}}),
        {"run": "r1", "items": [1, 2, 3, 4, 5]})
    out = json.loads(described["Output"])
    key = out["ResultWriterDetails"]["Key"]
    assert out["ResultWriterDetails"]["Bucket"] == "out" and key.endswith("/manifest.json")
    manifest = json.loads(store.get_object("out", key))
    assert manifest["MapRunArn"] == out["MapRunArn"]
    [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads(store.get_object("out", succeeded["Key"]))
    outputs = sorted((json.loads(r["Output"]) for r in results), key=lambda b: b["Items"])
    batch = {"run": "r1"}
    assert outputs == [{"BatchInput": batch, "Items": [1, 2]},
                       {"BatchInput": batch, "Items": [3, 4]}, {"BatchInput": batch, "Items": [5]}]


def test_tolerated_failures(dengine: Engine) -> None:
    processor = dict(PROCESSOR, States={"P": {"Type": "Choice", "Choices": [
        {"Variable": "$", "NumericLessThan": 2, "Next": "Bad"}], "Default": "Ok"},
        "Bad": {"Type": "Fail", "Error": "Item.Bad"}, "Ok": {"Type": "Succeed"}})
    ok, _ = run_machine(dengine, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": processor, "ToleratedFailureCount": 2, "End": True}}},
        [0, 1, 2, 3])
    assert ok["Status"] == "SUCCEEDED"
    failed, history = run_machine(dengine, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": processor, "ToleratedFailurePercentage": 25,
        "End": True}}}, [0, 1, 2, 3], machine_name="m2")
    assert failed["Error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapRunFailed" in event_types(history)


def test_no_object_store_configured(engine: Engine) -> None:
    described, _ = run_machine(engine, _map(ItemReader={
        "Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}))
    assert described["Error"] == "States.ItemReaderFailed"


def test_batches_by_bytes_and_manifest_reader(dengine: Engine,
                                              store: InMemoryObjectStore) -> None:
    import gzip

    store.put_object("inv", "data/part-0.csv.gz",
                     gzip.compress(b"inv,docs/a.txt,10\ninv,docs/b.txt,20\n"))
    store.put_object("inv", "data/part-1.csv", b"inv,docs/c.txt,30\n")
    store.put_object("inv", "manifest.json", json.dumps({
        "destinationBucket": "arn:aws:s3:::inv", "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "data/part-0.csv.gz"}, {"key": "data/part-1.csv"}]}).encode())
    described, _ = run_machine(dengine, _map(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "MANIFEST"},
                    "Parameters": {"Bucket": "inv", "Key": "manifest.json"}},
        ItemBatcher={"MaxInputBytesPerBatch": 90}))
    batches = json.loads(described["Output"])
    keys = [[item["Key"] for item in batch["Items"]] for batch in batches]
    assert sum(keys, []) == ["docs/a.txt", "docs/b.txt", "docs/c.txt"]
    assert all(len(json.dumps(b["Items"])) <= 100 for b in batches) and len(batches) >= 2


def test_jsonata_reader_arguments_and_express_children(dengine: Engine,
                                                       store: InMemoryObjectStore) -> None:
    store.put_object("b", "k.jsonl", b'{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                 "StartAt": "P", "States": {"P": {"Type": "Pass",
                                                  "Output": "{% $states.input.n * 10 %}",
                                                  "End": True}}}
    described, _ = run_machine(dengine, {"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": processor, "End": True,
              "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                             "ReaderConfig": {"InputType": "JSONL", "MaxItems": 2},
                             "Arguments": {"Bucket": "b", "Key": "{% $states.input.key %}"}}}}},
        {"key": "k.jsonl"})
    assert json.loads(described["Output"]) == [10, 20]
