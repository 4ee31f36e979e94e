"""Typed extensions of the ``stepfunctions`` SDK for the modern ASL the kbflow flows use.

The SDK (``stepfunctions-without-sagemaker``) predates ResultSelector, Retry jitter, Fail
``ErrorPath``/``CausePath``, the JSONata query language and variables. Each class here
subclasses the SDK's state (so chaining with ``.next()``, ``Chain`` and ``Graph`` keep working),
takes *keyword-only, typed* arguments named after the ASL keys in snake_case and overrides
``allowed_fields``/``to_dict``:

- ``None`` means "absent"; :data:`DISCARD` is ASL's meaningful JSON ``null``
  (``"ResultPath": null`` keeps the input and discards the result);
- ``to_dict`` emits keys in one canonical order (:data:`KEY_ORDER`), so generated files are
  stable and read top-down like the AWS console's definition view.

Map and the Distributed Map configuration live in :mod:`kbflow.workflows.asl_map`; the whole
machine is assembled by :func:`state_machine`. Example::

    failed = Fail("Failed", comment="...", error_path="$.error.Error", cause_path="$.error.Cause")
    call = Task("Call", comment="...", resource="arn:aws:states:::lambda:invoke",
                parameters={"FunctionName": "${FnFunctionArn}", "Payload.$": "$"},
                result_selector={"doc.$": "$.Payload"}, result_path="$.result",
                retry=[Retry(error_equals=["Lambda.TooManyRequestsException"],
                             max_delay_seconds=60, jitter_strategy="FULL")],
                catch=[Catch(error_equals=["States.ALL"], next_step=failed, result_path="$.error")])
    call.next(Succeed("Done", comment="..."))
    asl = state_machine(call, comment="...")       # a dict, keys in canonical order
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kbflow.errors import DefinitionError, Problem
from kbflow.workflows._asl_base import (
    DISCARD,
    KEY_ORDER,
    Catch,
    Condition,
    Discard,
    Json,
    PathField,
    QueryLanguage,
    Retry,
    _keys,
    _opt,
    _Typed,
    canonical,
    exclusive,
    fields_of,
)
from stepfunctions.steps import states as sdk
from stepfunctions.steps.choice_rule import BaseRule

__all__ = [
    "DISCARD",
    "KEY_ORDER",
    "Catch",
    "Choice",
    "Condition",
    "Discard",
    "Fail",
    "Json",
    "Pass",
    "PathField",
    "QueryLanguage",
    "Retry",
    "Succeed",
    "Task",
    "canonical",
    "fields_of",
    "state_machine",
]


class Task(_Typed, sdk.Task):  # type: ignore[misc]
    """A Task state with ResultSelector, JSONata fields, variables and typed Retry/Catch.

    Args:
        state_id: Console-friendly state name (unique in the machine, at most 80 characters).
        comment: What the state does (every kbflow state has one).
        resource: Resource ARN, e.g. ``arn:aws:states:::lambda:invoke``.
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
        input_path: JSONPath selecting the effective input.
        parameters: JSONPath payload template.
        arguments: JSONata payload template.
        result_selector: JSONPath template applied to the raw result.
        result_path: Where the result goes in the input (:data:`DISCARD`: drop it).
        output_path: JSONPath selecting the state output.
        output: JSONata output template.
        assign: Variables to set.
        timeout_seconds: Seconds (or a JSONata expression) before ``States.Timeout``.
        timeout_seconds_path: JSONPath to the timeout in the input.
        heartbeat_seconds: Heartbeat interval (or a JSONata expression).
        heartbeat_seconds_path: JSONPath to the heartbeat interval in the input.
        retry: Retriers, tried in order.
        catch: Catchers, tried in order.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        resource: str,
        query_language: QueryLanguage | None = None,
        input_path: PathField = None,
        parameters: Mapping[str, Json] | None = None,
        arguments: Json | None = None,
        result_selector: Mapping[str, Json] | None = None,
        result_path: PathField = None,
        output_path: PathField = None,
        output: Json | None = None,
        assign: Mapping[str, Json] | None = None,
        timeout_seconds: int | str | None = None,
        timeout_seconds_path: str | None = None,
        heartbeat_seconds: int | str | None = None,
        heartbeat_seconds_path: str | None = None,
        retry: Sequence[Retry] = (),
        catch: Sequence[Catch] = (),
    ) -> None:
        exclusive(
            state_id,
            ("TimeoutSeconds", timeout_seconds, "TimeoutSecondsPath", timeout_seconds_path),
            ("HeartbeatSeconds", heartbeat_seconds, "HeartbeatSecondsPath", heartbeat_seconds_path),
        )
        sdk.State.__init__(
            self,
            state_id,
            "Task",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                resource=resource,
                input_path=input_path,
                parameters=_opt(parameters),
                arguments=arguments,
                result_selector=_opt(result_selector),
                result_path=result_path,
                output_path=output_path,
                output=output,
                assign=_opt(assign),
                timeout_seconds=timeout_seconds,
                timeout_seconds_path=timeout_seconds_path,
                heartbeat_seconds=heartbeat_seconds,
                heartbeat_seconds_path=heartbeat_seconds_path,
            ),
        )
        self._attach(retry, catch)

    def allowed_fields(self) -> list[Any]:
        return [
            *super().allowed_fields(),
            *_keys(
                "query_language", "resource", "arguments", "result_selector", "output", "assign"
            ),
        ]


