"""AWS JSON 1.0 protocol for the Step Functions API: request parsing, encoding and errors.

A request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` and a JSON object
body; a response is a JSON object. Errors are ``{"__type": "<namespace>#<Code>", "message":
...}`` with a 4xx status, which botocore turns into a ``ClientError`` whose
``response["Error"]["Code"]`` is ``<Code>`` (the part after ``#``)::

    HTTP/1.1 400
    {"__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
     "message": "Execution Does Not Exist: 'arn:...'"}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from kbflow.errors import (
    BackendError,
    ConfigurationError,
    DefinitionError,
    KbflowError,
    ValidationError,
)

__all__ = [
    "ApiError",
    "ERROR_NAMESPACE",
    "Params",
    "dumps",
    "error_body",
    "from_kbflow_error",
    "parse_body",
    "parse_target",
]

JSON = Any
ERROR_NAMESPACE: Final = "com.amazonaws.swf.service.v2.model"
TARGET_PREFIX: Final = "AWSStepFunctions."
_OPERATION: Final = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ARN: Final = re.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:"
    r"(?P<kind>stateMachine|execution|express|activity|mapRun|stateMachineAlias):(?P<rest>.+)$"
)


class ApiError(Exception):
    """A request the API refuses, with AWS's error code and HTTP status.

    Args:
        code: AWS's error code, e.g. ``ExecutionDoesNotExist``.
        message: the human-readable message.
        status: the HTTP status (400 for client errors).
    """

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}")


def error_body(code: str, message: str) -> dict[str, str]:
    """The JSON body AWS returns for an error."""
    return {"__type": f"{ERROR_NAMESPACE}#{code}", "message": message}


def from_kbflow_error(exc: KbflowError) -> ApiError:
    """Translate an engine error into the API error AWS would return.

    Args:
        exc: any error from kbflow's error tree.

    Returns:
        The API error (code, message, status).
    """
    if isinstance(exc, BackendError):
        return ApiError(exc.code, str(exc))
    if isinstance(exc, DefinitionError):
        detail = "; ".join(str(p) for p in exc.problems[:20]) or str(exc)
        return ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{detail}'")
    if isinstance(exc, ValidationError):
        text = str(exc)
        if "name" in text.lower():
            return ApiError("InvalidName", text)
        return ApiError("InvalidExecutionInput", text)
    if isinstance(exc, ConfigurationError):
        return ApiError("ValidationException", str(exc))
    return ApiError("ValidationException", str(exc) or type(exc).__name__)


def parse_target(header: str | None) -> str:
    """The operation named by an ``X-Amz-Target`` header.

    Raises:
        ApiError: ``UnknownOperationException`` when the header is missing or malformed.
    """
    if not header or not header.startswith(TARGET_PREFIX):
        raise ApiError("UnknownOperationException", "Missing or invalid X-Amz-Target header")
    op = header[len(TARGET_PREFIX) :]
    if not _OPERATION.match(op):
        raise ApiError("UnknownOperationException", "Unknown operation")
    return op


def parse_body(raw: bytes) -> dict[str, JSON]:
    """Decode a request body: a JSON object (an empty body is ``{}``).

    Raises:
        ApiError: ``SerializationException`` for anything else.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: JSON) -> bytes:
    """Encode a response; datetimes become epoch seconds, as AWS's JSON protocol sends them."""
    return json.dumps(value, default=_default, separators=(",", ":")).encode()


class Params:
    """Typed access to a request's members, raising AWS's validation errors.

    Args:
        body: the decoded request object.
    """

    def __init__(self, body: Mapping[str, JSON]) -> None:
        self.body = body

    def string(self, key: str, *, required: bool = False, max_len: int = 1024 * 1024) -> str | None:
        """A string member (``ValidationException`` if it has the wrong type or is too long)."""
        value = self.body.get(key)
        if value is None:
            if required:
                raise ApiError(
                    "ValidationException",
                    f"1 validation error detected: Value null at '{key}' failed to "
                    "satisfy constraint: Member must not be null",
                )
            return None
        if not isinstance(value, str):
            raise ApiError(
                "SerializationException",
                f"Expected a string for '{key}', got {type(value).__name__}",
            )
        if len(value) > max_len:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value at '{key}' failed to satisfy "
                f"constraint: Member must have length less than or equal to {max_len}",
            )
        return value

    def required(self, key: str, *, max_len: int = 1024 * 1024) -> str:
        """A required string member."""
        value = self.string(key, required=True, max_len=max_len)
        assert value is not None
        return value

    def integer(self, key: str, *, default: int, low: int, high: int) -> int:
        """An integer member within ``[low, high]`` (``0``/absent means ``default``)."""
        value = self.body.get(key)
        if value is None or value == 0:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and (not math.isfinite(value) or value != int(value)))
        ):
            raise ApiError("SerializationException", f"Expected an integer for '{key}'")
        if not low <= int(value) <= high:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{value}' at '{key}' failed to "
                f"satisfy constraint: Member must have value between {low} and {high}",
            )
        return int(value)

    def boolean(self, key: str, *, default: bool = False) -> bool:
        """A boolean member."""
        value = self.body.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ApiError("SerializationException", f"Expected a boolean for '{key}'")
        return value

    def tags(self, key: str = "tags") -> list[dict[str, str]]:
        """A list of ``{"key", "value"}`` tags."""
        value = self.body.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("key"), str)
            and isinstance(t.get("value", ""), str)
            for t in value
        ):
            raise ApiError("ValidationException", f"'{key}' must be a list of key/value tags")
        if len(value) > 50:
            raise ApiError("TooManyTags", "A resource can have at most 50 tags")
        return [{"key": t["key"], "value": t.get("value", "")} for t in value]

    def strings(self, key: str) -> list[str]:
        """A required list of strings."""
        value = self.body.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError("ValidationException", f"'{key}' must be a list of strings")
        return value

    def arn(self, key: str, *kinds: str, required: bool = True) -> str | None:
        """An ARN member of one of ``kinds`` (``InvalidArn`` otherwise)."""
        value = self.string(key, required=required, max_len=2048)
        if value is None:
            return None
        check_arn(value, *kinds)
        return value


def check_arn(value: str, *kinds: str) -> str:
    """Check that ``value`` is a Step Functions ARN of one of ``kinds``; return its kind.

    Raises:
        ApiError: ``InvalidArn`` as AWS words it.
    """
    match = _ARN.match(value)
    if match is None:
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {value}'")
    kind = match.group("kind")
    if kinds and kind not in kinds:
        raise ApiError(
            "InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {kind}'"
        )
    return kind
