"""The Step Functions operations: one small function per ``X-Amz-Target`` operation.

Each takes the backend and the request's :class:`~kbflow.runtime.api.protocol.Params` and
returns the response object. Synchronous operations run in a worker thread (the engine's
methods block briefly); ``GetActivityTask`` is a coroutine because it long-polls.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from .backend import EngineBackend, valid_name
from .protocol import ApiError, Params

__all__ = ["ASYNC_OPERATIONS", "OPERATIONS", "Settings", "paginate"]

JSON = Any
SM: Final = "stateMachine"
STATUSES: Final = frozenset(
    {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"}
)


class Settings:
    """Limits of the API server.

    Args:
        activity_poll_seconds: how long ``GetActivityTask`` waits (AWS: 60 s).
        sync_timeout_seconds: how long ``StartSyncExecution`` waits (AWS: 5 minutes).
    """

    def __init__(
        self, *, activity_poll_seconds: float = 60.0, sync_timeout_seconds: float = 300.0
    ) -> None:
        self.activity_poll_seconds = activity_poll_seconds
        self.sync_timeout_seconds = sync_timeout_seconds


Operation = Callable[[EngineBackend, Params, Settings], dict[str, JSON]]
AsyncOperation = Callable[[EngineBackend, Params, Settings], Awaitable[dict[str, JSON]]]


def paginate(
    items: Sequence[JSON], params: Params, key: str, *, default: int = 100, high: int = 1000
) -> dict[str, JSON]:
    """One page of ``items`` with an opaque ``nextToken`` (AWS: maxResults 0 = default)."""
    size = params.integer("maxResults", default=default, low=0, high=high)
    token = params.string("nextToken", max_len=1024)
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError("InvalidToken", "Invalid Token: 'nextToken is invalid'") from None
        if start < 0 or start > len(items):
            raise ApiError("InvalidToken", "Invalid Token: 'nextToken is invalid'")
    end = start + size
    out: dict[str, JSON] = {key: list(items[start:end])}
    if end < len(items):
        out["nextToken"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    return out


# ---------------------------------------------------------------------------- state machines


def create_state_machine(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """CreateStateMachine."""
    sm_type = p.string("type") or "STANDARD"
    if sm_type not in ("STANDARD", "EXPRESS"):
        raise ApiError("ValidationException", f"Invalid type: '{sm_type}'")
    return b.create_state_machine(
        p.required("name", max_len=80),
        p.required("definition"),
        type=sm_type,
        role_arn=p.required("roleArn", max_len=256),
        tags=p.tags(),
    )


def update_state_machine(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """UpdateStateMachine."""
    arn = p.arn("stateMachineArn", SM)
    assert arn is not None
    definition, role = p.string("definition"), p.string("roleArn", max_len=256)
    if definition is None and role is None and p.body.get("loggingConfiguration") is None:
        raise ApiError(
            "MissingRequiredParameter",
            "Either the definition, the roleArn or the loggingConfiguration must be specified",
        )
    return b.update_state_machine(arn, definition=definition, role_arn=role)


def delete_state_machine(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DeleteStateMachine."""
    arn = p.arn("stateMachineArn", SM)
    assert arn is not None
    b.delete_state_machine(arn)
    return {}


