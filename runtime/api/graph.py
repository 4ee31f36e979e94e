"""What the console draws: a definition as a graph, and what happened to each state.

:func:`graph_of` turns an ASL definition into nodes and edges for the browser's layout
library (dagre): each state is a node; a Map or Parallel state is a container holding its
head node (the state itself), its inner states and a join node, so edges never attach to a
container (which layered layouts handle badly). :func:`state_runs` folds an execution's
history into one summary per state: status (``succeeded``, ``failed``, ``caught``,
``running``, ``aborted``; absent = not reached), how often it was entered, its last input,
output, error and cause, its retries, and Map iteration counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["StateRun", "fail_errors", "graph_of", "state_runs", "taken_transitions"]

JSON = Any
START: Final = "__start__"
END: Final = "__end__"
_SCHEDULED: Final = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_FAILED: Final = (
    "TaskFailed",
    "LambdaFunctionFailed",
    "ActivityFailed",
    "TaskTimedOut",
    "LambdaFunctionTimedOut",
    "ActivityTimedOut",
    "MapStateFailed",
    "ParallelStateFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
    "MapRunFailed",
    "EvaluationFailed",
)
_SUCCEEDED: Final = ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")


def _join(name: str) -> str:
    return f"{name}\u0000end"


def graph_of(definition: Mapping[str, JSON]) -> dict[str, JSON]:
    """Nodes and edges of a definition (states nested in Map/Parallel get a ``parent``)."""
    nodes: list[dict[str, JSON]] = [
        {"id": START, "type": "Start", "label": "Start"},
        {"id": END, "type": "End", "label": "End"},
    ]
    edges: list[dict[str, JSON]] = []
    entry = _add_scope(definition, None, nodes, edges, END)
    if entry is not None:
        edges.insert(0, {"source": START, "target": entry, "kind": "next"})
    return {"nodes": nodes, "edges": edges}


def _add_scope(
    scope: Mapping[str, JSON],
    parent: str | None,
    nodes: list[dict[str, JSON]],
    edges: list[dict[str, JSON]],
    exit_to: str,
) -> str | None:
    """Add one scope's states; ``exit_to`` receives edges from its terminal states."""
    found = scope.get("States")
    states: Mapping[str, JSON] = found if isinstance(found, Mapping) else {}
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        kind = str(state.get("Type", "?"))
        out_of = name
        if kind in ("Map", "Parallel"):
            out_of = _add_container(name, state, kind, parent, nodes, edges)
        else:
            nodes.append({"id": name, "type": kind, "label": name, "parent": parent})
        _add_transitions(out_of, state, kind, edges, exit_to)
    start = scope.get("StartAt")
    return start if isinstance(start, str) and start in states else None


def _add_container(
    name: str,
    state: Mapping[str, JSON],
    kind: str,
    parent: str | None,
    nodes: list[dict[str, JSON]],
    edges: list[dict[str, JSON]],
) -> str:
    box = f"{name}\u0000box"
    nodes.append({"id": box, "type": "Container", "label": name, "parent": parent, "state": name})
    nodes.append({"id": name, "type": kind, "label": name, "parent": box})
    nodes.append({"id": _join(name), "type": "Join", "label": "", "parent": box})
    scopes = (
        state.get("Branches")
        if kind == "Parallel"
        else [state.get("ItemProcessor") or state.get("Iterator")]
    )
    for sub in scopes or ():
        if isinstance(sub, Mapping):
            first = _add_scope(sub, box, nodes, edges, _join(name))
            if first is not None:
                edges.append({"source": name, "target": first, "kind": "next"})
    return _join(name)


def _add_transitions(
    source: str, state: Mapping[str, JSON], kind: str, edges: list[dict[str, JSON]], exit_to: str
) -> None:
    targets: list[tuple[str, str]] = []
    if isinstance(state.get("Next"), str):
        targets.append((state["Next"], "next"))
    for rule in state.get("Choices") or ():
        if isinstance(rule, Mapping) and isinstance(rule.get("Next"), str):
            targets.append((rule["Next"], "choice"))
    if isinstance(state.get("Default"), str):
        targets.append((state["Default"], "default"))
    for catcher in state.get("Catch") or ():
        if isinstance(catcher, Mapping) and isinstance(catcher.get("Next"), str):
            targets.append((catcher["Next"], "catch"))
    if state.get("End") is True or kind in ("Succeed", "Fail"):
        targets.append((exit_to, "end"))
    seen: set[tuple[str, str]] = set()
    for target, edge_kind in targets:
        if (target, edge_kind) not in seen:
            seen.add((target, edge_kind))
            edges.append({"source": source, "target": target, "kind": edge_kind})


