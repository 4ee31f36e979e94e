"""``kbflow.Client``: start, track, wait for and steer executions on any backend.

The client holds the behaviour every backend shares (STYLE.md §2.4): workflow-name
resolution, input validation before anything starts, JSON encoding, paging, polling with
adaptive backoff inside the service quotas, and error outcomes. Backends only make calls.
"""

from __future__ import annotations

import builtins
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeAlias

from kbflow._backends.base import BaseBackend
from kbflow._backends.local import LOCAL_CONSOLE
from kbflow._models import Execution, ExecutionStatus, HistoryEvent
from kbflow._polling import Polling, TokenBucket
from kbflow._registry import (
    Registry,
    as_registry,
    console_url,
    deployed_registry,
    execution_arn,
    is_arn,
)
from kbflow._reviews import Reviews, ReviewSource
from kbflow._tracking import StatusQueue
from kbflow._types import JSON, MonotonicFn, SleepFn, Timeout, seconds
from kbflow._validation import encode_json, validate_input, validate_name
from kbflow.errors import (
    ExecutionAlreadyExists,
    ExecutionNotFound,
    ValidationError,
    WaitTimeout,
)

__all__ = ["LOCAL_CONSOLE", "Client"]

ExecutionRef: TypeAlias = Execution | str
"""An :class:`Execution` or an execution ARN."""


def _arn_of(execution: ExecutionRef) -> str:
    return execution.arn if isinstance(execution, Execution) else execution


