"""The typed ASL model: one frozen, slotted dataclass per Amazon States Language construct.

Field names are the ASL keys in snake_case; each field's metadata records its ASL key
(``asl``) and the shape of its value (``kind``), which :mod:`parse` and :mod:`emit` read, so
the mapping between the JSON document and the model is mechanical and lives in one place.

An absent field is :data:`UNSET`; ``None`` is ASL's meaningful JSON ``null`` (e.g.
``"ResultPath": null`` discards the result). Payload templates (``Parameters``, ``Arguments``,
``Output``, ``Assign``, ``ResultSelector``, ...) are kept as their JSON values; the interpreter
compiles them once per state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "UNSET",
    "Catcher",
    "ChoiceRule",
    "Choice",
    "Combinator",
    "Comparison",
    "Fail",
    "ItemBatcher",
    "ItemProcessor",
    "ItemReader",
    "Map",
    "Parallel",
    "Pass",
    "ProcessorConfig",
    "QueryLanguage",
    "ReaderConfig",
    "ResultWriter",
    "Retrier",
    "Rule",
    "State",
    "StateMachine",
    "Succeed",
    "Task",
    "Unset",
    "Wait",
    "COMPARATORS",
]


class Unset(Enum):
    """Marker type for an ASL field that is absent from the document."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
"""The value of every optional field that the document leaves out."""

QueryLanguage: TypeAlias = Literal["JSONPath", "JSONata"]
JSON: TypeAlias = Any

COMPARATORS: Final = frozenset(
    f"{kind}{op}{suffix}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    for suffix in ("", "Path")
) | frozenset(
    {"BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsNull", "IsPresent", "IsNumeric",
     "IsString", "IsBoolean", "IsTimestamp"}
)
"""Every data-test comparison operator of a JSONPath Choice rule."""


def _f(asl: str, kind: str, default: Any = UNSET) -> Any:
    return field(default=default, metadata={"asl": asl, "kind": kind})


# --------------------------------------------------------------------------------------------
# Error handling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Retrier:
    """One entry of a state's ``Retry`` array."""

    error_equals: tuple[str, ...] = _f("ErrorEquals", "strlist", ())
    """Error names this retrier matches (``States.ALL`` alone and last)."""
    interval_seconds: int | Unset = _f("IntervalSeconds", "posint")
    """Seconds before the first retry (default 1)."""
    max_attempts: int | Unset = _f("MaxAttempts", "natint")
    """Retries before giving up (default 3; 0 never retries)."""
    backoff_rate: float | Unset = _f("BackoffRate", "number")
    """Multiplier of the interval after each attempt (default 2.0, >= 1.0)."""
    max_delay_seconds: int | Unset = _f("MaxDelaySeconds", "posint")
    """Upper bound of the retry interval."""
    jitter_strategy: str | Unset = _f("JitterStrategy", "str")
    """``FULL`` or ``NONE``."""
    comment: str | Unset = _f("Comment", "str")


@dataclass(frozen=True, slots=True)
class Catcher:
    """One entry of a state's ``Catch`` array."""

    error_equals: tuple[str, ...] = _f("ErrorEquals", "strlist", ())
    """Error names this catcher matches."""
    next: str = _f("Next", "str", "")
    """The state to go to."""
    result_path: str | None | Unset = _f("ResultPath", "path")
    """Where the error output goes (JSONPath states)."""
    output: JSON | Unset = _f("Output", "json")
    """The state output (JSONata states)."""
    assign: JSON | Unset = _f("Assign", "object")
    """Variables assigned when this catcher fires."""
    comment: str | Unset = _f("Comment", "str")


# --------------------------------------------------------------------------------------------
# Choice rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """A data-test expression: ``{"Variable": "$.x", "NumericEquals": 1}``."""

    variable: str
    """The JSONPath whose value is tested."""
    operator: str
    """One of :data:`COMPARATORS`."""
    value: JSON
    """The operand (a literal, or a path for the ``*Path`` operators)."""
    comment: str | Unset = UNSET


@dataclass(frozen=True, slots=True)
class Combinator:
    """A boolean expression: ``And`` / ``Or`` over several rules, ``Not`` over one."""

    operator: Literal["And", "Or", "Not"]
    rules: tuple[Rule, ...]
    comment: str | Unset = UNSET


Rule: TypeAlias = Comparison | Combinator


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """A top-level Choice rule with its ``Next`` state."""

    next: str
    """The state to go to when the rule matches."""
    rule: Rule | None = None
    """The JSONPath test (None in JSONata states)."""
    condition: JSON | Unset = UNSET
    """The JSONata ``Condition`` (JSONata states)."""
    assign: JSON | Unset = UNSET
    output: JSON | Unset = UNSET
    comment: str | Unset = UNSET


# --------------------------------------------------------------------------------------------
# Distributed map
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """``ItemReader.ReaderConfig``."""

    input_type: str | Unset = _f("InputType", "str")
    """``CSV``, ``JSON``, ``JSONL``, ``MANIFEST`` (absent: list objects or JSON)."""
    csv_header_location: str | Unset = _f("CSVHeaderLocation", "str")
    """``FIRST_ROW`` or ``GIVEN``."""
    csv_headers: tuple[str, ...] | Unset = _f("CSVHeaders", "strlist")
    csv_delimiter: str | Unset = _f("CSVDelimiter", "str")
    max_items: JSON | Unset = _f("MaxItems", "natint_or_jsonata")
    max_items_path: str | Unset = _f("MaxItemsPath", "str")