def describe_state_machine(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DescribeStateMachine."""
    arn = p.arn("stateMachineArn", SM)
    assert arn is not None
    return b.describe_state_machine(arn)


def list_state_machines(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """ListStateMachines."""
    return paginate(b.list_state_machines(), p, "stateMachines")


def describe_state_machine_for_execution(
    b: EngineBackend, p: Params, s: Settings
) -> dict[str, JSON]:
    """DescribeStateMachineForExecution."""
    arn = p.arn("executionArn", "execution", "express")
    assert arn is not None
    return b.describe_state_machine_for_execution(arn)


# ---------------------------------------------------------------------------- executions


def _input(p: Params) -> str:
    text = p.string("input", max_len=256 * 1024 * 4) or "{}"
    try:
        json.loads(text)
    except ValueError:
        raise ApiError(
            "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Unexpected character'"
        ) from None
    if len(text.encode()) > 256 * 1024:
        raise ApiError(
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input: 'The input exceeds 262144 bytes'",
        )
    return text


def start_execution(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """StartExecution."""
    arn = p.arn("stateMachineArn", SM)
    assert arn is not None
    return b.start_execution(arn, _input(p), p.string("name", max_len=80))


def start_sync_execution(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """StartSyncExecution (EXPRESS state machines only, as on AWS)."""
    arn = p.arn("stateMachineArn", SM)
    assert arn is not None
    if b.state_machine_type(arn) != "EXPRESS":
        raise ApiError(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )
    started = b.start_execution(arn, _input(p), p.string("name", max_len=80))
    try:
        done = b.wait(started["executionArn"], s.sync_timeout_seconds)
    except TimeoutError:
        b.stop_execution(started["executionArn"], "States.Timeout", None)
        done = b.describe_execution(started["executionArn"])
    keys = (
        "executionArn",
        "stateMachineArn",
        "name",
        "startDate",
        "stopDate",
        "status",
        "error",
        "cause",
        "input",
        "inputDetails",
        "output",
        "outputDetails",
    )
    out = {k: done[k] for k in keys if k in done}
    duration = (out["stopDate"] - out["startDate"]).total_seconds() if "stopDate" in out else 0
    out["billingDetails"] = {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": max(100, -(-int(duration * 1000) // 100) * 100),
    }
    return out


def stop_execution(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """StopExecution."""
    arn = p.arn("executionArn", "execution", "express")
    assert arn is not None
    return b.stop_execution(arn, p.string("error", max_len=256), p.string("cause", max_len=32768))


def describe_execution(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DescribeExecution."""
    arn = p.arn("executionArn", "execution", "express")
    assert arn is not None
    return b.describe_execution(arn, include_data=p.string("includedData") != "METADATA_ONLY")


def list_executions(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """ListExecutions (of a state machine or of a Map Run)."""
    status = p.string("statusFilter")
    if status is not None and status not in STATUSES:
        raise ApiError("ValidationException", f"Invalid statusFilter: '{status}'")
    sm_arn = p.arn("stateMachineArn", SM, required=False)
    map_run = p.arn("mapRunArn", "mapRun", required=False)
    if (sm_arn is None) == (map_run is None):
        raise ApiError(
            "ValidationException", "Exactly one of stateMachineArn and mapRunArn must be given"
        )
    if sm_arn is not None:
        if status == "PENDING_REDRIVE":
            items: list[dict[str, JSON]] = []
        else:
            items = b.list_executions(sm_arn, status)
    else:
        assert map_run is not None
        items = b.list_map_run_executions(map_run, status)
    return paginate(items, p, "executions")


def _strip_data(event: dict[str, JSON]) -> dict[str, JSON]:
    """An event without its input/output (``includeExecutionData: false``)."""
    out = dict(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            out[key] = {
                k: v for k, v in details.items() if k not in ("input", "output", "parameters")
            }
    return out


def get_execution_history(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """GetExecutionHistory."""
    arn = p.arn("executionArn", "execution", "express")
    assert arn is not None
    size = p.integer("maxResults", default=100, low=0, high=1000)
    token = p.string("nextToken", max_len=1024)
    if token is not None and not token.isdigit():
        raise ApiError("InvalidToken", "Invalid Token: 'nextToken is invalid'")
    page = b.history_page(
        arn, reverse=p.boolean("reverseOrder"), max_results=size, next_token=token
    )
    if not p.boolean("includeExecutionData", default=True):
        page["events"] = [_strip_data(e) for e in page["events"]]
    return page


def redrive_execution(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """RedriveExecution."""
    arn = p.arn("executionArn", "execution")
    assert arn is not None
    return b.redrive(arn)


def describe_map_run(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DescribeMapRun."""
    arn = p.arn("mapRunArn", "mapRun")
    assert arn is not None
    return b.describe_map_run(arn)


def list_map_runs(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """ListMapRuns."""
    arn = p.arn("executionArn", "execution")
    assert arn is not None
    return paginate(b.list_map_runs(arn), p, "mapRuns")


# ---------------------------------------------------------------------------- callbacks


def send_task_success(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """SendTaskSuccess."""
    token = p.required("taskToken", max_len=2048)
    output = p.required("output", max_len=256 * 1024)
    try:
        value = json.loads(output)
    except ValueError:
        raise ApiError("InvalidOutput", "Invalid Output: 'output is not valid JSON'") from None
    b.send_task_success(token, value)
    return {}


def send_task_failure(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """SendTaskFailure."""
    b.send_task_failure(
        p.required("taskToken", max_len=2048),
        p.string("error", max_len=256),
        p.string("cause", max_len=32768),
    )
    return {}


def send_task_heartbeat(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """SendTaskHeartbeat."""
    b.send_task_heartbeat(p.required("taskToken", max_len=2048))
    return {}


# ---------------------------------------------------------------------------- activities


def create_activity(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """CreateActivity."""
    name = p.required("name", max_len=80)
    if not valid_name(name):
        raise ApiError("InvalidName", f"Invalid Name: '{name}'")
    out = b.activities.create(name)
    b.remember(out["activityArn"], p.tags())
    return out


def delete_activity(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DeleteActivity."""
    arn = p.arn("activityArn", "activity")
    assert arn is not None
    b.activities.delete(arn)
    b.forget_tags(arn)
    return {}


def describe_activity(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """DescribeActivity."""
    arn = p.arn("activityArn", "activity")
    assert arn is not None
    return b.activities.describe(arn)


def list_activities(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """ListActivities."""
    return paginate(b.activities.list(), p, "activities")


async def get_activity_task(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """GetActivityTask (long poll, at most ``Settings.activity_poll_seconds``)."""
    arn = p.arn("activityArn", "activity")
    assert arn is not None
    return await b.activities.get_task(
        arn, p.string("workerName", max_len=80), s.activity_poll_seconds
    )


# ---------------------------------------------------------------------------- tags


def tag_resource(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """TagResource."""
    arn = p.arn("resourceArn", SM, "activity")
    assert arn is not None
    b.tag(arn, p.tags())
    return {}


def untag_resource(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """UntagResource."""
    arn = p.arn("resourceArn", SM, "activity")
    assert arn is not None
    b.untag(arn, p.strings("tagKeys"))
    return {}


def list_tags_for_resource(b: EngineBackend, p: Params, s: Settings) -> dict[str, JSON]:
    """ListTagsForResource."""
    arn = p.arn("resourceArn", SM, "activity")
    assert arn is not None
    return {"tags": b.list_tags(arn)}


def _definition_ops() -> dict[str, Operation]:
    from .teststate import test_state, validate_definition

    return {"ValidateStateMachineDefinition": validate_definition, "TestState": test_state}


OPERATIONS: Final[dict[str, Operation]] = {
    "CreateStateMachine": create_state_machine,
    "UpdateStateMachine": update_state_machine,
    "DeleteStateMachine": delete_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "ListStateMachines": list_state_machines,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "StartExecution": start_execution,
    "StartSyncExecution": start_sync_execution,
    "StopExecution": stop_execution,
    "DescribeExecution": describe_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "RedriveExecution": redrive_execution,
    "DescribeMapRun": describe_map_run,
    "ListMapRuns": list_map_runs,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
    "CreateActivity": create_activity,
    "DeleteActivity": delete_activity,
    "DescribeActivity": describe_activity,
    "ListActivities": list_activities,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    **_definition_ops(),
}

ASYNC_OPERATIONS: Final[dict[str, AsyncOperation]] = {"GetActivityTask": get_activity_task}
