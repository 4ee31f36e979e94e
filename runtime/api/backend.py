"""The seam between the API/console and whatever holds executions.

:class:`EngineBackend` serves the Step Functions API and the console from an in-memory
:class:`~kbflow.runtime.engine.Engine`. It speaks AWS's response shapes (lower-camel keys,
``datetime`` values) so the operations layer stays a thin translation of requests. A durable
store (issue 4) replaces it by implementing the same methods; the console and the CLI then
read the same store.

What the engine does not keep, the backend keeps: tags, state machine revisions and
descriptions, and activities (see :mod:`kbflow.runtime.api.activities`).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from kbflow.errors import ExecutionNotFound, StateMachineNotFound

from .activities import Activities
from .protocol import ApiError

__all__ = ["EngineBackend", "MachineMeta", "PendingCallback", "execution_shape", "valid_name"]

JSON = Any
FINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass(slots=True)
class MachineMeta:
    """What the API knows about a state machine beyond the engine's record."""

    revision_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    update_date: datetime | None = None
    description: str = ""
    executions: list[str] = field(default_factory=list)
    """Executions of earlier revisions (the engine forgets them when a machine is replaced)."""


@dataclass(frozen=True, slots=True)
class PendingCallback:
    """A ``.waitForTaskToken`` task waiting for SendTaskSuccess/Failure."""

    token: str
    """The task token (kept on the server; never logged)."""
    execution_arn: str
    state_machine_arn: str
    state_name: str
    requested_at: datetime | None
    payload: JSON
    """The task's Payload (``item``, ``reason``, ...), task token removed."""


def _iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def valid_name(name: str) -> bool:
    """Whether ``name`` is a valid state machine or activity name (1-80 of ``A-Za-z0-9_-``)."""
    return _NAME.match(name) is not None


def _redrive_status(status: str, can_redrive: bool) -> tuple[str, str | None]:
    if status == "RUNNING":
        return "NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven"
    if status == "SUCCEEDED":
        return "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"
    if not can_redrive:
        return "NOT_REDRIVABLE", "This local engine cannot redrive executions"
    return "REDRIVABLE", None


def execution_shape(
    described: Mapping[str, JSON], *, include_data: bool = True, can_redrive: bool = False
) -> dict[str, JSON]:
    """An engine ``describe_execution`` result in DescribeExecution's response shape."""
    out: dict[str, JSON] = {
        "executionArn": described["ExecutionArn"],
        "stateMachineArn": described["StateMachineArn"],
        "name": described["Name"],
        "status": described["Status"],
        "startDate": _iso(described["StartDate"]),
        "redriveCount": described.get("RedriveCount", 0),
    }
    out["redriveStatus"], reason = _redrive_status(described["Status"], can_redrive)
    if reason is not None:
        out["redriveStatusReason"] = reason
    if include_data:
        out["input"] = described.get("Input")
        out["inputDetails"] = {"included": True}
    else:
        out["inputDetails"] = {"included": False}
    for key, target in (("StopDate", "stopDate"),):
        if described.get(key):
            out[target] = _iso(described[key])
    if "Output" in described:
        if include_data:
            out["output"] = described["Output"]
        out["outputDetails"] = {"included": include_data}
    for key in ("Error", "Cause"):
        if described.get(key) is not None:
            out[key.lower()] = described[key]
    return out


