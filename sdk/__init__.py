"""kbflow: GenAI data-integration workflows on AWS Step Functions.

The public face of kbflow. Everything a user needs is re-exported here (see ``__all__``);
all other modules are private.
"""

from __future__ import annotations

from kbflow._backends._api import ApiBackend, ApiRequest
from kbflow._backends.aws import AwsBackend
from kbflow._backends.base import BaseBackend
from kbflow._backends.local import LocalBackend
from kbflow._backends.mock import MockBackend
from kbflow._client import Client
from kbflow._models import Decision, Execution, ExecutionStatus, HistoryEvent, Page, Review
from kbflow._polling import Polling
from kbflow._registry import Registry
from kbflow._reviews import Reviews, ReviewSource, StoreReviewSource
from kbflow._tracking import StatusChange, StatusQueue
from kbflow._version import __version__
from kbflow.errors import (
    BackendError,
    ConfigurationError,
    DefinitionError,
    ExecutionAborted,
    ExecutionAlreadyExists,
    ExecutionError,
    ExecutionFailed,
    ExecutionLimitExceeded,
    ExecutionNotFound,
    ExecutionNotRedrivable,
    ExecutionTimedOut,
    InvalidArn,
    InvalidToken,
    KbflowError,
    Problem,
    StateMachineNotFound,
    StatesError,
    TaskDoesNotExist,
    TaskTimedOut,
    Throttled,
    ValidationError,
    WaitTimeout,
)

__all__ = [
    "ApiBackend",
    "ApiRequest",
    "AwsBackend",
    "BackendError",
    "BaseBackend",
    "Client",
    "ConfigurationError",
    "Decision",
    "DefinitionError",
    "Execution",
    "ExecutionAborted",
    "ExecutionAlreadyExists",
    "ExecutionError",
    "ExecutionFailed",
    "ExecutionLimitExceeded",
    "ExecutionNotFound",
    "ExecutionNotRedrivable",
    "ExecutionStatus",
    "ExecutionTimedOut",
    "HistoryEvent",
    "InvalidArn",
    "InvalidToken",
    "KbflowError",
    "LocalBackend",
    "MockBackend",
    "Page",
    "Polling",
    "Problem",
    "Registry",
    "Review",
    "ReviewSource",
    "Reviews",
    "StateMachineNotFound",
    "StatesError",
    "StatusChange",
    "StatusQueue",
    "StoreReviewSource",
    "TaskDoesNotExist",
    "TaskTimedOut",
    "Throttled",
    "ValidationError",
    "WaitTimeout",
    "__version__",
]
