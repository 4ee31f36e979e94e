"""A backend that hands every request to a function, like ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kbflow._backends._api import ApiBackend, ApiRequest

__all__ = ["MockBackend"]


class MockBackend(ApiBackend):
    """Answer each Step Functions request with ``handler(request)``.

    The handler returns the response in boto3's shape (``{"executionArn": ..., "status": ...}``)
    or raises a :class:`kbflow.BackendError` subclass, exactly as a real backend would.

    Args:
        handler: called with each :class:`ApiRequest`.

    Example:
        >>> def handler(request: ApiRequest) -> dict[str, Any]:
        ...     assert request.operation == "SendTaskHeartbeat"
        ...     return {}
        >>> kbflow.Client(backend=MockBackend(handler)).send_task_heartbeat("token")
    """

    def __init__(self, handler: Callable[[ApiRequest], Mapping[str, Any]]) -> None:
        self.handler = handler

    def request(self, request: ApiRequest) -> Mapping[str, Any]:
        """Return ``handler(request)``.

        Args:
            request: the operation and its parameters.

        Returns:
            The handler's response.
        """
        return self.handler(request)
