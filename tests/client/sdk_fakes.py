"""An in-memory Step Functions for MockBackend: enough of the API to exercise the Client.

It "runs" a state machine by looking at its first state only:
Pass -> SUCCEEDED at once (output: Result or the input); Fail -> FAILED (Error/Cause);
Wait -> RUNNING until the test calls :meth:`FakeStepFunctions.finish` or stops it;
Task with ``.waitForTaskToken`` -> RUNNING until SendTaskSuccess/Failure with its token.
Pages are ``page_size`` long so paging is exercised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kbflow import (
    ApiRequest,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    InvalidToken,
    StateMachineNotFound,
    TaskDoesNotExist,
    TaskTimedOut,
)

ACCOUNT = "arn:aws:states:us-east-1:123456789012"

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
ECHO = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
FAIL = {
    "StartAt": "F",
    "States": {"F": {"Type": "Fail", "Error": "Kbflow.Boom", "Cause": "it broke"}},
}
WAIT = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
        "P": {"Type": "Pass", "End": True},
    },
}
CALLBACK = {
    "StartAt": "T",
    "States": {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "review", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeExecution:
    arn: str
    name: str
    machine: str
    input: str
    status: str = "RUNNING"
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stopped: datetime | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    started: datetime = T0


class FakeStepFunctions:
    """Call it with an ApiRequest (it is a MockBackend handler)."""

    def __init__(self, *, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.machines: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, FakeExecution] = {}
        self.tokens: dict[str, str] = {}
        self.timed_out_tokens: set[str] = set()
        self.requests: list[ApiRequest] = []
        self._tick = 0

    # -- test controls ---------------------------------------------------------------------

    def create(self, name: str, definition: Mapping[str, Any]) -> str:
        arn = f"{ACCOUNT}:stateMachine:{name}"
        self.machines[arn] = dict(definition)
        return arn

    def event(
        self, ex: FakeExecution, type_: str, details_key: str | None = None, **details: Any
    ) -> None:
        self._tick += 1
        event: dict[str, Any] = {
            "id": len(ex.events) + 1,
            "previousEventId": len(ex.events),
            "type": type_,
            "timestamp": T0 + timedelta(milliseconds=self._tick),
        }
        if details_key:
            event[details_key] = details
        ex.events.append(event)

    def finish(self, arn: str, output: Any) -> None:
        ex = self.executions[arn]
        ex.status, ex.output, ex.stopped = "SUCCEEDED", json.dumps(output), T0
        self.event(ex, "ExecutionSucceeded", "executionSucceededEventDetails", output=ex.output)

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    # -- the API -----------------------------------------------------------------------------

    def __call__(self, request: ApiRequest) -> Mapping[str, Any]:
        self.requests.append(request)
        method = getattr(self, "op_" + request.operation)
        result: Mapping[str, Any] = method(**request.params)
        return result

    def _get(self, arn: str) -> FakeExecution:
        if arn not in self.executions:
            raise ExecutionNotFound(f"Execution Does Not Exist: {arn!r}")
        return self.executions[arn]

    def op_StartExecution(
        self, stateMachineArn: str, name: str, input: str = "{}", traceHeader: str | None = None
    ) -> dict[str, Any]:
        if stateMachineArn not in self.machines:
            raise StateMachineNotFound(f"State Machine Does Not Exist: {stateMachineArn!r}")
        arn = stateMachineArn.replace(":stateMachine:", ":execution:") + ":" + name
        if arn in self.executions:
            old = self.executions[arn]
            if old.status == "RUNNING" and old.input == input:
                return {"executionArn": arn, "startDate": old.started}
            raise ExecutionAlreadyExists(f"Execution Already Exists: {arn!r}")
        ex = FakeExecution(arn, name, stateMachineArn, input)
        self.executions[arn] = ex
        self.event(ex, "ExecutionStarted", "executionStartedEventDetails", input=input)
        self._run_first_state(ex, self.machines[stateMachineArn])
        return {"executionArn": arn, "startDate": ex.started}

    def _run_first_state(self, ex: FakeExecution, definition: Mapping[str, Any]) -> None:
        start = definition["StartAt"]
        state = definition["States"][start]
        kind = state["Type"]
        self.event(
            ex,
            f"{kind}StateEntered" if kind != "Task" else "TaskStateEntered",
            "stateEnteredEventDetails",
            name=start,
            input=ex.input,
        )
        if kind == "Pass":
            ex.status, ex.stopped = "SUCCEEDED", T0
            ex.output = json.dumps(state["Result"]) if "Result" in state else ex.input
            self.event(
                ex, "PassStateExited", "stateExitedEventDetails", name=start, output=ex.output
            )
            self.event(ex, "ExecutionSucceeded", "executionSucceededEventDetails", output=ex.output)
        elif kind == "Fail":
            ex.status, ex.stopped = "FAILED", T0
            ex.error, ex.cause = state.get("Error"), state.get("Cause")
            self.event(
                ex, "ExecutionFailed", "executionFailedEventDetails", error=ex.error, cause=ex.cause
            )
        elif kind == "Task" and state["Resource"].endswith(".waitForTaskToken"):
            token = f"token-{len(self.tokens) + 1}-{ex.name}"
            self.tokens[token] = ex.arn
            params = {
                "FunctionName": state["Parameters"]["FunctionName"],
                "Payload": {"token": token},
            }
            self.event(
                ex,
                "TaskScheduled",
                "taskScheduledEventDetails",
                resource="invoke.waitForTaskToken",
                resourceType="lambda",
                parameters=json.dumps(params),
            )
            self.event(ex, "TaskSubmitted", "taskSubmittedEventDetails", resource=state["Resource"])

    def op_DescribeExecution(self, executionArn: str) -> dict[str, Any]:
        ex = self._get(executionArn)
        out: dict[str, Any] = {
            "executionArn": ex.arn,
            "stateMachineArn": ex.machine,
            "name": ex.name,
            "status": ex.status,
            "startDate": ex.started,
            "input": ex.input,
            "inputDetails": {"included": True},
            "redriveCount": 0,
        }
        if ex.stopped:
            out["stopDate"] = ex.stopped
        if ex.output is not None:
            out["output"], out["outputDetails"] = ex.output, {"included": True}
        if ex.error is not None:
            out["error"] = ex.error
        if ex.cause is not None:
            out["cause"] = ex.cause
        return out

    def _page(
        self, items: list[Any], token: str | None, max_results: int
    ) -> tuple[list[Any], str | None]:
        size = min(max_results, self.page_size)
        start = int(token) if token else 0
        chunk = items[start : start + size]
        end = start + size
        return chunk, (str(end) if end < len(items) else None)

    def op_GetExecutionHistory(
        self,
        executionArn: str,
        maxResults: int = 1000,
        reverseOrder: bool = False,
        nextToken: str | None = None,
    ) -> dict[str, Any]:
        events = list(self._get(executionArn).events)
        if reverseOrder:
            events.reverse()
        chunk, token = self._page(events, nextToken, maxResults)
        return {"events": chunk, **({"nextToken": token} if token else {})}

    def op_ListExecutions(
        self,
        stateMachineArn: str,
        maxResults: int = 1000,
        statusFilter: str | None = None,
        nextToken: str | None = None,
    ) -> dict[str, Any]:
        if stateMachineArn not in self.machines:
            raise StateMachineNotFound(f"State Machine Does Not Exist: {stateMachineArn!r}")
        found = [
            e
            for e in self.executions.values()
            if e.machine == stateMachineArn and statusFilter in (None, e.status)
        ]
        items = [
            {
                "executionArn": e.arn,
                "stateMachineArn": e.machine,
                "name": e.name,
                "status": e.status,
                "startDate": e.started,
            }
            for e in reversed(found)
        ]
        chunk, token = self._page(items, nextToken, maxResults)
        return {"executions": chunk, **({"nextToken": token} if token else {})}

    def op_StopExecution(
        self, executionArn: str, error: str | None = None, cause: str | None = None
    ) -> dict[str, Any]:
        ex = self._get(executionArn)
        if ex.status == "RUNNING":
            ex.status, ex.stopped, ex.error, ex.cause = "ABORTED", T0, error, cause
            self.event(
                ex, "ExecutionAborted", "executionAbortedEventDetails", error=error, cause=cause
            )
        return {"stopDate": T0}

    def op_RedriveExecution(self, executionArn: str) -> dict[str, Any]:
        ex = self._get(executionArn)
        ex.status, ex.stopped = "RUNNING", None
        self.event(ex, "ExecutionRedriven", "executionRedrivenEventDetails", redriveCount=1)
        return {"redriveDate": T0}

    def _token(self, taskToken: str) -> FakeExecution:
        if not taskToken.startswith("token-"):
            raise InvalidToken("Invalid Token")
        if taskToken in self.timed_out_tokens:
            raise TaskTimedOut("Task Timed Out")
        if taskToken not in self.tokens:
            raise TaskDoesNotExist("Task Does Not Exist")
        return self.executions[self.tokens[taskToken]]

    def op_SendTaskSuccess(self, taskToken: str, output: str) -> dict[str, Any]:
        ex = self._token(taskToken)
        del self.tokens[taskToken]
        self.event(ex, "TaskSucceeded", "taskSucceededEventDetails", output=output)
        self.finish(ex.arn, json.loads(output))
        return {}

    def op_SendTaskFailure(
        self, taskToken: str, error: str | None = None, cause: str | None = None
    ) -> dict[str, Any]:
        ex = self._token(taskToken)
        del self.tokens[taskToken]
        ex.status, ex.stopped, ex.error, ex.cause = "FAILED", T0, error, cause
        self.event(ex, "ExecutionFailed", "executionFailedEventDetails", error=error, cause=cause)
        return {}

    def op_SendTaskHeartbeat(self, taskToken: str) -> dict[str, Any]:
        self._token(taskToken)
        return {}
