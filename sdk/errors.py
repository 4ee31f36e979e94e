"""kbflow's one error tree.

Every error kbflow raises across its public API derives from :class:`KbflowError`::

    KbflowError
    ├── DefinitionError          an ASL definition is invalid (every problem, with its JSON pointer)
    ├── ValidationError          an execution input or task payload fails its JSON Schema
    ├── ConfigurationError       bad CLI/SDK/adapter configuration
    ├── StatesError              a runtime error carrying an ASL error name (States.Runtime,
    │                            Lambda.Unknown, Kbflow.UnsupportedMediaType, ...); Retry and
    │                            Catch match on ``.error``.
    ├── BackendError             a Step Functions backend (AWS or local) refused a request
    │   ├── ExecutionNotFound
    │   ├── ExecutionAlreadyExists
    │   ├── StateMachineNotFound
    │   ├── TaskDoesNotExist
    │   ├── TaskTimedOut
    │   ├── InvalidToken
    │   ├── InvalidArn
    │   ├── ExecutionNotRedrivable
    │   ├── ExecutionLimitExceeded
    │   └── Throttled            still throttled after the SDK's retries with backoff
    ├── ExecutionError           an execution ended unsuccessfully (raised by ``Client.wait``)
    │   ├── ExecutionFailed      (.error, .cause)
    │   ├── ExecutionTimedOut
    │   └── ExecutionAborted
    └── WaitTimeout              ``Client.wait`` ran out of time while the execution still runs

Subsystems may add subclasses of these; they never raise bare ``Exception``/``ValueError`` across
the public API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BackendError",
    "ConfigurationError",
    "DefinitionError",
    "ExecutionAborted",
    "ExecutionAlreadyExists",
    "ExecutionError",
    "ExecutionFailed",
    "ExecutionLimitExceeded",
    "ExecutionNotFound",
    "ExecutionNotRedrivable",
    "ExecutionTimedOut",
    "InvalidArn",
    "InvalidToken",
    "KbflowError",
    "Problem",
    "StateMachineNotFound",
    "StatesError",
    "TaskDoesNotExist",
    "TaskTimedOut",
    "Throttled",
    "ValidationError",
    "WaitTimeout",
]


class KbflowError(Exception):
    """Root of every error kbflow raises."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a document, located by a JSON pointer (RFC 6901)."""

    pointer: str
    """Where the problem is, e.g. ``/States/Charge/Next``; ``""`` is the whole document."""
    message: str
    """What is wrong, in one sentence."""
    source: str = "kbflow"
    """Which checker reported it: ``schema``, ``statelint`` or ``kbflow``."""

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class DefinitionError(KbflowError):
    """An ASL definition is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], *, file: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.file = file
        where = f"{file}: " if file else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{where}invalid state machine definition ({count} problem(s)):\n{lines}")


class ValidationError(KbflowError):
    """A JSON document (execution input, task payload) does not match its schema."""

    def __init__(self, message: str, *, pointer: str = "", schema: str | None = None) -> None:
        self.pointer = pointer
        self.schema = schema
        super().__init__(f"{pointer or '/'}: {message}" + (f" (schema {schema})" if schema else ""))


class ConfigurationError(KbflowError):
    """kbflow was configured wrongly (CLI flags, environment, adapter settings)."""


class StatesError(KbflowError):
    """A named ASL runtime error. Retry and Catch match on :attr:`error`."""

    def __init__(self, error: str, cause: str | None = None, *, state: str | None = None) -> None:
        self.error = error
        self.cause = cause
        self.state = state
        super().__init__(f"{error}: {cause}" if cause else error)


class BackendError(KbflowError):
    """A Step Functions backend refused a request. ``code`` is AWS's error code."""

    code: str = "BackendError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message)


class ExecutionNotFound(BackendError):
    code = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(BackendError):
    code = "ExecutionAlreadyExists"


class StateMachineNotFound(BackendError):
    code = "StateMachineDoesNotExist"


class TaskDoesNotExist(BackendError):
    code = "TaskDoesNotExist"


class TaskTimedOut(BackendError):
    code = "TaskTimedOut"


class InvalidToken(BackendError):
    code = "InvalidToken"


class InvalidArn(BackendError):
    code = "InvalidArn"


class ExecutionNotRedrivable(BackendError):
    code = "ExecutionNotRedrivable"


class ExecutionLimitExceeded(BackendError):
    code = "ExecutionLimitExceeded"


class Throttled(BackendError):
    """The backend kept throttling the request after the SDK's retries with backoff."""

    code = "ThrottlingException"


class ExecutionError(KbflowError):
    """An execution ended without succeeding."""

    def __init__(self, message: str, *, execution_arn: str) -> None:
        self.execution_arn = execution_arn
        super().__init__(message)


class ExecutionFailed(ExecutionError):
    def __init__(self, error: str | None, cause: str | None, *, execution_arn: str) -> None:
        self.error = error
        self.cause = cause
        super().__init__(f"execution failed: {error}: {cause}", execution_arn=execution_arn)


class ExecutionTimedOut(ExecutionError):
    pass


class ExecutionAborted(ExecutionError):
    pass


class WaitTimeout(KbflowError):
    """``wait`` gave up while the execution was still running."""

    def __init__(self, execution_arn: str, timeout: float) -> None:
        self.execution_arn = execution_arn
        self.timeout = timeout
        super().__init__(f"execution {execution_arn} still running after {timeout:g}s")
