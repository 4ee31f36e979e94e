"""ASL output of the typed Map state and Distributed Map blocks (kbflow.workflows.asl_map)."""

from __future__ import annotations

import pytest
from kbflow.errors import DefinitionError
from kbflow.workflows.asl import Pass, state_machine
from kbflow.workflows.asl_map import (
    ItemBatcher,
    ItemReader,
    Map,
    ProcessorConfig,
    ReaderConfig,
    ResultWriter,
)


def _leaf(name: str = "Work") -> Pass:
    return Pass(name, comment="w")


def test_inline_map_emits_item_processor_not_iterator() -> None:
    m = Map(
        "Each",
        comment="m",
        processor=_leaf(),
        items_path="$.items",
        item_selector={"v.$": "$$.Map.Item.Value"},
        max_concurrency=5,
    )
    d = m.to_dict()
    assert "Iterator" not in d
    assert d["ItemProcessor"] == {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "Comment": "w", "End": True}},
    }
    assert d["ItemsPath"] == "$.items"
    assert d["ItemSelector"] == {"v.$": "$$.Map.Item.Value"}
    assert d["MaxConcurrency"] == 5
    assert d["End"] is True


def test_distributed_map_fields() -> None:
    m = Map(
        "Fan Out",
        comment="m",
        processor=_leaf(),
        processor_config=ProcessorConfig(mode="DISTRIBUTED", execution_type="EXPRESS"),
        item_reader=ItemReader(
            resource="arn:aws:states:::s3:getObject",
            parameters={"Bucket": "b", "Key.$": "$.key"},
            reader_config=ReaderConfig(input_type="JSON", max_items=10),
        ),
        item_batcher=ItemBatcher(
            max_items_per_batch=20, max_input_bytes_per_batch=1024, batch_input={"run.$": "$.run"}
        ),
        result_writer=ResultWriter(parameters={"Bucket": "out", "Prefix": "p"}),
        tolerated_failure_percentage=5,
        tolerated_failure_count=3,
        label="fan",
        result_selector={"arn.$": "$.MapRunArn"},
        result_path="$.map",
    )
    d = m.to_dict()
    assert d["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert d["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON", "MaxItems": 10},
        "Parameters": {"Bucket": "b", "Key.$": "$.key"},
    }
    assert d["ItemBatcher"] == {
        "MaxItemsPerBatch": 20,
        "MaxInputBytesPerBatch": 1024,
        "BatchInput": {"run.$": "$.run"},
    }
    assert d["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out", "Prefix": "p"},
    }
    assert (d["ToleratedFailurePercentage"], d["ToleratedFailureCount"], d["Label"]) == (
        5,
        3,
        "fan",
    )
    assert d["ResultSelector"] == {"arn.$": "$.MapRunArn"}


def test_jsonata_map_items_and_output() -> None:
    d = Map(
        "M",
        comment="m",
        processor=_leaf(),
        query_language="JSONata",
        items="{% $states.input.list %}",
        output="{% $states.result %}",
    ).to_dict()
    assert d["Items"] == "{% $states.input.list %}"
    assert d["Output"] == "{% $states.result %}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("item_reader", ItemReader(resource="arn:aws:states:::s3:listObjectsV2")),
        ("item_batcher", ItemBatcher(max_items_per_batch=2)),
        ("result_writer", ResultWriter(parameters={"Bucket": "b"})),
        ("label", "x"),
    ],
)
def test_distributed_only_fields_rejected_in_inline_map(field: str, value: object) -> None:
    with pytest.raises(DefinitionError) as info:
        Map("M", comment="m", processor=_leaf(), **{field: value})  # type: ignore[arg-type]
    assert info.value.problems[0].pointer.startswith("/States/M/")
    assert "DISTRIBUTED" in info.value.problems[0].message


def test_processor_config_needs_execution_type_exactly_for_distributed() -> None:
    with pytest.raises(DefinitionError):
        ProcessorConfig(mode="DISTRIBUTED")
    with pytest.raises(DefinitionError):
        ProcessorConfig(mode="INLINE", execution_type="STANDARD")


def test_item_batcher_needs_a_limit() -> None:
    with pytest.raises(DefinitionError, match="MaxItemsPerBatch"):
        ItemBatcher(batch_input={"a": 1})


def test_map_inside_machine_keeps_processor_states_nested() -> None:
    m = Map("Outer", comment="m", processor=_leaf("Inner"))
    asl = state_machine(m, comment="c")
    assert set(asl["States"]) == {"Outer"}
    assert set(asl["States"]["Outer"]["ItemProcessor"]["States"]) == {"Inner"}
