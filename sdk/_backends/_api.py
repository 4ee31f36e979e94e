"""A backend expressed as Step Functions API requests (operation name + AWS-shaped params).

:class:`ApiBackend` turns each :class:`~kbflow._backends.base.BaseBackend` method into one
request and the AWS-shaped answer into kbflow's models. :class:`AwsBackend` sends the request
with boto3; :class:`MockBackend` hands it to a test function.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kbflow._backends.base import BaseBackend
from kbflow._models import Execution, ExecutionStatus, HistoryEvent, Page

__all__ = ["ApiBackend", "ApiRequest"]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One Step Functions API request, as a backend sends it."""

    operation: str
    """The API action, e.g. ``"DescribeExecution"``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The request parameters, named as in the API (``executionArn``, ``maxResults`` ...)."""


def _drop_none(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class ApiBackend(BaseBackend):
    """A backend whose calls are :class:`ApiRequest` s answered with AWS-shaped dicts."""

    @abstractmethod
    def request(self, request: ApiRequest) -> Mapping[str, Any]:
        """Send one request and return the response.

        Args:
            request: the operation and its parameters.

        Returns:
            The response in boto3's shape (timestamps as datetimes).

        Raises:
            BackendError: the request was refused (a subclass named after AWS's error code).
        """

    def _call(self, operation: str, **params: Any) -> Mapping[str, Any]:
        return self.request(ApiRequest(operation, _drop_none(**params)))

    def start_execution(
        self, state_machine_arn: str, *, input: str, name: str, trace_header: str | None = None
    ) -> Execution:
        """StartExecution; see :meth:`BaseBackend.start_execution`."""
        resp = self._call(
            "StartExecution",
            stateMachineArn=state_machine_arn,
            input=input,
            name=name,
            traceHeader=trace_header,
        )
        started = resp.get("startDate")
        return Execution(
            arn=resp["executionArn"],
            name=name,
            state_machine_arn=state_machine_arn,
            status=ExecutionStatus.RUNNING,
            started_at=started if isinstance(started, datetime) else datetime.now(UTC),
            input=None,
        )

    def describe_execution(self, execution_arn: str) -> Execution:
        """DescribeExecution; see :meth:`BaseBackend.describe_execution`."""
        return Execution.from_aws(self._call("DescribeExecution", executionArn=execution_arn))

    def get_execution_history(
        self,
        execution_arn: str,
        *,
        next_token: str | None = None,
        max_results: int = 1000,
        reverse_order: bool = False,
    ) -> Page[HistoryEvent]:
        """GetExecutionHistory; see :meth:`BaseBackend.get_execution_history`."""
        resp = self._call(
            "GetExecutionHistory",
            executionArn=execution_arn,
            maxResults=max_results,
            reverseOrder=reverse_order,
            nextToken=next_token,
        )
        events = tuple(HistoryEvent.from_aws(e) for e in resp.get("events", ()))
        return Page(events, resp.get("nextToken") or None)

    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status: ExecutionStatus | None = None,
        next_token: str | None = None,
        max_results: int = 1000,
    ) -> Page[Execution]:
        """ListExecutions; see :meth:`BaseBackend.list_executions`."""
        resp = self._call(
            "ListExecutions",
            stateMachineArn=state_machine_arn,
            statusFilter=status.value if status else None,
            maxResults=max_results,
            nextToken=next_token,
        )
        items = tuple(Execution.from_aws(e) for e in resp.get("executions", ()))
        return Page(items, resp.get("nextToken") or None)

    def stop_execution(
        self, execution_arn: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """StopExecution; see :meth:`BaseBackend.stop_execution`."""
        self._call("StopExecution", executionArn=execution_arn, error=error, cause=cause)

    def redrive_execution(self, execution_arn: str) -> None:
        """RedriveExecution; see :meth:`BaseBackend.redrive_execution`."""
        self._call("RedriveExecution", executionArn=execution_arn)

    def send_task_success(self, task_token: str, output: str) -> None:
        """SendTaskSuccess; see :meth:`BaseBackend.send_task_success`."""
        self._call("SendTaskSuccess", taskToken=task_token, output=output)

    def send_task_failure(
        self, task_token: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """SendTaskFailure; see :meth:`BaseBackend.send_task_failure`."""
        self._call("SendTaskFailure", taskToken=task_token, error=error, cause=cause)

    def send_task_heartbeat(self, task_token: str) -> None:
        """SendTaskHeartbeat; see :meth:`BaseBackend.send_task_heartbeat`."""
        self._call("SendTaskHeartbeat", taskToken=task_token)