@dataclass(slots=True)
class StateRun:
    """What happened to one state across all its entries."""

    name: str
    status: str = "running"
    entered: int = 0
    input: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    retries: list[dict[str, JSON]] = field(default_factory=list)
    """Failed attempts that were retried: ``{"attempt", "error", "cause"}``."""
    counts: dict[str, int] = field(default_factory=dict)
    """Entries by final status."""
    iterations: dict[str, int] = field(default_factory=dict)
    """Map: ``total``, ``succeeded``, ``failed`` (a distributed Map counts its items)."""
    map_runs: list[str] = field(default_factory=list)
    """Distributed Map: the ARNs of its Map Runs."""
    children: list[dict[str, JSON]] = field(default_factory=list)
    """Distributed Map: its child executions (filled in by the console)."""

    def to_json(self) -> dict[str, JSON]:
        """The JSON the console receives."""
        return {
            "name": self.name,
            "status": self.status,
            "entered": self.entered,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "retries": self.retries,
            "counts": self.counts,
            "iterations": self.iterations,
            "mapRuns": self.map_runs,
            "children": self.children,
        }


@dataclass(slots=True)
class _Entry:
    name: str
    kind: str
    status: str = "running"
    attempts: int = 0
    failed: bool = False
    error: str | None = None
    cause: str | None = None


def _details(event: Mapping[str, JSON]) -> Mapping[str, JSON]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _container_kind(event_type: str) -> str | None:
    """``Map``/``Parallel`` for a container's own lifecycle events (not its iterations)."""
    for kind in ("Map", "Parallel"):
        if event_type.startswith(f"{kind}State") and not event_type.endswith(("Entered", "Exited")):
            return kind
    return "Map" if event_type.startswith("MapRun") else None


