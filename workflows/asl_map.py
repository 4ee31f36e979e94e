"""Typed Map state for the ``stepfunctions`` SDK: ItemProcessor, ItemSelector, Distributed Map.

The SDK's ``Map`` only knows the legacy ``Iterator``/``Parameters`` form. :class:`Map` emits the
current form (``ItemProcessor`` with ``ProcessorConfig``, ``ItemSelector``) and, in
``DISTRIBUTED`` mode, the Distributed Map fields: ``ItemReader``, ``ItemBatcher``,
``ResultWriter``, ``ToleratedFailurePercentage``/``Count`` and ``Label``. The configuration blocks
are frozen dataclasses with a ``to_asl()`` method; ``None`` fields are absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kbflow.errors import DefinitionError, Problem
from kbflow.workflows._asl_base import (
    Catch,
    Json,
    PathField,
    QueryLanguage,
    Retry,
    _keys,
    _opt,
    _Typed,
    canonical,
    fields_of,
)
from stepfunctions.steps import states as sdk

__all__ = [
    "ItemBatcher",
    "ItemReader",
    "Map",
    "ProcessorConfig",
    "ReaderConfig",
    "ResultWriter",
]

Mode = Literal["INLINE", "DISTRIBUTED"]
ExecutionType = Literal["STANDARD", "EXPRESS"]


def _present(pairs: Sequence[tuple[str, Json]]) -> dict[str, Json]:
    return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessorConfig:
    """``ItemProcessor.ProcessorConfig``: how the Map runs its iterations."""

    mode: Mode = "INLINE"
    """``INLINE`` (iterations in the parent's history) or ``DISTRIBUTED`` (child executions)."""
    execution_type: ExecutionType | None = None
    """Child workflow type; required for (and only allowed with) ``DISTRIBUTED``."""

    def __post_init__(self) -> None:
        if (self.mode == "DISTRIBUTED") != (self.execution_type is not None):
            raise DefinitionError(
                [
                    Problem(
                        "/ProcessorConfig/ExecutionType",
                        "ExecutionType is required for DISTRIBUTED mode and not allowed for INLINE",
                    )
                ]
            )

    def to_asl(self) -> dict[str, Json]:
        """Return the ``ProcessorConfig`` object."""
        return _present([("Mode", self.mode), ("ExecutionType", self.execution_type)])


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderConfig:
    """``ItemReader.ReaderConfig``: how the item source is read."""

    input_type: Literal["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"] | None = None
    """Format of an ``s3:getObject`` source (``None`` for ``s3:listObjectsV2``)."""
    max_items: int | None = None
    """Read at most this many items."""
    max_items_path: str | None = None
    """JSONPath to ``max_items`` in the state input."""
    csv_header_location: Literal["FIRST_ROW", "GIVEN"] | None = None
    """Where CSV column names come from."""

    def to_asl(self) -> dict[str, Json]:
        """Return the ``ReaderConfig`` object."""
        return _present(
            [
                ("InputType", self.input_type),
                ("CSVHeaderLocation", self.csv_header_location),
                ("MaxItems", self.max_items),
                ("MaxItemsPath", self.max_items_path),
            ]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemReader:
    """``ItemReader``: a Distributed Map's item source (S3 listing or S3 object)."""

    resource: str
    """``arn:aws:states:::s3:listObjectsV2`` or ``arn:aws:states:::s3:getObject``."""
    parameters: Mapping[str, Json] | None = None
    """JSONPath template: ``Bucket``, ``Prefix`` / ``Key`` (``.$`` keys for paths)."""
    arguments: Mapping[str, Json] | None = None
    """JSONata template (JSONata Map states)."""
    reader_config: ReaderConfig | None = None
    """Format and limits."""

    def to_asl(self) -> dict[str, Json]:
        """Return the ``ItemReader`` object."""
        return _present(
            [
                ("Resource", self.resource),
                ("ReaderConfig", _asl(self.reader_config)),
                ("Parameters", _opt(self.parameters)),
                ("Arguments", _opt(self.arguments)),
            ]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemBatcher:
    """``ItemBatcher``: each child execution gets ``{"Items": [...], "BatchInput": ...}``."""

    max_items_per_batch: int | None = None
    """At most this many items per batch."""
    max_input_bytes_per_batch: int | None = None
    """At most this many bytes per batch (AWS caps it at 256 KiB)."""
    batch_input: Mapping[str, Json] | None = None
    """Fixed (run-level) input added to every batch as ``BatchInput``."""

    def __post_init__(self) -> None:
        if self.max_items_per_batch is None and self.max_input_bytes_per_batch is None:
            raise DefinitionError(
                [
                    Problem(
                        "/ItemBatcher",
                        "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch",
                    )
                ]
            )

    def to_asl(self) -> dict[str, Json]:
        """Return the ``ItemBatcher`` object."""
        return _present(
            [
                ("MaxItemsPerBatch", self.max_items_per_batch),
                ("MaxInputBytesPerBatch", self.max_input_bytes_per_batch),
                ("BatchInput", _opt(self.batch_input)),
            ]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultWriter:
    """``ResultWriter``: write the child results to S3 instead of the state output."""

    parameters: Mapping[str, Json] | None = None
    """JSONPath template with ``Bucket`` and ``Prefix``."""
    arguments: Mapping[str, Json] | None = None
    """JSONata template (JSONata Map states)."""
    resource: str = "arn:aws:states:::s3:putObject"
    """The only resource AWS accepts for a ResultWriter that writes to S3."""
    writer_config: Mapping[str, Json] | None = field(default=None)
    """Optional ``WriterConfig`` (``OutputType``, ``Transformation``)."""

    def to_asl(self) -> dict[str, Json]:
        """Return the ``ResultWriter`` object."""
        return _present(
            [
                ("Resource", self.resource),
                ("WriterConfig", _opt(self.writer_config)),
                ("Parameters", _opt(self.parameters)),
                ("Arguments", _opt(self.arguments)),
            ]
        )


def _asl(block: ReaderConfig | None) -> dict[str, Json] | None:
    return block.to_asl() if block is not None else None


_DISTRIBUTED_ONLY = (
    "item_reader",
    "item_batcher",
    "result_writer",
    "tolerated_failure_percentage",
    "tolerated_failure_count",
    "label",
)


class Map(_Typed, sdk.Map):  # type: ignore[misc]
    """A Map state emitting ``ItemProcessor`` (inline or distributed) instead of ``Iterator``.

    Args:
        state_id: Console-friendly state name.
        comment: What the map iterates over.
        processor: The first state (or chain) run for each item (or batch).
        processor_config: Inline or distributed, and the child workflow type.
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
        input_path: JSONPath selecting the effective input.
        items_path: JSONPath to the items array (inline maps).
        items: JSONata expression or array of items (JSONata maps).
        item_reader: Where a distributed map reads its items.
        item_selector: Template building each iteration's input (``$$.Map.Item.Value``...).
        item_batcher: Batch items per child execution.
        max_concurrency: Iterations running at once (0: as many as possible).
        tolerated_failure_percentage: Failed items tolerated before the map fails (distributed).
        tolerated_failure_count: Failed items tolerated, as a count (distributed).
        label: Prefix of the child executions' names (distributed, at most 40 characters).
        result_writer: Write child results to S3 (distributed).
        result_selector: JSONPath template applied to the map's result.
        result_path: Where the result goes in the input.
        output_path: JSONPath selecting the state output.
        output: JSONata output template.
        assign: Variables to set.
        retry: Retriers for the whole map.
        catch: Catchers for the whole map.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        processor: sdk.State | sdk.Chain,
        processor_config: ProcessorConfig | None = None,
        query_language: QueryLanguage | None = None,
        input_path: PathField = None,
        items_path: str | None = None,
        items: Json | None = None,
        item_reader: ItemReader | None = None,
        item_selector: Mapping[str, Json] | None = None,
        item_batcher: ItemBatcher | None = None,
        max_concurrency: int | str | None = None,
        tolerated_failure_percentage: float | str | None = None,
        tolerated_failure_count: int | str | None = None,
        label: str | None = None,
        result_writer: ResultWriter | None = None,
        result_selector: Mapping[str, Json] | None = None,
        result_path: PathField = None,
        output_path: PathField = None,
        output: Json | None = None,
        assign: Mapping[str, Json] | None = None,
        retry: Sequence[Retry] = (),
        catch: Sequence[Catch] = (),
    ) -> None:
        config = processor_config or ProcessorConfig()
        values = dict(
            item_reader=_block(item_reader),
            item_batcher=_block(item_batcher),
            result_writer=_block(result_writer),
            tolerated_failure_percentage=tolerated_failure_percentage,
            tolerated_failure_count=tolerated_failure_count,
            label=label,
        )
        _check_distributed(state_id, config, values)
        sdk.State.__init__(
            self,
            state_id,
            "Map",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                input_path=input_path,
                items_path=items_path,
                items=items,
                item_selector=_opt(item_selector),
                max_concurrency=max_concurrency,
                result_selector=_opt(result_selector),
                result_path=result_path,
                output_path=output_path,
                output=output,
                assign=_opt(assign),
                **values,
            ),
        )
        self.processor = processor
        self.processor_config = config
        self._attach(retry, catch)

    def allowed_fields(self) -> list[Any]:
        base = [f for f in super().allowed_fields() if f.value != "iterator"]
        return [
            *base,
            *_keys(
                "query_language",
                "items",
                "item_selector",
                "result_selector",
                "output",
                "assign",
                *_DISTRIBUTED_ONLY,
            ),
        ]

    def to_dict(self) -> dict[str, Json]:
        d = sdk.State.to_dict(self)
        graph = sdk.Graph(self.processor).to_dict()
        d["ItemProcessor"] = {
            "ProcessorConfig": self.processor_config.to_asl(),
            "StartAt": graph["StartAt"],
            "States": graph["States"],
        }
        return canonical(d)


def _block(block: ItemReader | ItemBatcher | ResultWriter | None) -> dict[str, Json] | None:
    return block.to_asl() if block is not None else None


def _check_distributed(state_id: str, config: ProcessorConfig, values: Mapping[str, Json]) -> None:
    if config.mode == "DISTRIBUTED":
        return
    wrong = [k for k in _DISTRIBUTED_ONLY if values.get(k) is not None]
    if wrong:
        raise DefinitionError(
            [
                Problem(
                    f"/States/{state_id}/{sdk.to_pascalcase(k)}",
                    f"{sdk.to_pascalcase(k)} is only allowed in a DISTRIBUTED Map",
                )
                for k in wrong
            ]
        )
