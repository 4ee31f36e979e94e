"""Shared pieces of kbflow's typed ``stepfunctions`` extensions (see :mod:`kbflow.workflows.asl`).

Value types, the :data:`DISCARD` sentinel, the canonical key order, the field collector that
checks a state's fields against its query language, and the typed ``Retry``/``Catch``/
``Condition`` blocks. Public names are re-exported by :mod:`kbflow.workflows.asl`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Final, Literal, TypeAlias

from kbflow.errors import DefinitionError, Problem
from stepfunctions.steps import states as sdk
from stepfunctions.steps.choice_rule import BaseRule

__all__ = [
    "DISCARD",
    "KEY_ORDER",
    "Catch",
    "Condition",
    "Discard",
    "JitterStrategy",
    "Json",
    "PathField",
    "QueryLanguage",
    "Retry",
    "canonical",
    "exclusive",
    "fields_of",
]

Json: TypeAlias = Any
"""Any JSON value (payload templates are arbitrary JSON)."""

QueryLanguage = Literal["JSONPath", "JSONata"]
JitterStrategy = Literal["FULL", "NONE"]


class Discard(Enum):
    """Type of :data:`DISCARD`: ASL's meaningful ``null`` in ``ResultPath``/``InputPath``..."""

    DISCARD = "DISCARD"

    def __repr__(self) -> str:
        return "DISCARD"


DISCARD: Final = Discard.DISCARD
"""Emit JSON ``null`` (e.g. ``"ResultPath": null``: keep the state input, drop the result)."""

PathField: TypeAlias = "str | Discard | None"

KEY_ORDER: Final[tuple[str, ...]] = (
    "Type",
    "Comment",
    "QueryLanguage",
    "Resource",
    "InputPath",
    "Parameters",
    "Arguments",
    "ItemsPath",
    "Items",
    "ItemReader",
    "ItemSelector",
    "ItemBatcher",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "ItemProcessor",
    "Iterator",
    "ResultWriter",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Choices",
    "Default",
    "Result",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "Output",
    "Assign",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
    "Retry",
    "Catch",
    "Next",
    "End",
)
"""Order of state keys in generated ASL; unknown keys follow in their original order."""

_JSONPATH_ONLY: Final = frozenset(
    {
        "input_path",
        "parameters",
        "result_selector",
        "result_path",
        "output_path",
        "items_path",
        "timeout_seconds_path",
        "heartbeat_seconds_path",
        "error_path",
        "cause_path",
    }
)
_JSONATA_ONLY: Final = frozenset({"arguments", "output", "items"})