class _Folder:
    """Folds history events into per-state summaries (one pass, in event order).

    Events are attributed to a state entry by following ``previousEventId`` back to the
    entry's ``*StateEntered`` event. A container's closing events chain through its last
    iteration or branch, so those (and ``*StateExited``) are matched by kind or name to the
    newest open entry instead when the chain leads elsewhere.
    """

    def __init__(self) -> None:
        self.runs: dict[str, StateRun] = {}
        self.entries: list[_Entry] = []
        self.open: list[_Entry] = []
        self.entry_of: dict[int, _Entry] = {}
        self.taken: set[tuple[str, str]] = set()
        """Transitions that happened: ``(from state, to state)``."""

    def run(self, name: str) -> StateRun:
        found = self.runs.get(name)
        if found is None:
            found = self.runs[name] = StateRun(name)
        return found

    def _newest_open(self, *, name: str | None = None, kind: str | None = None) -> _Entry | None:
        for entry in reversed(self.open):
            if (name is None or entry.name == name) and (kind is None or entry.kind == kind):
                return entry
        return None

    def _owner(
        self, kind: str, details: Mapping[str, JSON], chained: _Entry | None
    ) -> _Entry | None:
        if kind.startswith("MapIteration"):
            return self._newest_open(name=str(details.get("name")), kind="Map")
        if kind.endswith("StateExited"):
            name = str(details.get("name"))
            return (
                chained
                if chained is not None and chained.name == name
                else (self._newest_open(name=name))
            )
        container = _container_kind(kind)
        if container is not None and (chained is None or chained.kind != container):
            return self._newest_open(kind=container)
        return chained

    def add(self, event: Mapping[str, JSON]) -> None:
        kind, details = str(event["type"]), _details(event)
        chained = self.entry_of.get(int(event.get("previousEventId") or 0))
        if kind.endswith("StateEntered"):
            self._entered(event, details, chained)
            return
        entry = self._owner(kind, details, chained)
        if entry is None:
            return
        self.entry_of[int(event["id"])] = entry
        if kind.endswith("StateExited"):
            entry.status = "caught" if entry.failed else "succeeded"
            self.run(entry.name).output = details.get("output")
            if entry in self.open:
                self.open.remove(entry)
        elif kind.startswith("MapIteration"):
            self._iteration(entry, kind, details)
        elif kind in _SCHEDULED:
            self._scheduled(entry)
        elif kind in _FAILED:
            self._failed(entry, kind, details)
        elif kind in _SUCCEEDED:
            entry.failed = False
        elif kind == "MapStateStarted":
            self._iteration(entry, kind, details)
        elif kind == "MapRunStarted" and details.get("mapRunArn"):
            self.run(entry.name).map_runs.append(str(details["mapRunArn"]))

    def _entered(
        self, event: Mapping[str, JSON], details: Mapping[str, JSON], previous: _Entry | None
    ) -> None:
        if previous is not None and previous.status == "running" and previous.failed:
            previous.status = "caught"  # a Catch moved on to another state
            if previous in self.open:
                self.open.remove(previous)
        kind = str(event["type"])[: -len("StateEntered")]
        entry = _Entry(str(details.get("name", "?")), kind)
        if previous is not None:
            self.taken.add((previous.name, entry.name))
        self.entries.append(entry)
        self.open.append(entry)
        self.entry_of[int(event["id"])] = entry
        run = self.run(entry.name)
        run.entered += 1
        run.input = details.get("input")
        if kind == "Fail":
            entry.status, entry.failed = "failed", True
            self.open.remove(entry)

    def _scheduled(self, entry: _Entry) -> None:
        entry.attempts += 1
        if entry.attempts > 1 and entry.failed:
            self.run(entry.name).retries.append(
                {"attempt": entry.attempts - 1, "error": entry.error, "cause": entry.cause}
            )
            entry.failed = False

    def _failed(self, entry: _Entry, kind: str, details: Mapping[str, JSON]) -> None:
        if kind.startswith("Execution"):
            if entry.status == "running":
                entry.status = "aborted" if kind == "ExecutionAborted" else "failed"
            return
        entry.failed = True
        entry.error, entry.cause = details.get("error"), details.get("cause")
        run = self.run(entry.name)
        run.error, run.cause = entry.error, entry.cause

    def _iteration(self, entry: _Entry, kind: str, details: Mapping[str, JSON]) -> None:
        counts = self.run(entry.name).iterations
        if kind == "MapStateStarted":
            counts["total"] = counts.get("total", 0) + int(details.get("length", 0) or 0)
        elif kind == "MapIterationSucceeded":
            counts["succeeded"] = counts.get("succeeded", 0) + 1
        elif kind in ("MapIterationFailed", "MapIterationAborted"):
            counts["failed"] = counts.get("failed", 0) + 1

    def finish(self, execution_status: str) -> dict[str, StateRun]:
        for entry in self.entries:
            if entry.status == "running" and execution_status != "RUNNING":
                entry.status = "aborted" if execution_status == "ABORTED" else "failed"
            run = self.run(entry.name)
            run.counts[entry.status] = run.counts.get(entry.status, 0) + 1
        for run in self.runs.values():
            run.status = _overall(run.counts)
        return self.runs


def _overall(counts: Mapping[str, int]) -> str:
    for status in ("running", "failed", "aborted", "caught", "succeeded"):
        if counts.get(status):
            return status
    return "running"


def taken_transitions(events: Sequence[Mapping[str, JSON]]) -> list[tuple[str, str]]:
    """The ``(from, to)`` state transitions an execution made, for highlighting edges."""
    folder = _Folder()
    for event in events:
        folder.add(event)
    return sorted(folder.taken)


def state_runs(events: Sequence[Mapping[str, JSON]], execution_status: str) -> dict[str, StateRun]:
    """Per-state summaries of an execution's history.

    Args:
        events: the history, oldest first.
        execution_status: the execution's status (running states of a finished execution
            are reported as failed or aborted).

    Returns:
        State name → summary; states never entered are absent.
    """
    folder = _Folder()
    for event in events:
        folder.add(event)
    return folder.finish(execution_status)


def fail_errors(definition: Mapping[str, JSON]) -> dict[str, tuple[str | None, str | None]]:
    """The literal ``Error``/``Cause`` of every Fail state (its events do not carry them)."""
    out: dict[str, tuple[str | None, str | None]] = {}

    def walk(scope: Any) -> None:
        states = scope.get("States") if isinstance(scope, Mapping) else None
        for name, state in (states or {}).items():
            if not isinstance(state, Mapping):
                continue
            if state.get("Type") == "Fail":
                error, cause = state.get("Error"), state.get("Cause")
                out[name] = (
                    error if isinstance(error, str) else None,
                    cause if isinstance(cause, str) else None,
                )
            for sub in state.get("Branches") or ():
                walk(sub)
            walk(state.get("ItemProcessor") or state.get("Iterator"))

    walk(definition)
    return out
