"""Execution history: GetExecutionHistory-shaped events, the durable log of an execution.

Each event is a plain dict, exactly as ``GetExecutionHistory`` returns it::

    {"id": 3, "previousEventId": 2, "timestamp": datetime, "type": "TaskScheduled",
     "taskScheduledEventDetails": {...}}

Ids are allocated per execution (concurrent Map iterations and Parallel branches share one
sequence); ``previousEventId`` is the last event of the same branch, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from typing import Any, Final

from kbflow.errors import StatesError

__all__ = ["MAX_EVENTS", "History", "HistoryLimitExceeded", "details_key", "payload"]

MAX_EVENTS: Final = 25_000
"""AWS's limit on the number of events in one execution's history."""

_DETAILS_CACHE: dict[str, str] = {}


class HistoryLimitExceeded(StatesError):
    """The execution reached AWS's 25,000-event history limit."""

    def __init__(self) -> None:
        super().__init__(
            "States.Runtime",
            f"The execution reached the maximum number of history events ({MAX_EVENTS}).",
        )


def details_key(event_type: str) -> str:
    """The details field of an event type (``TaskStateEntered`` → ``stateEnteredEventDetails``).

    Args:
        event_type: an AWS history event type.

    Returns:
        The name of the event's details field.
    """
    key = _DETAILS_CACHE.get(event_type)
    if key is None:
        for suffix in ("StateEntered", "StateExited"):
            if event_type.endswith(suffix) and event_type != "MapRunStarted":
                key = "state" + suffix[5:] + "EventDetails"
                break
        else:
            key = event_type[0].lower() + event_type[1:] + "EventDetails"
        _DETAILS_CACHE[event_type] = key
    return key


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODE: Final = c_make_encoder(
    None, _no_default, c_encode_basestring, None, ":", ",", False, False, True
) if c_make_encoder is not None else None


def payload(value: Any) -> str:
    """Render a JSON value as history stores it (compact JSON text, non-ASCII kept).

    Args:
        value: the payload.

    Returns:
        The JSON text.
    """
    if _ENCODE is not None:
        return "".join(_ENCODE(value, 0))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class History:
    """The ordered events of one execution.

    Args:
        now: where timestamps come from (the engine's clock).
        limit: the event limit (AWS: 25,000).
        listener: called with every new event (e.g. a durable store appending it).
    """

    __slots__ = ("_events", "_now", "_limit", "_listener")

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        limit: int = MAX_EVENTS,
        listener: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._events: list[dict[str, Any]] = []
        self._now = now
        self._limit = limit
        self._listener = listener

    def add(self, event_type: str, previous: int, details: dict[str, Any] | None = None) -> int:
        """Append an event and return its id.

        Args:
            event_type: the AWS event type, e.g. ``PassStateEntered``.
            previous: the id of the previous event of the same branch (0 for none).
            details: the typed details, stored under the type's details key.

        Returns:
            The new event's id.

        Raises:
            HistoryLimitExceeded: the history is full.
        """
        events = self._events
        event_id = len(events) + 1
        if event_id > self._limit:
            raise HistoryLimitExceeded()
        event: dict[str, Any] = {
            "id": event_id,
            "previousEventId": previous,
            "timestamp": self._now(),
            "type": event_type,
        }
        if details is not None:
            event[_DETAILS_CACHE.get(event_type) or details_key(event_type)] = details
        events.append(event)
        if self._listener is not None:
            self._listener(event)
        return event_id

    def force(self, event_type: str, previous: int, details: dict[str, Any] | None = None) -> int:
        """Append a closing event even past the limit (the execution's final event)."""
        limit, self._limit = self._limit, self._limit + 10
        try:
            return self.add(event_type, previous, details)
        finally:
            self._limit = limit

    @property
    def last_id(self) -> int:
        """The id of the newest event (0 when empty)."""
        return len(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._events))

    def page(self, *, reverse: bool = False, max_results: int = 1000,
             next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of events, as ``GetExecutionHistory`` pages them.

        Args:
            reverse: newest first.
            max_results: page size (1..1000).
            next_token: the token returned with the previous page.

        Returns:
            The events and the token of the next page (None on the last page).
        """
        events = self._events[::-1] if reverse else self._events
        start = int(next_token) if next_token else 0
        end = start + max(1, min(max_results, 1000))
        return [dict(e) for e in events[start:end]], (str(end) if end < len(events) else None)