class Client:
    """A Step Functions client for kbflow's workflows, over a pluggable backend.

    Args:
        backend: where calls go (:class:`AwsBackend`, :class:`MockBackend`, ``LocalBackend``).
        registry: workflow names to ARNs: a :class:`Registry` or a plain mapping; the
            environment (``KBFLOW_WORKFLOW_<NAME>_ARN``) is consulted either way.
        reviews: where ``client.reviews`` reads pending human reviews.
        validate: check inputs against ``definitions/schemas/<flow>.input.json`` before starting.
        polling: pacing of :meth:`wait` and :meth:`events`.
        monotonic: the clock for timeouts and rate limits (inject a fake in tests).
        sleep: how to pause between polls (inject a fake in tests).

    Example:
        >>> client = kbflow.Client.aws(region="eu-west-1")
        >>> run = client.start("ingestion", {"source": {"uri": "s3://docs/inbox/"}})
        >>> summary = client.wait(run, timeout=600)
    """

    def __init__(
        self,
        *,
        backend: BaseBackend,
        registry: Registry | Mapping[str, str] | None = None,
        reviews: ReviewSource | None = None,
        validate: bool = True,
        polling: Polling | None = None,
        monotonic: MonotonicFn = time.monotonic,
        sleep: SleepFn = time.sleep,
    ) -> None:
        self.backend = backend
        self.registry = as_registry(registry)
        self.validate = validate
        self.polling = polling or Polling()
        self._monotonic = monotonic
        self._sleep = sleep
        p = self.polling
        self._describe_bucket = TokenBucket(
            p.describe_burst, p.describe_rate, monotonic=monotonic, sleep=sleep
        )
        self._history_bucket = TokenBucket(
            p.history_burst, p.history_rate, monotonic=monotonic, sleep=sleep
        )
        self.reviews = Reviews(self, reviews)
        """Pending human reviews and their decisions (see :class:`Reviews`)."""

    @classmethod
    def aws(
        cls,
        session: Any | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        registry: Registry | Mapping[str, str] | None = None,
        stack: str | None = None,
        reviews: ReviewSource | None = None,
        **options: Any,
    ) -> Client:
        """A client for Step Functions on AWS (or any endpoint speaking its API).

        Without ``registry``, workflow names resolve through the deployed stack's registry
        file (written by ``kbflow deploy apply``; see ``kbflow.deploy.registry``) when there
        is one, and through ``KBFLOW_WORKFLOW_<NAME>_ARN`` variables either way.

        Args:
            session: a boto3 session (default: a new one, from the usual AWS configuration).
            endpoint_url: e.g. ``http://127.0.0.1:8083`` for ``kbflow console``.
            region: the AWS Region (default: the deployed stack's, else boto3's default).
            registry: workflow names to ARNs, or a :class:`Registry` with deploy outputs.
            stack: the deployed stack whose registry to read (default: the only one).
            reviews: the review source (default: the reviews table named in the deploy
                outputs, when they name one).
            **options: passed to :class:`Client` (``validate``, ``polling``, ``monotonic``,
                ``sleep``).

        Returns:
            The client.
        """
        from kbflow._backends.aws import AwsBackend

        if registry is None:
            registry, deployed_region = deployed_registry(stack)
            region = region or deployed_region
        reg = as_registry(registry)
        backend = AwsBackend(
            session=session,
            region=region,
            endpoint_url=endpoint_url,
            sleep=options.get("sleep", time.sleep),  # throttling backoff sleeps like polling
        )
        if reviews is None:
            from kbflow._reviews import review_source_from_outputs

            reviews = review_source_from_outputs(reg.outputs, session=session, region=region)
        return cls(backend=backend, registry=reg, reviews=reviews, **options)

    @classmethod
    def local(
        cls,
        store: str | os.PathLike[str] = ".kbflow",
        *,
        clock: Any | None = None,
        file_roots: Sequence[str | os.PathLike[str]] = (),
        workers: int | None = None,
        durable: bool | None = None,
        registry: Registry | Mapping[str, str] | None = None,
        **options: Any,
    ) -> Client:
        """A client running kbflow's flows on the embedded engine, in this process.

        The three flows are registered as ``kbflow-ingestion``, ``kbflow-reindex`` and
        ``kbflow-human-review`` with their local task functions; the store folder holds the
        task stores (and the engine's executions, when the runtime's durable store is
        available), and ``client.reviews`` reads its reviews. The store's task adapters are
        installed for the whole process, as ``kbflow ingest`` does.

        Args:
            store: the store folder (created if missing).
            clock: the engine clock, e.g. ``kbflow.runtime.clock.VirtualClock()`` so waits
                and timeouts take no real time.
            file_roots: folders that ``file:///`` sources may read (the ingest sources).
            workers: how many CPU-bound task invocations run at once.
            durable: keep executions in ``<store>/engine.sqlite3`` so they survive the process
                (``None``: yes, unless ``clock`` is a ``VirtualClock``).
            registry: extra workflow names (the three flows are added).
            **options: passed to :class:`Client`.

        Returns:
            The client; closing it closes the engine.
        """
        from kbflow._backends.local import LocalBackend
        from kbflow._local import build_local

        setup = build_local(
            store, clock=clock, file_roots=file_roots, workers=workers, durable=durable
        )
        reg = as_registry(registry)
        backend = LocalBackend(setup.engine, on_close=setup.host.close)
        return cls(
            backend=backend,
            registry=Registry({**setup.workflows, **reg.mapping}, outputs=reg.outputs),
            reviews=options.pop("reviews", None) or setup.reviews,
            **options,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- executions --------------------------------------------------------------------------

    def _resolve(self, workflow: str) -> tuple[str, str | None]:
        if is_arn(workflow):
            return workflow, self.registry.workflow_for(workflow)
        return self.registry.arn(workflow), workflow

    def _named(self, execution: Execution) -> Execution:
        if execution.workflow is not None:
            return execution
        return replace(execution, workflow=self.registry.workflow_for(execution.state_machine_arn))

    def start(
        self,
        workflow: str,
        input: JSON = None,
        *,
        name: str | None = None,
        trace_header: str | None = None,
    ) -> Execution:
        """Start an execution, after validating its input.

        Starting is idempotent by name: with the same name and the same input, the existing
        execution is returned (as AWS does for a running one; kbflow extends it to closed
        ones, so a caller can retry a start safely). Without a name, a random one is used.

        Args:
            workflow: ``"ingestion"``, ``"reindex"``, ``"human-review"`` or a state machine ARN.
            input: the execution input (``None`` means ``{}``).
            name: the execution name (1-80 characters, unique per state machine).
            trace_header: an AWS X-Ray trace header.

        Returns:
            The execution.

        Raises:
            ValidationError: the input fails the flow's schema (``.pointer`` names the
                field), is too large, or the name is invalid; nothing was started.
            ExecutionAlreadyExists: the name is taken by an execution with another input.
            StateMachineNotFound: the workflow's state machine does not exist.
            ConfigurationError: the workflow name resolves to no ARN.
        """
        value: JSON = {} if input is None else input
        arn, flow = self._resolve(workflow)
        if flow is not None and self.validate:
            validate_input(flow, value)
        text = encode_json(value)
        name = name if name is not None else uuid.uuid4().hex
        validate_name(name)
        try:
            started = self.backend.start_execution(
                arn, input=text, name=name, trace_header=trace_header
            )
        except ExecutionAlreadyExists:
            existing = self._same_start(arn, name, value)
            if existing is None:
                raise
            return existing
        return replace(started, input=value, workflow=flow)

    def _same_start(self, state_machine_arn: str, name: str, value: JSON) -> Execution | None:
        try:
            existing = self.describe(execution_arn(state_machine_arn, name))
        except ExecutionNotFound:
            return None
        return existing if existing.input == value else None

    def describe(self, execution: ExecutionRef) -> Execution:
        """Read an execution's current state.

        Args:
            execution: an :class:`Execution` or its ARN.

        Returns:
            The execution now.

        Raises:
            ExecutionNotFound: there is no such execution.
        """
        self._describe_bucket.acquire()
        return self._named(self.backend.describe_execution(_arn_of(execution)))

    def wait(self, execution: ExecutionRef, *, timeout: Timeout) -> JSON:
        """Wait for an execution to end and return its output.

        Polls DescribeExecution with a growing pause (``polling``), within the client's
        rate limit, and never past ``timeout``.

        Args:
            execution: an :class:`Execution` or its ARN.
            timeout: how long to wait at most (seconds or a timedelta).

        Returns:
            The output of the SUCCEEDED execution.

        Raises:
            ExecutionFailed: it failed (``.error``, ``.cause``).
            ExecutionTimedOut: it exceeded its own ``TimeoutSeconds``.
            ExecutionAborted: it was stopped.
            WaitTimeout: it was still running when ``timeout`` passed.
            ExecutionNotFound: there is no such execution.
        """
        arn = _arn_of(execution)
        limit = seconds(timeout)
        deadline = self._monotonic() + limit
        delays = self.polling.delays()
        while True:
            current = self.describe(arn)
            if current.status.terminal:
                return current.result()
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise WaitTimeout(arn, limit)
            self._sleep(min(next(delays), remaining))

    def stop(
        self, execution: ExecutionRef, *, error: str | None = None, cause: str | None = None
    ) -> Execution:
        """Stop a running execution (it ends ABORTED).

        Args:
            execution: an :class:`Execution` or its ARN.
            error: an error name to record.
            cause: a cause to record.

        Returns:
            The execution after the stop.
        """
        arn = _arn_of(execution)
        self.backend.stop_execution(arn, error=error, cause=cause)
        return self.describe(arn)

    def redrive(self, execution: ExecutionRef) -> Execution:
        """Redrive a FAILED, TIMED_OUT or ABORTED execution from where it stopped.

        Args:
            execution: an :class:`Execution` or its ARN.

        Returns:
            The execution after the redrive request.

        Raises:
            ExecutionNotRedrivable: it cannot be redriven.
        """
        arn = _arn_of(execution)
        self.backend.redrive_execution(arn)
        return self.describe(arn)

    def list(
        self, workflow: str, *, status: ExecutionStatus | str | None = None
    ) -> builtins.list[Execution]:
        """List a workflow's executions (all pages), newest first.

        Args:
            workflow: a workflow name or state machine ARN.
            status: only executions with this status.

        Returns:
            The executions (without input or output; :meth:`describe` one for those).
        """
        arn, flow = self._resolve(workflow)
        wanted = _status(status)
        out: builtins.list[Execution] = []
        token: str | None = None
        while True:
            page = self.backend.list_executions(arn, status=wanted, next_token=token)
            out.extend(replace(e, workflow=flow) if flow else self._named(e) for e in page.items)
            token = page.next_token
            if token is None:
                return out

    # -- history -----------------------------------------------------------------------------

    def _pages(self, arn: str) -> Iterator[HistoryEvent]:
        token: str | None = None
        while True:
            self._history_bucket.acquire()
            page = self.backend.get_execution_history(arn, next_token=token)
            yield from page.items
            token = page.next_token
            if token is None:
                return

    def history(self, execution: ExecutionRef) -> builtins.list[HistoryEvent]:
        """The execution's whole history, every page, oldest first.

        Args:
            execution: an :class:`Execution` or its ARN.

        Returns:
            The events.
        """
        return builtins.list(self._pages(_arn_of(execution)))

    def _events_after(self, arn: str, last_id: int) -> builtins.list[HistoryEvent]:
        # Newest first until a page reaches what we have already seen, so a poll costs one
        # call when little is new. Sorting by id keeps this right for backends that ignore
        # reverseOrder.
        newer: builtins.list[HistoryEvent] = []
        token: str | None = None
        while True:
            self._history_bucket.acquire()
            page = self.backend.get_execution_history(arn, next_token=token, reverse_order=True)
            newer.extend(e for e in page.items if e.id > last_id)
            token = page.next_token
            if token is None or any(e.id <= last_id for e in page.items):
                return sorted(newer, key=lambda e: e.id)

    def events(
        self, execution: ExecutionRef, *, follow: bool = True, timeout: Timeout | None = None
    ) -> Iterator[HistoryEvent]:
        """Yield the execution's history events in order, then (``follow``) new ones as they happen.

        The iterator ends after the event that ends the execution. Break out of the loop to
        stop following earlier.

        Args:
            execution: an :class:`Execution` or its ARN.
            follow: keep polling for new events until the execution ends.
            timeout: stop following after this long (``None``: until the execution ends).

        Yields:
            Each event once, in id order.

        Raises:
            WaitTimeout: ``timeout`` passed while the execution still ran.
        """
        arn = _arn_of(execution)
        last: HistoryEvent | None = None
        for last in self._pages(arn):
            yield last
        if not follow or (last is not None and last.terminal):
            return
        deadline = None if timeout is None else self._monotonic() + seconds(timeout)
        delays = self.polling.delays()
        while True:
            pause = next(delays)
            if deadline is not None:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    raise WaitTimeout(arn, seconds(timeout or 0))
                pause = min(pause, remaining)
            self._sleep(pause)
            new = self._events_after(arn, last.id if last else 0)
            if new:
                delays = self.polling.delays()
            for last in new:
                yield last
            if new and new[-1].terminal:
                return

    # -- tracking many -----------------------------------------------------------------------

    def track(
        self,
        executions: Iterable[ExecutionRef],
        *,
        timeout: Timeout,
        queue: StatusQueue | None = None,
        reconcile_every: float = 60.0,
    ) -> Iterator[Execution]:
        """Yield each execution once it has ended, in the order they end.

        With ``queue`` (EventBridge status events delivered to SQS), the client waits on the
        queue instead of polling, confirms each event with DescribeExecution, and describes
        executions it heard nothing about every ``reconcile_every`` seconds, because
        EventBridge delivery is best effort. Without it, every execution is polled with the
        client's backoff.

        Args:
            executions: the executions to follow.
            timeout: how long to wait at most for all of them.
            queue: the status queue, for event-driven tracking on AWS.
            reconcile_every: seconds between full DescribeExecution sweeps when using ``queue``.

        Yields:
            Each execution, as described once it has ended (any terminal status).

        Raises:
            WaitTimeout: some were still running after ``timeout`` (``execution_arn`` names
                the first of them).
        """
        outstanding = dict.fromkeys(_arn_of(e) for e in executions)
        limit = seconds(timeout)
        deadline = self._monotonic() + limit
        delays = self.polling.delays()
        yield from self._sweep(outstanding, builtins.list(outstanding))
        swept = self._monotonic()
        while outstanding:
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise WaitTimeout(next(iter(outstanding)), limit)
            if queue is None:
                self._sleep(min(next(delays), remaining))
                yield from self._sweep(outstanding, builtins.list(outstanding))
                continue
            if remaining < 1:  # SQS long polls in whole seconds: pause here instead
                self._sleep(min(next(delays), remaining))
            hints = [
                c.execution_arn
                for c in queue.receive(wait_seconds=min(20, remaining))
                if c.status.terminal and c.execution_arn in outstanding
            ]
            yield from self._sweep(outstanding, hints)
            if self._monotonic() - swept >= reconcile_every:
                yield from self._sweep(outstanding, builtins.list(outstanding))
                swept = self._monotonic()

    def _sweep(self, outstanding: dict[str, None], arns: builtins.list[str]) -> Iterator[Execution]:
        for arn in dict.fromkeys(arns):
            if arn not in outstanding:
                continue
            current = self.describe(arn)
            if current.status.terminal:
                del outstanding[arn]
                yield current

    # -- task tokens -------------------------------------------------------------------------

    def send_task_success(self, token: str, output: JSON) -> None:
        """Complete a ``.waitForTaskToken`` task with a result.

        Args:
            token: the task token.
            output: the task result.

        Raises:
            ValidationError: ``output`` is not JSON or exceeds 256 KiB.
            TaskDoesNotExist: the token is unknown (or its execution ended).
            TaskTimedOut: the task already timed out.
            InvalidToken: the token is malformed.
        """
        self.backend.send_task_success(token, encode_json(output, what="output"))

    def send_task_failure(
        self, token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        """Fail a ``.waitForTaskToken`` task.

        Args:
            token: the task token.
            error: the error name (Catchers match on it).
            cause: a human-readable cause.

        Raises:
            TaskDoesNotExist: the token is unknown.
            TaskTimedOut: the task already timed out.
            InvalidToken: the token is malformed.
        """
        self.backend.send_task_failure(token, error=error, cause=cause)

    def send_task_heartbeat(self, token: str) -> None:
        """Report that a ``.waitForTaskToken`` task is still being worked on.

        Args:
            token: the task token.

        Raises:
            TaskDoesNotExist: the token is unknown.
            TaskTimedOut: the task already timed out.
        """
        self.backend.send_task_heartbeat(token)

    # -- console -----------------------------------------------------------------------------

    def console_url(self, execution: ExecutionRef) -> str:
        """Where to look at the execution in a browser.

        Args:
            execution: an :class:`Execution` or its ARN.

        Returns:
            The kbflow console URL when the backend is local (or ``kbflow console``), else
            the AWS console URL for the ARN's partition and Region.

        Raises:
            ValidationError: the ARN is not an execution ARN.
        """
        return console_url(_arn_of(execution), self.backend.console_base)


def _status(value: ExecutionStatus | str | None) -> ExecutionStatus | None:
    if value is None:
        return None
    try:
        return ExecutionStatus(value)
    except ValueError:
        names = ", ".join(s.value for s in ExecutionStatus)
        raise ValidationError(f"status must be one of {names}, got {value!r}") from None