@dataclass(frozen=True, slots=True)
class ItemReader:
    """``ItemReader``: where a distributed Map reads its items."""

    resource: str = _f("Resource", "str", "")
    parameters: JSON | Unset = _f("Parameters", "object")
    arguments: JSON | Unset = _f("Arguments", "json")
    reader_config: ReaderConfig | Unset = _f("ReaderConfig", "nested:ReaderConfig")


@dataclass(frozen=True, slots=True)
class ItemBatcher:
    """``ItemBatcher``: groups items into batches."""

    max_items_per_batch: JSON | Unset = _f("MaxItemsPerBatch", "posint_or_jsonata")
    max_items_per_batch_path: str | Unset = _f("MaxItemsPerBatchPath", "str")
    max_input_bytes_per_batch: JSON | Unset = _f("MaxInputBytesPerBatch", "posint_or_jsonata")
    max_input_bytes_per_batch_path: str | Unset = _f("MaxInputBytesPerBatchPath", "str")
    batch_input: JSON | Unset = _f("BatchInput", "json")


@dataclass(frozen=True, slots=True)
class ResultWriter:
    """``ResultWriter``: where a distributed Map writes its results."""

    resource: str | Unset = _f("Resource", "str")
    parameters: JSON | Unset = _f("Parameters", "object")
    arguments: JSON | Unset = _f("Arguments", "json")
    writer_config: JSON | Unset = _f("WriterConfig", "object")


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    """``ItemProcessor.ProcessorConfig``."""

    mode: str | Unset = _f("Mode", "str")
    """``INLINE`` (default) or ``DISTRIBUTED``."""
    execution_type: str | Unset = _f("ExecutionType", "str")
    """``STANDARD`` or ``EXPRESS`` (distributed mode)."""


# --------------------------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pass:
    """``Type: Pass``: passes its input to its output, optionally injecting data."""

    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    next: str | Unset = _f("Next", "str")
    end: bool | Unset = _f("End", "bool")
    input_path: str | None | Unset = _f("InputPath", "path")
    parameters: JSON | Unset = _f("Parameters", "json")
    result: JSON | Unset = _f("Result", "json")
    result_path: str | None | Unset = _f("ResultPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")


@dataclass(frozen=True, slots=True)
class Task:
    """``Type: Task``: calls a resource (Lambda, nested execution, other integration)."""

    resource: str = _f("Resource", "str", "")
    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    next: str | Unset = _f("Next", "str")
    end: bool | Unset = _f("End", "bool")
    input_path: str | None | Unset = _f("InputPath", "path")
    parameters: JSON | Unset = _f("Parameters", "object")
    arguments: JSON | Unset = _f("Arguments", "json")
    result_selector: JSON | Unset = _f("ResultSelector", "object")
    result_path: str | None | Unset = _f("ResultPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")
    retry: tuple[Retrier, ...] | Unset = _f("Retry", "list:Retrier")
    catch: tuple[Catcher, ...] | Unset = _f("Catch", "list:Catcher")
    timeout_seconds: JSON | Unset = _f("TimeoutSeconds", "posint_or_jsonata")
    timeout_seconds_path: str | Unset = _f("TimeoutSecondsPath", "str")
    heartbeat_seconds: JSON | Unset = _f("HeartbeatSeconds", "posint_or_jsonata")
    heartbeat_seconds_path: str | Unset = _f("HeartbeatSecondsPath", "str")
    credentials: JSON | Unset = _f("Credentials", "object")


@dataclass(frozen=True, slots=True)
class Choice:
    """``Type: Choice``: picks the next state by the first matching rule."""

    choices: tuple[ChoiceRule, ...] = _f("Choices", "choices", ())
    default: str | Unset = _f("Default", "str")
    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    input_path: str | None | Unset = _f("InputPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")


@dataclass(frozen=True, slots=True)
class Wait:
    """``Type: Wait``: waits a number of seconds or until a time."""

    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    next: str | Unset = _f("Next", "str")
    end: bool | Unset = _f("End", "bool")
    seconds: JSON | Unset = _f("Seconds", "natint_or_jsonata")
    timestamp: str | Unset = _f("Timestamp", "str")
    seconds_path: str | Unset = _f("SecondsPath", "str")
    timestamp_path: str | Unset = _f("TimestampPath", "str")
    input_path: str | None | Unset = _f("InputPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")


@dataclass(frozen=True, slots=True)
class Succeed:
    """``Type: Succeed``: ends the execution (or branch) successfully."""

    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    input_path: str | None | Unset = _f("InputPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")


@dataclass(frozen=True, slots=True)
class Fail:
    """``Type: Fail``: ends the execution with an error and cause."""

    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    error: str | Unset = _f("Error", "str")
    cause: str | Unset = _f("Cause", "str")
    error_path: str | Unset = _f("ErrorPath", "str")
    cause_path: str | Unset = _f("CausePath", "str")