class Pass(_Typed, sdk.Pass):  # type: ignore[misc]
    """A Pass state with JSONata ``Output`` and ``Assign``.

    Args:
        state_id: Console-friendly state name.
        comment: What the state does.
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
        input_path: JSONPath selecting the effective input.
        parameters: JSONPath template.
        result: A fixed result.
        result_path: Where the result goes in the input.
        output_path: JSONPath selecting the state output.
        output: JSONata output template.
        assign: Variables to set.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        query_language: QueryLanguage | None = None,
        input_path: PathField = None,
        parameters: Mapping[str, Json] | None = None,
        result: Json | None = None,
        result_path: PathField = None,
        output_path: PathField = None,
        output: Json | None = None,
        assign: Mapping[str, Json] | None = None,
    ) -> None:
        sdk.State.__init__(
            self,
            state_id,
            "Pass",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                input_path=input_path,
                parameters=_opt(parameters),
                result=result,
                result_path=result_path,
                output_path=output_path,
                output=output,
                assign=_opt(assign),
            ),
        )

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), *_keys("query_language", "output", "assign")]


class Choice(_Typed, sdk.Choice):  # type: ignore[misc]
    """A Choice state whose rules may be SDK JSONPath rules or JSONata :class:`Condition` s.

    Chaining ``.next()`` on a Choice sets its ``Default`` (the SDK's behaviour); prefer the
    explicit ``default=`` argument.

    Args:
        state_id: Console-friendly state name.
        comment: What the state decides.
        choices: ``(rule, next_step)`` pairs, tried in order.
        default: The state to go to when no rule matches (``None``: ``States.NoChoiceMatched``).
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
        input_path: JSONPath selecting the effective input.
        output_path: JSONPath selecting the state output.
        output: JSONata output template.
        assign: Variables to set.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        choices: Sequence[tuple[BaseRule, sdk.State | sdk.Chain]],
        default: sdk.State | sdk.Chain | None = None,
        query_language: QueryLanguage | None = None,
        input_path: PathField = None,
        output_path: PathField = None,
        output: Json | None = None,
        assign: Mapping[str, Json] | None = None,
    ) -> None:
        sdk.State.__init__(
            self,
            state_id,
            "Choice",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                input_path=input_path,
                output_path=output_path,
                output=output,
                assign=_opt(assign),
            ),
        )
        self.choices: list[list[Any]] = []
        self.default = default
        for rule, next_step in choices:
            self.add_choice(rule, next_step)

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), *_keys("query_language", "output", "assign")]

    def to_dict(self) -> dict[str, Json]:
        d = super().to_dict()
        d["Choices"] = [_rule_order(rule) for rule in d["Choices"]]
        return d


def _rule_order(rule: dict[str, Json]) -> dict[str, Json]:
    head: dict[str, Json] = {k: rule[k] for k in ("Condition", "Variable") if k in rule}
    return {**head, **{k: v for k, v in rule.items() if k not in head}}


class Succeed(_Typed, sdk.Succeed):  # type: ignore[misc]
    """A Succeed state (optionally shaping the final output).

    Args:
        state_id: Console-friendly state name.
        comment: What success means here.
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
        input_path: JSONPath selecting the effective input.
        output_path: JSONPath selecting the output.
        output: JSONata output template.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        query_language: QueryLanguage | None = None,
        input_path: PathField = None,
        output_path: PathField = None,
        output: Json | None = None,
    ) -> None:
        sdk.State.__init__(
            self,
            state_id,
            "Succeed",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                input_path=input_path,
                output_path=output_path,
                output=output,
            ),
        )

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), *_keys("query_language", "output")]


class Fail(_Typed, sdk.Fail):  # type: ignore[misc]
    """A Fail state with ``ErrorPath``/``CausePath`` (JSONPath) or JSONata ``Error``/``Cause``.

    Args:
        state_id: Console-friendly state name.
        comment: Why the machine fails here.
        error: Error name (JSONata states may use an expression).
        error_path: JSONPath to the error name in the input.
        cause: Human-readable cause (JSONata states may use an expression).
        cause_path: JSONPath to the cause in the input.
        query_language: ``JSONata`` or ``JSONPath``; ``None`` inherits the machine's.
    """

    def __init__(
        self,
        state_id: str,
        *,
        comment: str,
        error: str | None = None,
        error_path: str | None = None,
        cause: str | None = None,
        cause_path: str | None = None,
        query_language: QueryLanguage | None = None,
    ) -> None:
        exclusive(
            state_id,
            ("Error", error, "ErrorPath", error_path),
            ("Cause", cause, "CausePath", cause_path),
        )
        sdk.State.__init__(
            self,
            state_id,
            "Fail",
            **fields_of(
                state_id,
                query_language,
                comment=comment,
                error=error,
                error_path=error_path,
                cause=cause,
                cause_path=cause_path,
            ),
        )

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), *_keys("query_language", "error_path", "cause_path")]


def state_machine(
    start: sdk.State | sdk.Chain,
    *,
    comment: str,
    query_language: QueryLanguage | None = None,
    timeout_seconds: int | None = None,
) -> dict[str, Json]:
    """Assemble the ASL document reachable from ``start``.

    Args:
        start: The first state (or a chain starting with it).
        comment: What the state machine does.
        query_language: The machine-level default ``QueryLanguage`` (``None``: JSONPath).
        timeout_seconds: Maximum execution duration.

    Returns:
        The ASL definition as a dict (keys in a stable order).

    Raises:
        DefinitionError: Two different states share a name.
    """
    try:
        graph = sdk.Graph(start, comment=comment, timeout_seconds=timeout_seconds).to_dict()
    except ValueError as exc:  # the SDK's duplicate-name check
        raise DefinitionError([Problem("/States", str(exc))]) from exc
    head: dict[str, Json] = {"Comment": graph["Comment"]}
    if query_language is not None:
        head["QueryLanguage"] = query_language
    head["StartAt"] = graph["StartAt"]
    if timeout_seconds is not None:
        head["TimeoutSeconds"] = timeout_seconds
    head["States"] = graph["States"]
    return head
