"""The backend seam, modelled on httpx's ``BaseTransport``.

A backend makes single Step Functions API calls and returns kbflow's models; everything
built on top of single calls (polling, backoff, paging, validation, JSON encoding, name
resolution) lives in :class:`kbflow.Client`, so every backend behaves the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from kbflow._models import Execution, ExecutionStatus, HistoryEvent, Page

__all__ = ["BaseBackend"]


class BaseBackend(ABC):
    """One Step Functions API, one call at a time.

    Implementations raise :class:`kbflow.BackendError` subclasses for refused requests
    (``ExecutionNotFound``, ``TaskTimedOut`` ...), never the underlying library's errors.
    """

    console_base: str | None = None
    """Base URL of a kbflow web console serving this backend's executions, if any."""

    @abstractmethod
    def start_execution(
        self, state_machine_arn: str, *, input: str, name: str, trace_header: str | None = None
    ) -> Execution:
        """StartExecution.

        Args:
            state_machine_arn: the state machine to run.
            input: the input as JSON text.
            name: the execution name (the client always provides one, so retries are idempotent).
            trace_header: an X-Ray trace header to pass on.

        Returns:
            The execution as started (status RUNNING).
        """

    @abstractmethod
    def describe_execution(self, execution_arn: str) -> Execution:
        """DescribeExecution.

        Args:
            execution_arn: the execution.

        Returns:
            Its current state.
        """

    @abstractmethod
    def get_execution_history(
        self,
        execution_arn: str,
        *,
        next_token: str | None = None,
        max_results: int = 1000,
        reverse_order: bool = False,
    ) -> Page[HistoryEvent]:
        """GetExecutionHistory: one page.

        Args:
            execution_arn: the execution.
            next_token: the token from the previous page.
            max_results: page size (1-1000).
            reverse_order: newest events first.

        Returns:
            One page of events.
        """

    @abstractmethod
    def list_executions(
        self,
        state_machine_arn: str,
        *,
        status: ExecutionStatus | None = None,
        next_token: str | None = None,
        max_results: int = 1000,
    ) -> Page[Execution]:
        """ListExecutions: one page (items carry no input or output).

        Args:
            state_machine_arn: the state machine.
            status: only executions with this status.
            next_token: the token from the previous page.
            max_results: page size (1-1000).

        Returns:
            One page of executions, newest first.
        """

    @abstractmethod
    def stop_execution(
        self, execution_arn: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """StopExecution.

        Args:
            execution_arn: the execution.
            error: an error name to record.
            cause: a cause to record.
        """

    @abstractmethod
    def redrive_execution(self, execution_arn: str) -> None:
        """RedriveExecution.

        Args:
            execution_arn: a FAILED, TIMED_OUT or ABORTED execution.
        """

    @abstractmethod
    def send_task_success(self, task_token: str, output: str) -> None:
        """SendTaskSuccess.

        Args:
            task_token: the token a ``.waitForTaskToken`` task handed out.
            output: the task result as JSON text.
        """

    @abstractmethod
    def send_task_failure(
        self, task_token: str, *, error: str | None = None, cause: str | None = None
    ) -> None:
        """SendTaskFailure.

        Args:
            task_token: the token a ``.waitForTaskToken`` task handed out.
            error: the error name.
            cause: the cause.
        """

    @abstractmethod
    def send_task_heartbeat(self, task_token: str) -> None:
        """SendTaskHeartbeat.

        Args:
            task_token: the token a ``.waitForTaskToken`` task handed out.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, like httpx's BaseTransport.close
        """Release what the backend holds (connections, engine threads)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()
