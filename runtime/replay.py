"""Deterministic replay: how a durable execution resumes after a crash and how redrive works.

Why replay (and not per-branch checkpoints)
-------------------------------------------
The interpreter keeps an execution's position in coroutine frames (a Map iteration's frame,
a Parallel branch's frame, a retry loop's counters); none of that is data a store can save
without changing every state runner. Replay needs no such change: a resumed execution runs
again from its recorded start, with two substitutions:

* **Task outcomes come from the journal.** Every completed task attempt (Lambda function,
  ``lambda:invoke``, ``states:startExecution``, activities) is journaled with a key (the
  state's name plus a hash of its resource and parameters, the task token masked), the id of
  the event it started after and the id of its last event. During replay a task whose key has
  a journaled outcome returns that outcome (result, or error for Retry and Catch to see)
  instead of invoking anything, and its branch continues from the recorded last event; equal
  keys (the same call in several branches) go to the branch that started after the same
  event, else in order. A task
  with no journaled outcome (in flight at the crash, or never started) is invoked: at-least-
  once, as Lambda retries. Because the rest of the interpreter is deterministic given task
  outcomes, the replay re-creates the same frames, Map iterations, Parallel branches and
  variables, so inline Map, Parallel and nested combinations need nothing special.
* **History is matched, not re-recorded.** :class:`ReplayHistory` starts with the recorded
  events; an event the replay produces that equals a recorded one (same type, previous event
  and details) takes the recorded id and is not written again; the first events that differ
  are new and get the next ids. So the durable history reads as one continuous execution.

Time: a Wait or retry back-off replayed after its recorded start only sleeps what is left of
it (:func:`install_replay_sleep` measures from the timestamp of the event just before it).
Distributed Map children (and Map Run ARNs, nested executions started without a ``Name``, and
task tokens) get deterministic names, so a replayed Map Run finds its children in the store:
succeeded children are not run again, running ones resume, and on redrive failed ones are
redriven; a reviewer's task token from before the crash still completes the task.

Redrive is replay after dropping the journaled errors no Catch handled: the successful task
outcomes (and caught failures) replay from the journal, the failed tasks run again — AWS's
"restart from the unsuccessful state; only failed iterations and branches rerun". The events
of the branches that ended unsuccessfully are not matched again, so what reruns appears as
new events after ``ExecutionRedriven``.

Limits: replay assumes the definition is deterministic given task results. ``States.UUID``,
``States.MathRandom``, ``$random``/``$uuid`` and ``$$.State.EnteredTime`` fed into a task's
parameters change its key, so such a task is invoked again after a crash.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from .history import History, details_key, payload
from .store import JournalEntry, dump_details

if TYPE_CHECKING:
    from .execution import Run
    from .tasks import TaskCall

__all__ = ["Journal", "ReplayHistory", "dump_details", "install_replay_sleep", "task_key"]

JSON = Any
_TOKEN_MASK: Final = "<task-token>"
_UNSUCCESSFUL: Final = ("Failed", "Aborted", "TimedOut")


def task_key(call: TaskCall) -> str:
    """The journal key of a task attempt: state name and a hash of its parameters."""
    text = payload(call.parameters)
    if call.token:
        text = text.replace(call.token, _TOKEN_MASK)
    digest = hashlib.sha256(f"{call.resource.arn}\n{text}".encode()).hexdigest()[:32]
    return f"{call.plan.name}:{digest}"


class Journal:
    """The journaled task outcomes of one execution, consumed in order during replay.

    Args:
        entries: ``(seq, entry)`` pairs from the store.
    """

    def __init__(self, entries: list[tuple[int, JournalEntry]] | None = None) -> None:
        self._by_key: dict[str, deque[JournalEntry]] = {}
        self._next = 1
        for seq, entry in entries or []:
            self._by_key.setdefault(entry.key, deque()).append(entry)
            self._next = max(self._next, seq + 1)

    def take(self, key: str, start_id: int = 0) -> JournalEntry | None:
        """The next journaled outcome for ``key`` (removed), or None.

        Among equal keys (the same task with the same parameters in several branches), the
        one recorded after the same event (``start_id``) is preferred, so each branch gets its
        own outcome back and its history continues from its own events.
        """
        found = self._by_key.get(key)
        if not found:
            return None
        for entry in found:
            if entry.start_id == start_id:
                found.remove(entry)
                break
        else:
            entry = found.popleft()
        if not found:
            del self._by_key[key]
        return entry

    def next_seq(self) -> int:
        """Allocate the sequence number of a new entry."""
        seq = self._next
        self._next += 1
        return seq

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())


class ReplayHistory(History):
    """A history preloaded with recorded events that replayed events are matched against.

    Args:
        now: the clock's ``now``.
        rows: recorded ``(id, previous id, timestamp, type, details text)``, ids 1..K.
        limit: the event limit.
        listener: called with every *new* event (the store appends it).
    """

    __slots__ = ("_exact", "_loose", "_left", "_recorded", "last_ts", "matched")

    def __init__(self, now: Callable[[], datetime],
                 rows: list[tuple[int, int, float, str, str | None]],
                 *, limit: int, listener: Callable[[dict[str, Any]], None] | None) -> None:
        super().__init__(now, limit=limit, listener=listener)
        self._exact: dict[tuple[str, int, str | None], deque[int]] = {}
        self._loose: dict[tuple[str, str | None], deque[int]] = {}
        self._left: set[int] = set()
        self.last_ts: datetime | None = None
        self.matched = 0
        events = self._events
        for event_id, prev, stamp, event_type, text in rows:
            if event_id != len(events) + 1:
                break  # a gap cannot happen (commits are prefixes); stop at it to stay safe
            event: dict[str, Any] = {"id": event_id, "previousEventId": prev,
                                     "timestamp": datetime.fromtimestamp(stamp, UTC),
                                     "type": event_type}
            if text is not None:
                event[details_key(event_type)] = json.loads(text)
            events.append(event)
            self._exact.setdefault((event_type, prev, text), deque()).append(event_id)
            self._loose.setdefault((event_type, text), deque()).append(event_id)
            self._left.add(event_id)
        self._recorded = len(events)

    @property
    def replaying(self) -> bool:
        """True while recorded events are still waiting to be matched."""
        return bool(self._left)

    def _take(self, ids: deque[int] | None) -> int | None:
        left = self._left
        while ids:
            event_id = ids.popleft()
            if event_id in left:
                left.discard(event_id)
                return event_id
        return None

    def add(self, event_type: str, previous: int, details: dict[str, Any] | None = None) -> int:
        """Match a replayed event to a recorded one (its id), else append a new event.

        An event matches a recorded one with the same type, previous event and details. Events
        whose previous id the interpreter takes from the newest event (``last_id``, e.g.
        ``MapStateSucceeded``) cannot carry the recorded previous id, so while no new event has
        been appended they match on type and details alone.
        """
        if self._left:
            text = dump_details(details)
            event_id = self._take(self._exact.get((event_type, previous, text)))
            if event_id is None and previous == len(self._events) == self._recorded:
                event_id = self._take(self._loose.get((event_type, text)))
            if event_id is not None:
                self.matched += 1
                self.last_ts = self._events[event_id - 1]["timestamp"]
                return event_id
        event_id = super().add(event_type, previous, details)
        self.last_ts = self._events[-1]["timestamp"]
        return event_id

    def forget_unsuccessful(self) -> int:
        """Stop matching the events of branches that ended unsuccessfully (redrive).

        A branch's end is an event no other event follows; when it is a ``*Failed``,
        ``*Aborted`` or ``*TimedOut`` event, it and the events leading only to it are not
        matched again, so the redriven states appear as new events after ``ExecutionRedriven``.
        Returns how many events were set aside.
        """
        successors: dict[int, int] = {}
        for event in self._events:
            prev = event["previousEventId"]
            successors[prev] = successors.get(prev, 0) + 1
        dropped = 0
        for event in self._events:
            if successors.get(event["id"]) or not event["type"].endswith(_UNSUCCESSFUL):
                continue
            current: dict[str, Any] | None = event
            while current is not None and current["id"] in self._left:
                self._left.discard(current["id"])
                dropped += 1
                prev = current["previousEventId"]
                current = self._events[prev - 1] if 0 < prev <= len(self._events) and (
                    successors.get(prev) == 1) else None
        return dropped

    def add_new(self, event_type: str, details: dict[str, Any] | None = None) -> int:
        """Append an event without matching (e.g. ``ExecutionRedriven``)."""
        event_id = History.add(self, event_type, self.last_id, details)
        self.last_ts = self._events[-1]["timestamp"]
        return event_id


def install_replay_sleep(run: Run, history: ReplayHistory) -> None:
    """Make ``run`` sleep only what is left of a wait that started before the crash."""
    clock = run.clock

    async def sleep(seconds: float) -> None:
        if seconds > 0 and history.last_ts is not None:
            seconds -= (clock.now() - history.last_ts).total_seconds()
        if seconds > 0:
            await asyncio.sleep(seconds)

    run.sleep = sleep  # type: ignore[method-assign]