class EngineBackend:
    """The API's view of an :class:`~kbflow.runtime.engine.Engine`.

    Args:
        engine: the engine (executions run on it).
        review_machines: names (suffixes) of state machines whose callbacks are reviews.
    """

    def __init__(self, engine: Any, *, review_machines: Iterable[str] = ("human-review",)) -> None:
        self.engine = engine
        self.review_machines = tuple(review_machines)
        self.activities = Activities(engine)
        self._meta: dict[str, MachineMeta] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.test_engine: Any = None
        """The private engine TestState runs states on (created on first use)."""

    def close(self) -> None:
        """Release what the backend started (the TestState engine); the engine stays open."""
        test_engine = self.test_engine
        if test_engine is not None:
            test_engine.close()
            self.test_engine = None

    @property
    def can_redrive(self) -> bool:
        """Whether the engine implements RedriveExecution (the durable engine does)."""
        return callable(getattr(self.engine, "redrive_execution", None))

    @property
    def region(self) -> str:
        """The region in ARNs."""
        return str(self.engine.region)

    @property
    def account(self) -> str:
        """The account id in ARNs."""
        return str(self.engine.account)

    # ------------------------------------------------------------------ state machines

    def create_state_machine(
        self, name: str, definition: str, *, type: str, role_arn: str, tags: list[dict[str, str]]
    ) -> dict[str, JSON]:
        """CreateStateMachine (idempotent for the same name, definition, type and role)."""
        if not valid_name(name):
            raise ApiError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
        existing = self._describe_or_none(arn)
        if existing is not None:
            same = (
                existing["definition"] == definition
                and existing["type"] == type
                and existing["roleArn"] == role_arn
            )
            if not same:
                raise ApiError(
                    "StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'"
                )
            return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
        arn = self.engine.create_state_machine(name, definition, type=type, role_arn=role_arn)
        with self._lock:
            self._meta[arn] = MachineMeta()
            self._tags[arn] = {t["key"]: t["value"] for t in tags}
        return {
            "stateMachineArn": arn,
            "creationDate": self.engine.describe_state_machine(arn)["creationDate"],
        }

    def register_state_machine(self, arn: str) -> None:
        """Start tracking a machine created directly on the engine (the built-in flows)."""
        with self._lock:
            self._meta.setdefault(arn, MachineMeta())
            self._tags.setdefault(arn, {})

    def _describe_or_none(self, arn: str) -> dict[str, JSON] | None:
        try:
            return dict(self.engine.describe_state_machine(arn))
        except StateMachineNotFound:
            return None

    def describe_state_machine(self, arn: str) -> dict[str, JSON]:
        """DescribeStateMachine."""
        out = dict(self.engine.describe_state_machine(arn))
        meta = self._meta.get(arn) or MachineMeta()
        out["revisionId"] = meta.revision_id
        if meta.description:
            out["description"] = meta.description
        return out

    def update_state_machine(
        self, arn: str, *, definition: str | None, role_arn: str | None
    ) -> dict[str, JSON]:
        """UpdateStateMachine: replace the definition and/or role; executions are kept."""
        current = self.engine.describe_state_machine(arn)
        old_executions = [e["executionArn"] for e in self.engine.list_executions(arn)]
        new_arn = self.engine.create_state_machine(
            current["name"],
            definition if definition is not None else current["definition"],
            type=current["type"],
            role_arn=role_arn or current["roleArn"],
        )
        now = self.engine.clock.now()
        with self._lock:
            meta = self._meta.setdefault(new_arn, MachineMeta())
            meta.executions = list(dict.fromkeys(old_executions[::-1] + meta.executions))
            meta.revision_id = uuid.uuid4().hex
            meta.update_date = now
        return {"updateDate": now, "revisionId": meta.revision_id}

    def delete_state_machine(self, arn: str) -> None:
        """DeleteStateMachine (idempotent, as on AWS)."""
        self.engine.delete_state_machine(arn)
        with self._lock:
            self._meta.pop(arn, None)
            self._tags.pop(arn, None)

    def list_state_machines(self) -> list[dict[str, JSON]]:
        """ListStateMachines items, sorted by name."""
        return sorted(self.engine.list_state_machines(), key=lambda m: m["name"])

    def describe_state_machine_for_execution(self, execution_arn: str) -> dict[str, JSON]:
        """DescribeStateMachineForExecution (a Map Run child gets its Map's ItemProcessor)."""
        described = self.engine.describe_execution(execution_arn)
        sm_arn = described["StateMachineArn"]
        name = sm_arn.split(":")[6]
        if "/" in name:
            return self._map_child_machine(sm_arn, name)
        sm = self.describe_state_machine(sm_arn)
        meta = self._meta.get(sm["stateMachineArn"]) or MachineMeta()
        return {
            "stateMachineArn": sm["stateMachineArn"],
            "name": sm["name"],
            "definition": sm["definition"],
            "roleArn": sm["roleArn"],
            "updateDate": meta.update_date or sm["creationDate"],
            "revisionId": meta.revision_id,
        }

    def _map_child_machine(self, sm_arn: str, name: str) -> dict[str, JSON]:
        """The definition a distributed Map child runs: its Map state's ItemProcessor."""
        parent_name, label = name.split("/", 1)
        parent = self.describe_state_machine(sm_arn.replace(name, parent_name))
        processor = _find_processor(json.loads(parent["definition"]), label) or {}
        return {
            "stateMachineArn": sm_arn,
            "name": name,
            "label": label,
            "definition": json.dumps(processor),
            "roleArn": parent["roleArn"],
            "updateDate": parent["creationDate"],
            "revisionId": parent["revisionId"],
        }

    # ------------------------------------------------------------------ executions

    def start_execution(self, sm_arn: str, input_text: str, name: str | None) -> dict[str, JSON]:
        """StartExecution."""
        arn = self.engine.start_execution(sm_arn, input_text, name=name)
        return {"executionArn": arn, "startDate": self.describe_execution(arn)["startDate"]}

    def state_machine_type(self, sm_arn: str) -> str:
        """STANDARD or EXPRESS."""
        return str(self.engine.describe_state_machine(sm_arn)["type"])

    def wait(self, execution_arn: str, timeout: float) -> dict[str, JSON]:
        """Block until the execution ends (StartSyncExecution); DescribeExecution's shape."""
        return execution_shape(
            self.engine.wait(execution_arn, timeout=timeout), can_redrive=self.can_redrive
        )

    def describe_execution(self, arn: str, *, include_data: bool = True) -> dict[str, JSON]:
        """DescribeExecution."""
        return execution_shape(
            self.engine.describe_execution(arn),
            include_data=include_data,
            can_redrive=self.can_redrive,
        )

    def stop_execution(self, arn: str, error: str | None, cause: str | None) -> dict[str, JSON]:
        """StopExecution (the execution is aborted; a finished one is left as it is)."""
        described = self.engine.describe_execution(arn)
        if described["Status"] == "RUNNING":
            self.engine.stop_execution(arn, error=error, cause=cause)
            with contextlib.suppress(TimeoutError):
                self.engine.wait(arn, timeout=5)
        return {"stopDate": self.describe_execution(arn).get("stopDate") or self.engine.clock.now()}

    def list_executions(self, sm_arn: str, status: str | None) -> list[dict[str, JSON]]:
        """ListExecutions items of a state machine (newest first)."""
        items = [dict(e) for e in self.engine.list_executions(sm_arn, status=status)]
        seen = {e["executionArn"] for e in items}
        meta = self._meta.get(sm_arn)
        for arn in meta.executions if meta else ():
            if arn in seen:
                continue
            shaped = self.describe_execution(arn, include_data=False)
            if status is None or shaped["status"] == status:
                items.append(_list_item(shaped))
        items.sort(key=lambda e: e["startDate"], reverse=True)
        return items

    def list_map_run_executions(
        self, map_run_arn: str, status: str | None
    ) -> list[dict[str, JSON]]:
        """ListExecutions items of a Map Run's child executions."""
        try:
            children = self.engine.list_map_run_executions(map_run_arn)
        except KeyError:
            raise ApiError("ResourceNotFound", f"Map Run Does Not Exist: '{map_run_arn}'") from None
        out = []
        for arn in children:
            item = _list_item(self.describe_execution(arn, include_data=False))
            item["mapRunArn"] = map_run_arn
            if status is None or item["status"] == status:
                out.append(item)
        return out

    def all_executions(self) -> list[dict[str, JSON]]:
        """Every execution of every state machine, newest first (the console's list)."""
        out: list[dict[str, JSON]] = []
        for sm in self.list_state_machines():
            out.extend(self.list_executions(sm["stateMachineArn"], None))
        out.sort(key=lambda e: e["startDate"], reverse=True)
        return out

    def history_page(
        self, arn: str, *, reverse: bool, max_results: int, next_token: str | None
    ) -> dict[str, JSON]:
        """GetExecutionHistory, one page."""
        return dict(
            self.engine.get_execution_history(
                arn, reverse_order=reverse, max_results=max_results, next_token=next_token
            )
        )

    def history(self, arn: str) -> list[dict[str, JSON]]:
        """Every event of an execution, oldest first."""
        return list(self.engine.history(arn))

    def redrive(self, arn: str) -> dict[str, JSON]:
        """RedriveExecution when the engine supports it; else AWS's not-redrivable error."""
        status = self.describe_execution(arn)["status"]
        redrive: Callable[..., Any] | None = getattr(self.engine, "redrive_execution", None)
        if status not in ("FAILED", "TIMED_OUT", "ABORTED"):
            raise ApiError(
                "ExecutionNotRedrivable",
                f"Execution with status {status} cannot be redriven: '{arn}'",
            )
        if redrive is None:
            raise ApiError(
                "ExecutionNotRedrivable",
                "This local engine cannot redrive executions yet: "
                f"'{arn}' (RedriveExecution is tracked in issue 4)",
            )
        redrive(arn)
        return {"redriveDate": self.engine.clock.now()}

    # ------------------------------------------------------------------ Map Runs

    def describe_map_run(self, arn: str) -> dict[str, JSON]:
        """DescribeMapRun."""
        try:
            return dict(self.engine.describe_map_run(arn))
        except ExecutionNotFound as exc:
            raise ApiError("ResourceNotFound", str(exc)) from None

    def list_map_runs(self, execution_arn: str) -> list[dict[str, JSON]]:
        """ListMapRuns items."""
        described = self.engine.describe_execution(execution_arn)
        return [
            {**r, "stateMachineArn": described["StateMachineArn"]}
            for r in self.engine.list_map_runs(execution_arn)
        ]

    # ------------------------------------------------------------------ callbacks

    def send_task_success(self, token: str, output: JSON) -> None:
        """SendTaskSuccess (activity tokens included)."""
        self.engine.send_task_success(token, output)

    def send_task_failure(self, token: str, error: str | None, cause: str | None) -> None:
        """SendTaskFailure."""
        self.engine.send_task_failure(token, error=error, cause=cause)

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat."""
        self.engine.send_task_heartbeat(token)

    def pending_callbacks(self) -> list[PendingCallback]:
        """Tasks of review state machines waiting for a callback, oldest first.

        The token comes from the engine's task-token records; the payload and state name
        from the task's ``TaskScheduled`` event.
        """
        out = []
        for token, execution_arn in _open_tokens(self.engine):
            sm_name = execution_arn.split(":")[6]
            if not sm_name.endswith(self.review_machines):
                continue
            try:
                found = _scheduled_payload(self.history(execution_arn), token)
            except ExecutionNotFound:
                continue
            if found is None:
                continue
            state, when, payload = found
            sm_arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{sm_name}"
            out.append(PendingCallback(token, execution_arn, sm_arn, state, when, payload))
        out.sort(key=lambda p: p.requested_at or datetime.min)
        return out

    # ------------------------------------------------------------------ tags

    def _known(self, arn: str) -> bool:
        if arn in self._tags:
            return True
        return self.activities.exists(arn)

    def tag(self, arn: str, tags: list[dict[str, str]]) -> None:
        """TagResource."""
        if not self._known(arn):
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        with self._lock:
            current = self._tags.setdefault(arn, {})
            current.update({t["key"]: t["value"] for t in tags})
            if len(current) > 50:
                raise ApiError("TooManyTags", "A resource can have at most 50 tags")

    def untag(self, arn: str, keys: list[str]) -> None:
        """UntagResource."""
        if not self._known(arn):
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        with self._lock:
            for key in keys:
                self._tags.get(arn, {}).pop(key, None)

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        """ListTagsForResource."""
        if not self._known(arn):
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return [{"key": k, "value": v} for k, v in sorted(self._tags.get(arn, {}).items())]

    def forget_tags(self, arn: str) -> None:
        """Drop the tags of a deleted resource."""
        with self._lock:
            self._tags.pop(arn, None)

    def remember(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Start tracking tags for a new resource (activities)."""
        with self._lock:
            self._tags[arn] = {t["key"]: t["value"] for t in tags}


