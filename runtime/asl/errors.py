"""ASL error names and the one error-matching rule used by Retry and Catch.

The names are AWS's exact strings ("Error names" in the Step Functions developer guide). The
matching rule, quoted from the docs: "``States.ALL`` ... A wildcard that matches any known error
name" except ``States.DataLimitExceeded`` and ``States.Runtime`` which "cannot be caught by
``States.ALL``"; ``States.TaskFailed`` matches any error except ``States.Timeout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Final

__all__ = ["UNCATCHABLE_BY_ALL", "StatesErrorName", "error_matches"]


class StatesErrorName(StrEnum):
    """Predefined ``States.*`` error names, spelled exactly as AWS spells them."""

    ALL = "States.ALL"
    BRANCH_FAILED = "States.BranchFailed"
    DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
    EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
    HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
    INTRINSIC_FAILURE = "States.IntrinsicFailure"
    ITEM_READER_FAILED = "States.ItemReaderFailed"
    NO_CHOICE_MATCHED = "States.NoChoiceMatched"
    PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
    PERMISSIONS = "States.Permissions"
    QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
    RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
    RESULT_WRITER_FAILED = "States.ResultWriterFailed"
    RUNTIME = "States.Runtime"
    TASK_FAILED = "States.TaskFailed"
    TIMEOUT = "States.Timeout"


UNCATCHABLE_BY_ALL: Final = frozenset(
    {StatesErrorName.DATA_LIMIT_EXCEEDED.value, StatesErrorName.RUNTIME.value}
)
"""Errors that ``States.ALL`` does not match (they can still be named explicitly)."""


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    """Tell whether a Retrier/Catcher ``ErrorEquals`` list matches an error name.

    Args:
        error_equals: the ``ErrorEquals`` array of one retrier or catcher.
        error: the error name raised by the state.

    Returns:
        True when one entry names the error exactly, or is ``States.ALL`` (which does not match
        ``States.DataLimitExceeded`` or ``States.Runtime``), or is ``States.TaskFailed`` and the
        error is anything but ``States.Timeout``... restricted, as on AWS, to task errors.
    """
    for name in error_equals:
        if name == error:
            return True
        if name == StatesErrorName.ALL:
            return error not in UNCATCHABLE_BY_ALL
        if name == StatesErrorName.TASK_FAILED and _task_failed_matches(error):
            return True
    return False


def _task_failed_matches(error: str) -> bool:
    # "States.TaskFailed: A Task state failed during the execution. When used in a retry or
    # catch, States.TaskFailed acts as a wildcard that matches any known error name except for
    # States.Timeout."
    return error not in UNCATCHABLE_BY_ALL and error != StatesErrorName.TIMEOUT