@dataclass(frozen=True, slots=True)
class Parallel:
    """``Type: Parallel``: runs branches concurrently; output is the array of their outputs."""

    branches: tuple[StateMachine, ...] = _f("Branches", "list:StateMachine", ())
    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    next: str | Unset = _f("Next", "str")
    end: bool | Unset = _f("End", "bool")
    input_path: str | None | Unset = _f("InputPath", "path")
    parameters: JSON | Unset = _f("Parameters", "object")
    arguments: JSON | Unset = _f("Arguments", "json")
    result_selector: JSON | Unset = _f("ResultSelector", "object")
    result_path: str | None | Unset = _f("ResultPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")
    retry: tuple[Retrier, ...] | Unset = _f("Retry", "list:Retrier")
    catch: tuple[Catcher, ...] | Unset = _f("Catch", "list:Catcher")


@dataclass(frozen=True, slots=True)
class ItemProcessor:
    """``ItemProcessor`` (or legacy ``Iterator``): the state machine run for each item."""

    start_at: str = _f("StartAt", "str", "")
    states: Mapping[str, State] = _f("States", "states", None)
    processor_config: ProcessorConfig | Unset = _f("ProcessorConfig", "nested:ProcessorConfig")
    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")


@dataclass(frozen=True, slots=True)
class Map:
    """``Type: Map``: runs an item processor for each item (inline or distributed)."""

    item_processor: ItemProcessor | Unset = _f("ItemProcessor", "nested:ItemProcessor")
    iterator: ItemProcessor | Unset = _f("Iterator", "nested:ItemProcessor")
    comment: str | Unset = _f("Comment", "str")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
    next: str | Unset = _f("Next", "str")
    end: bool | Unset = _f("End", "bool")
    input_path: str | None | Unset = _f("InputPath", "path")
    items_path: str | Unset = _f("ItemsPath", "str")
    items: JSON | Unset = _f("Items", "json")
    item_selector: JSON | Unset = _f("ItemSelector", "json")
    parameters: JSON | Unset = _f("Parameters", "object")
    item_reader: ItemReader | Unset = _f("ItemReader", "nested:ItemReader")
    item_batcher: ItemBatcher | Unset = _f("ItemBatcher", "nested:ItemBatcher")
    result_writer: ResultWriter | Unset = _f("ResultWriter", "nested:ResultWriter")
    max_concurrency: JSON | Unset = _f("MaxConcurrency", "natint_or_jsonata")
    max_concurrency_path: str | Unset = _f("MaxConcurrencyPath", "str")
    tolerated_failure_count: JSON | Unset = _f("ToleratedFailureCount", "natint_or_jsonata")
    tolerated_failure_count_path: str | Unset = _f("ToleratedFailureCountPath", "str")
    tolerated_failure_percentage: JSON | Unset = _f(
        "ToleratedFailurePercentage", "percent_or_jsonata"
    )
    tolerated_failure_percentage_path: str | Unset = _f("ToleratedFailurePercentagePath", "str")
    label: str | Unset = _f("Label", "str")
    result_selector: JSON | Unset = _f("ResultSelector", "object")
    result_path: str | None | Unset = _f("ResultPath", "path")
    output_path: str | None | Unset = _f("OutputPath", "path")
    output: JSON | Unset = _f("Output", "json")
    assign: JSON | Unset = _f("Assign", "object")
    retry: tuple[Retrier, ...] | Unset = _f("Retry", "list:Retrier")
    catch: tuple[Catcher, ...] | Unset = _f("Catch", "list:Catcher")

    @property
    def processor(self) -> ItemProcessor:
        """The item processor, whichever key (``ItemProcessor`` or ``Iterator``) declared it."""
        proc = self.item_processor if not isinstance(self.item_processor, Unset) else self.iterator
        assert not isinstance(proc, Unset), "the parser guarantees a processor"
        return proc

    @property
    def distributed(self) -> bool:
        """True for ``ProcessorConfig.Mode: DISTRIBUTED``."""
        cfg = self.processor.processor_config
        return not isinstance(cfg, Unset) and cfg.mode == "DISTRIBUTED"


State: TypeAlias = Pass | Task | Choice | Wait | Succeed | Fail | Parallel | Map
"""The closed union of state types."""

STATE_TYPES: Final[Mapping[str, type[Any]]] = {
    "Pass": Pass,
    "Task": Task,
    "Choice": Choice,
    "Wait": Wait,
    "Succeed": Succeed,
    "Fail": Fail,
    "Parallel": Parallel,
    "Map": Map,
}
"""ASL ``Type`` → model class."""


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A state machine: the top-level document, or a Parallel branch."""

    start_at: str = _f("StartAt", "str", "")
    states: Mapping[str, State] = _f("States", "states", None)
    comment: str | Unset = _f("Comment", "str")
    version: str | Unset = _f("Version", "str")
    timeout_seconds: int | Unset = _f("TimeoutSeconds", "natint")
    query_language: QueryLanguage | Unset = _f("QueryLanguage", "str")