def _find_processor(scope: Any, label: str) -> dict[str, JSON] | None:
    """The ItemProcessor of the Map state labelled (or named) ``label``, searched depth-first."""
    states = scope.get("States") if isinstance(scope, Mapping) else None
    for state_name, state in (states or {}).items():
        if not isinstance(state, Mapping):
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if (
            state.get("Type") == "Map"
            and label in (state.get("Label"), state_name)
            and (isinstance(processor, dict))
        ):
            return {k: v for k, v in processor.items() if k != "ProcessorConfig"}
        for sub in [*(state.get("Branches") or ()), processor]:
            found = _find_processor(sub, label)
            if found is not None:
                return found
    return None


def _list_item(shaped: Mapping[str, JSON]) -> dict[str, JSON]:
    keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")
    return {k: shaped[k] for k in keys if k in shaped}


def _open_tokens(engine: Any) -> list[tuple[str, str]]:
    """``(token, execution_arn)`` of every callback the engine is waiting on."""
    tokens = engine.tokens
    public = getattr(tokens, "pending", None)
    if callable(public):  # the engine's public listing, once it has one (docs/engine-notes.md)
        return [(t, arn) for t, arn in public()]
    records = dict(getattr(tokens, "_pending", {}))
    return [
        (token, rec.run.record.execution_arn)
        for token, rec in records.items()
        if rec.closed is None and rec.future is not None and rec.run.record.status == "RUNNING"
    ]


def _scheduled_payload(
    events: list[dict[str, JSON]], token: str
) -> tuple[str, datetime | None, JSON] | None:
    """The state, time and Payload of the TaskScheduled event that carries ``token``."""
    state = ""
    for event in events:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        if event["type"] != "TaskScheduled":
            continue
        params = event["taskScheduledEventDetails"].get("parameters", "")
        if token not in params:
            continue
        try:
            value = json.loads(params)
        except ValueError:
            value = {}
        body = value.get("Payload", value) if isinstance(value, dict) else {}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if v != token}
        return state, event["timestamp"], body
    return None
