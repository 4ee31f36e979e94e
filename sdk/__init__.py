"""kbflow: GenAI data-integration workflows on AWS Step Functions.

The public face of kbflow. Everything a user needs is re-exported here (see ``__all__``);
all other modules are private.
"""

from __future__ import annotations

from kbflow._version import __version__
from kbflow.errors import (
    BackendError,
    ConfigurationError,
    DefinitionError,
    ExecutionAborted,
    ExecutionAlreadyExists,
    ExecutionError,
    ExecutionFailed,
    ExecutionNotFound,
    ExecutionTimedOut,
    InvalidToken,
    KbflowError,
    Problem,
    StateMachineNotFound,
    StatesError,
    TaskDoesNotExist,
    TaskTimedOut,
    ValidationError,
    WaitTimeout,
)

__all__ = [
    "BackendError",
    "ConfigurationError",
    "DefinitionError",
    "ExecutionAborted",
    "ExecutionAlreadyExists",
    "ExecutionError",
    "ExecutionFailed",
    "ExecutionNotFound",
    "ExecutionTimedOut",
    "InvalidToken",
    "KbflowError",
    "Problem",
    "StateMachineNotFound",
    "StatesError",
    "TaskDoesNotExist",
    "TaskTimedOut",
    "ValidationError",
    "WaitTimeout",
    "__version__",
]