class _Key:
    """Stand-in for the SDK's ``Field`` enum members: ``is_field_allowed`` only reads ``.value``."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


def _keys(*names: str) -> list[_Key]:
    return [_Key(name) for name in names]


def canonical(state: Mapping[str, Json]) -> dict[str, Json]:
    """Return ``state`` with its keys in :data:`KEY_ORDER` (unknown keys last, order kept).

    Args:
        state: One ASL state (or Retry/Catch/choice rule) as a dict.

    Returns:
        A new dict with the same items, reordered.
    """
    rank = {key: i for i, key in enumerate(KEY_ORDER)}
    return dict(sorted(state.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def fields_of(
    state_id: str, query_language: QueryLanguage | None, **values: Json
) -> dict[str, Json]:
    """Collect the present fields of a state, checking them against its query language.

    ``None`` values are dropped and :data:`DISCARD` becomes ``None`` (which the SDK emits as
    JSON ``null``). A JSONPath-only field on a state declared ``JSONata`` (or the reverse) is a
    :class:`~kbflow.errors.DefinitionError` right away, before any ASL is produced.

    Args:
        state_id: The state's name, used in error pointers.
        query_language: The state's declared ``QueryLanguage`` (``None``: inherited).
        **values: snake_case ASL field names and their values.

    Returns:
        The SDK ``fields`` mapping for the state.

    Raises:
        DefinitionError: A field is not allowed in the declared query language.
    """
    present = {k: (None if v is DISCARD else v) for k, v in values.items() if v is not None}
    banned = _JSONPATH_ONLY if query_language == "JSONata" else set()
    if query_language == "JSONPath":
        banned = _JSONATA_ONLY
    wrong = sorted(k for k in present if k in banned)
    if wrong:
        raise DefinitionError(
            [
                Problem(
                    f"/States/{state_id}/{sdk.to_pascalcase(k)}",
                    f"{sdk.to_pascalcase(k)} is not allowed in a {query_language} state",
                )
                for k in wrong
            ]
        )
    if query_language is not None:
        present["query_language"] = query_language
    return present


def exclusive(state_id: str, *pairs: tuple[str, Json, str, Json]) -> None:
    """Raise if both fields of any ``(name, value, other_name, other_value)`` pair are given.

    Args:
        state_id: The state's name, used in error pointers.
        *pairs: Field names and values that must not both be present.

    Raises:
        DefinitionError: One problem per offending pair, located at the second field.
    """
    problems = [
        Problem(f"/States/{state_id}/{b}", f"{a} and {b} are mutually exclusive")
        for a, x, b, y in pairs
        if x is not None and y is not None
    ]
    if problems:
        raise DefinitionError(problems)


class Retry(sdk.Retry):  # type: ignore[misc]
    """A retrier with ``MaxDelaySeconds`` and ``JitterStrategy``.

    Args:
        error_equals: Error names this retrier matches (``States.ALL`` alone and last).
        interval_seconds: Seconds before the first retry.
        max_attempts: Retries before giving up (0: never retry).
        backoff_rate: Multiplier applied to the interval after each attempt.
        max_delay_seconds: Upper bound of the interval.
        jitter_strategy: ``FULL`` randomises each interval in ``[0, interval]``.
        comment: Human-readable description.
    """

    def __init__(
        self,
        *,
        error_equals: Sequence[str],
        interval_seconds: int | None = None,
        max_attempts: int | None = None,
        backoff_rate: float | None = None,
        max_delay_seconds: int | None = None,
        jitter_strategy: JitterStrategy | None = None,
        comment: str | None = None,
    ) -> None:
        super().__init__(
            **fields_of(
                "Retry",
                None,
                error_equals=list(error_equals),
                interval_seconds=interval_seconds,
                max_attempts=max_attempts,
                backoff_rate=backoff_rate,
                max_delay_seconds=max_delay_seconds,
                jitter_strategy=jitter_strategy,
                comment=comment,
            )
        )

    def allowed_fields(self) -> list[Any]:
        return [
            *super().allowed_fields(),
            *_keys("max_delay_seconds", "jitter_strategy", "comment"),
        ]

    def to_dict(self) -> dict[str, Json]:
        return _retry_order(super().to_dict())


def _retry_order(d: dict[str, Json]) -> dict[str, Json]:
    order = (
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    )
    return {k: d[k] for k in order if k in d}


class Catch(sdk.Catch):  # type: ignore[misc]
    """A catcher; ``result_path`` for JSONPath states, ``output``/``assign`` for JSONata ones.

    Args:
        error_equals: Error names this catcher matches (``States.ALL`` alone and last).
        next_step: The state (or chain) to continue with.
        result_path: Where the error output goes in the state input (JSONPath).
        output: The state output after the catch (JSONata).
        assign: Variables to set when the catcher matches.
        comment: Human-readable description.
    """

    def __init__(
        self,
        *,
        error_equals: Sequence[str],
        next_step: sdk.State | sdk.Chain,
        result_path: PathField = None,
        output: Json | None = None,
        assign: Mapping[str, Json] | None = None,
        comment: str | None = None,
    ) -> None:
        super().__init__(
            next_step,
            **fields_of(
                "Catch",
                None,
                error_equals=list(error_equals),
                result_path=result_path,
                output=output,
                assign=dict(assign) if assign is not None else None,
                comment=comment,
            ),
        )

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), *_keys("output", "assign", "comment")]

    def to_dict(self) -> dict[str, Json]:
        d = super().to_dict()
        order = ("ErrorEquals", "Comment", "ResultPath", "Output", "Assign", "Next")
        return {k: d[k] for k in order if k in d}


class Condition(BaseRule):  # type: ignore[misc]
    """A JSONata choice rule: ``{"Condition": "{% ... %}"}`` (the Choice adds ``Next``).

    Args:
        expression: A JSONata expression in ``{% %}`` that evaluates to a boolean.
    """

    def __init__(self, expression: str) -> None:
        if not (expression.startswith("{%") and expression.endswith("%}")):
            raise DefinitionError(
                [
                    Problem(
                        "", f"Condition must be a JSONata expression in {{% %}}, got {expression!r}"
                    )
                ]
            )
        self.expression = expression

    def to_dict(self) -> dict[str, Json]:
        return {"Condition": self.expression}


class _Typed(sdk.State):  # type: ignore[misc]
    """Mixin: canonical key order and Retry/Catch lists given at construction."""

    def _attach(self, retry: Sequence[Retry], catch: Sequence[Catch]) -> None:
        if retry:
            self.add_retry(list(retry))
        if catch:
            self.add_catch(list(catch))

    def to_dict(self) -> dict[str, Json]:
        d = super().to_dict()
        d["Type"] = d.pop("Type", self.state_type)
        return canonical(d)


def _opt(value: Mapping[str, Json] | None) -> dict[str, Json] | None:
    return dict(value) if value is not None else None
