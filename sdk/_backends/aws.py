"""The AWS backend: boto3's ``stepfunctions`` client, with kbflow's errors and retries.

boto3 is imported only when an :class:`AwsBackend` is built, so ``import kbflow`` stays light.
Throttling and transient service errors are retried here with full-jitter exponential backoff
(botocore's own retries are switched off on clients this module builds, so a call is never
retried twice over); every other refusal becomes the matching :class:`kbflow.BackendError`.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from kbflow._backends._api import ApiBackend, ApiRequest
from kbflow._types import SleepFn
from kbflow.errors import (
    BackendError,
    ConfigurationError,
    ExecutionAlreadyExists,
    ExecutionLimitExceeded,
    ExecutionNotFound,
    ExecutionNotRedrivable,
    InvalidArn,
    InvalidToken,
    StateMachineNotFound,
    TaskDoesNotExist,
    TaskTimedOut,
    Throttled,
)

__all__ = ["AwsBackend", "translate_error"]

ERROR_CODES: Final[Mapping[str, type[BackendError]]] = {
    "ExecutionDoesNotExist": ExecutionNotFound,
    "ExecutionAlreadyExists": ExecutionAlreadyExists,
    "StateMachineDoesNotExist": StateMachineNotFound,
    "TaskDoesNotExist": TaskDoesNotExist,
    "TaskTimedOut": TaskTimedOut,
    "InvalidToken": InvalidToken,
    "InvalidArn": InvalidArn,
    "ExecutionNotRedrivable": ExecutionNotRedrivable,
    "ExecutionLimitExceeded": ExecutionLimitExceeded,
}
"""AWS error code to the kbflow error raised for it; other codes raise a plain BackendError."""

THROTTLING_CODES: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
TRANSIENT_CODES: Final = frozenset(
    {"ServiceUnavailable", "InternalServerError", "InternalFailure", "ServiceException"}
)
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def translate_error(operation: str, code: str, message: str) -> BackendError:
    """Build the kbflow error for an AWS error response.

    Args:
        operation: the API action that failed, e.g. ``"DescribeExecution"``.
        code: AWS's error code, e.g. ``"ExecutionDoesNotExist"``.
        message: AWS's error message.

    Returns:
        The matching :class:`BackendError` subclass, carrying ``code``.
    """
    if code in THROTTLING_CODES:
        return Throttled(f"{operation} still throttled after retries: {message}", code=code)
    cls = ERROR_CODES.get(code, BackendError)
    return cls(f"{operation} failed ({code}): {message}", code=code)


def _method_name(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class AwsBackend(ApiBackend):
    """Step Functions on AWS (or any endpoint speaking its API, such as ``kbflow console``).

    Args:
        client: a boto3 ``stepfunctions`` client to use as is; built from the other
            arguments when omitted.
        session: the boto3 session to build the client from (default: a new session).
        region: the AWS Region.
        endpoint_url: a Step Functions-compatible endpoint, e.g. ``http://127.0.0.1:8083``.
        max_attempts: attempts per call when throttled or on transient service errors.
        base_delay: the first retry's backoff ceiling in seconds (doubles per attempt).
        max_delay: the largest backoff ceiling in seconds.
        sleep: how to wait between attempts (inject a fake in tests).
        jitter: returns a float in [0, 1); the backoff is ``jitter() * ceiling`` (full jitter).
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        session: Any | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: SleepFn = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, got {max_attempts}")
        self.client: Any = (
            client if client is not None else _build_client(session, region, endpoint_url)
        )
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter
        url = endpoint_url or getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        if isinstance(url, str) and urlsplit(url).hostname in _LOOPBACK:
            self.console_base = url.rstrip("/")

    def request(self, request: ApiRequest) -> Mapping[str, Any]:
        """Call the API, retrying throttling and transient errors, translating the rest.

        Args:
            request: the operation and its parameters.

        Returns:
            boto3's response without ``ResponseMetadata``.

        Raises:
            BackendError: the request was refused, or still throttled after ``max_attempts``.
        """
        from botocore.exceptions import (  # type: ignore[import-untyped,unused-ignore]
            BotoCoreError,
            ClientError,
        )

        method = getattr(self.client, _method_name(request.operation))
        attempt = 1
        while True:
            try:
                response: dict[str, Any] = method(**request.params)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
                if self._retryable(code) and attempt < self.max_attempts:
                    self._backoff(attempt)
                    attempt += 1
                    continue
                message = str(exc.response.get("Error", {}).get("Message", exc))
                raise translate_error(request.operation, code, message) from exc
            except BotoCoreError as exc:
                if attempt < self.max_attempts:
                    self._backoff(attempt)
                    attempt += 1
                    continue
                name = type(exc).__name__
                raise BackendError(f"{request.operation} failed: {exc}", code=name) from exc
            response.pop("ResponseMetadata", None)
            return response

    def close(self) -> None:
        """Close the boto3 client's connections."""
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    @staticmethod
    def _retryable(code: str) -> bool:
        return code in THROTTLING_CODES or code in TRANSIENT_CODES

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        self._sleep(self._jitter() * ceiling)


def _build_client(session: Any | None, region: str | None, endpoint_url: str | None) -> Any:
    import boto3  # type: ignore[import-untyped,unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

    session = session if session is not None else boto3.session.Session()
    # kbflow retries throttling itself (above); botocore retrying too would multiply attempts.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return session.client(
        "stepfunctions", region_name=region, endpoint_url=endpoint_url, config=config
    )
