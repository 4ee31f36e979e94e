"""Building blocks shared by the three flows: Lambda task states, retry policies, error names.

Every task state calls a Lambda function through the optimised integration
``arn:aws:states:::lambda:invoke`` with ``"FunctionName": "${<Name>FunctionArn}"``
(docs/contracts.md), so one definition deploys to AWS (CloudFormation
``DefinitionSubstitutions``) and runs on the local engine (which substitutes local ARNs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from kbflow.workflows.asl import Catch, Json, PathField, Retry, Task
from stepfunctions.steps import states as sdk

__all__ = [
    "ALL",
    "HEARTBEAT_TIMEOUT",
    "LAMBDA_INVOKE",
    "LAMBDA_INVOKE_WAIT",
    "S3_LIST_OBJECTS",
    "STATE_TIMEOUT_MARGIN",
    "START_EXECUTION",
    "TIMEOUT",
    "TRANSIENT_ERRORS",
    "TRANSIENT_FETCH_ERROR",
    "StepSpec",
    "catch_all",
    "chain",
    "payload_step",
    "function_arn",
    "lambda_task",
    "transient_retry",
]

LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_WAIT: Final = "arn:aws:states:::lambda:invoke.waitForTaskToken"
START_EXECUTION: Final = "arn:aws:states:::states:startExecution"
S3_LIST_OBJECTS: Final = "arn:aws:states:::s3:listObjectsV2"

ALL: Final = "States.ALL"
TIMEOUT: Final = "States.Timeout"
HEARTBEAT_TIMEOUT: Final = "States.HeartbeatTimeout"

TRANSIENT_ERRORS: Final[tuple[str, ...]] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Kbflow.TransientStoreError",
)
"""Errors that go away by themselves; every Lambda task retries them (docs/contracts.md)."""

TRANSIENT_FETCH_ERROR: Final = "Kbflow.TransientFetchError"
"""A web site said "later" (429/502/503/504) or could not be reached; fetch tasks retry it."""

STATE_TIMEOUT_MARGIN: Final = 30
"""Seconds a task state waits beyond its Lambda's own timeout before ``States.Timeout``."""


def function_arn(name: str) -> str:
    """The ``${<Name>FunctionArn}`` placeholder of a task function.

    Args:
        name: Logical function name from ``kbflow.tasks.catalog`` (e.g. ``FetchDocument``).

    Returns:
        The placeholder string substituted at deploy time (or by the local engine).
    """
    return "${" + name + "FunctionArn}"


def transient_retry(*, idempotent: bool = True, fetches: bool = False) -> list[Retry]:
    """Retriers for a Lambda task: jittered exponential backoff on transient errors.

    Args:
        idempotent: Also retry ``States.Timeout`` (only safe when re-running the task is harmless).
        fetches: The task fetches from a web site: retry ``Kbflow.TransientFetchError`` slowly
            (a busy site is not helped by a quick second request).

    Returns:
        One or two retriers, most specific first.
    """
    retriers = [
        Retry(
            error_equals=TRANSIENT_ERRORS,
            interval_seconds=2,
            max_attempts=6,
            backoff_rate=2.0,
            max_delay_seconds=60,
            jitter_strategy="FULL",
            comment="Throttling and transient service errors: back off with full jitter",
        )
    ]
    if fetches:
        retriers.append(
            Retry(
                error_equals=[TRANSIENT_FETCH_ERROR],
                interval_seconds=5,
                max_attempts=3,
                backoff_rate=3.0,
                max_delay_seconds=60,
                jitter_strategy="FULL",
                comment="The site was busy or unreachable: try again later, then give up",
            )
        )
    if idempotent:
        retriers.append(
            Retry(
                error_equals=[TIMEOUT],
                interval_seconds=5,
                max_attempts=2,
                backoff_rate=2.0,
                max_delay_seconds=30,
                jitter_strategy="FULL",
                comment="The task is idempotent, so a timed-out attempt is simply run again",
            )
        )
    return retriers


def catch_all(next_step: sdk.State | sdk.Chain, *, result_path: str = "$.error") -> list[Catch]:
    """A single catcher sending every catchable error to ``next_step`` with the error recorded.

    Args:
        next_step: Where to go (a quarantine or failure state).
        result_path: Where ``{"Error", "Cause"}`` lands in the state input.

    Returns:
        A one-element catcher list.
    """
    return [Catch(error_equals=[ALL], next_step=next_step, result_path=result_path)]


def lambda_task(
    state_id: str,
    *,
    function: str,
    comment: str,
    timeout_seconds: int,
    payload: Json = "$",
    result_selector: Mapping[str, Json] | None = None,
    result_path: PathField = None,
    output_path: PathField = None,
    catch: Sequence[Catch] = (),
    idempotent: bool = True,
    fetches: bool = False,
) -> Task:
    """A JSONPath Lambda task state with kbflow's retry policy.

    Args:
        state_id: Console-friendly state name.
        function: Logical function name (placeholder ``${<function>FunctionArn}``).
        comment: What the task does.
        timeout_seconds: The Lambda function's own timeout; the state adds a margin.
        payload: ``"$"``-style JSONPath for the whole payload, or a payload template object.
        result_selector: Template applied to the Lambda response (``$.Payload`` is the result).
        result_path: Where the selected result goes in the input.
        output_path: JSONPath selecting the state output (e.g. ``$.Payload``).
        catch: Catchers.
        idempotent: Whether ``States.Timeout`` is retried.
        fetches: Whether ``Kbflow.TransientFetchError`` is retried (web fetches).

    Returns:
        The task state.
    """
    params: dict[str, Json] = {"FunctionName": function_arn(function)}
    if isinstance(payload, str):
        params["Payload.$"] = payload
    else:
        params["Payload"] = payload
    return Task(
        state_id,
        comment=comment,
        resource=LAMBDA_INVOKE,
        parameters=params,
        result_selector=result_selector,
        result_path=result_path,
        output_path=output_path,
        timeout_seconds=timeout_seconds + STATE_TIMEOUT_MARGIN,
        retry=transient_retry(idempotent=idempotent, fetches=fetches),
        catch=catch,
    )


StepSpec = tuple[str, str, int, str]
"""(state name, task function, Lambda timeout in seconds, comment)."""


def payload_step(catch: Sequence[Catch]) -> Callable[[StepSpec], Task]:
    """Factory of Lambda tasks that take the whole state as payload and return the new state.

    Args:
        catch: Catchers every produced task gets.

    Returns:
        ``step(spec) -> Task`` with ``"Payload.$": "$"`` and ``OutputPath: "$.Payload"``.
    """

    def step(spec: StepSpec) -> Task:
        name, function, timeout, comment = spec
        return lambda_task(
            name,
            function=function,
            timeout_seconds=timeout,
            comment=comment,
            output_path="$.Payload",
            catch=catch,
        )

    return step


def chain(tasks: Sequence[Task], then: sdk.State | sdk.Chain) -> Task:
    """Link ``tasks`` in order, the last one to ``then``; returns the first.

    Args:
        tasks: At least one task.
        then: Where the last task goes.

    Returns:
        The first task.
    """
    for current, following in zip(tasks, tasks[1:], strict=False):
        current.next(following)
    tasks[-1].next(then)
    return tasks[0]
