"""``RedriveExecution`` with AWS's semantics on the durable engine.

A FAILED, TIMED_OUT or ABORTED Standard execution restarts from its unsuccessful state with the
same input, ARN and definition. The successful steps are not run again: redrive forgets the
journaled task errors that no Catch handled and replays the execution (see
:mod:`kbflow.runtime.replay`), so successful task results come back from the journal and only
the failed tasks, and the Map iterations and Parallel branches that failed or were aborted,
run again. A distributed Map's failed or aborted children are redriven with their parent;
succeeded children are kept. ``RedriveCount`` (DescribeExecution) and
``$$.Execution.RedriveCount`` count the redrives; the history records ``ExecutionRedriven``
with ``redriveCount``.

As on AWS, ``ExecutionNotRedrivable`` is raised when the execution

* is RUNNING or SUCCEEDED;
* belongs to an EXPRESS state machine (or is a distributed Map child: redrive the parent);
* stopped more than 14 days ago (the redrivable period);
* failed because it reached the history event limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from kbflow.errors import ExecutionNotFound, ExecutionNotRedrivable

from .execution import ExecutionRecord

if TYPE_CHECKING:
    from .durable import DurableEngine

__all__ = ["REDRIVABLE_PERIOD", "check_redrivable", "prepare_redrive", "redrive",
           "redrive_status"]

REDRIVABLE_PERIOD: Final = timedelta(days=14)
_UNSUCCESSFUL: Final = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def redrive_status(record: ExecutionRecord, sm_type: str, now: datetime) -> tuple[str, str | None]:
    """DescribeExecution's ``redriveStatus`` and ``redriveStatusReason`` of ``record``."""
    try:
        check_redrivable(record, sm_type, now)
    except ExecutionNotRedrivable as exc:
        return "NOT_REDRIVABLE", str(exc).split(": '")[0]
    return "REDRIVABLE", None


def check_redrivable(record: ExecutionRecord, sm_type: str, now: datetime) -> None:
    """Raise ``ExecutionNotRedrivable`` with AWS's reason when ``record`` cannot be redriven."""
    arn = record.execution_arn
    if record.status not in _UNSUCCESSFUL:
        raise ExecutionNotRedrivable(
            f"Execution is {record.status} and cannot be redriven: '{arn}'")
    if sm_type == "EXPRESS" or ":express:" in arn:
        raise ExecutionNotRedrivable(f"Express executions cannot be redriven: '{arn}'")
    if record.map_run_arn is not None:
        raise ExecutionNotRedrivable(
            f"Child workflow executions of a Distributed Map are redriven with their parent: "
            f"redrive '{record.parent_arn}'")
    stopped = record.stop_date
    if stopped is not None and now - stopped > REDRIVABLE_PERIOD:
        raise ExecutionNotRedrivable(f"Execution redrivable period exceeded: '{arn}'")
    if record.error == "States.Runtime" and "maximum number of history events" in (
            record.cause or ""):
        raise ExecutionNotRedrivable(f"Execution history event limit exceeded: '{arn}'")


def prepare_redrive(engine: DurableEngine, record: ExecutionRecord, *,
                    redrive_count: int | None = None) -> None:
    """Mark ``record`` RUNNING again, count the redrive and forget its uncaught task errors."""
    record.status = "RUNNING"
    record.output = record.error = record.cause = None
    record.stop_date = None
    record.redrive_count = record.redrive_count + 1 if redrive_count is None else redrive_count
    engine.store.drop_uncaught_errors(record.execution_arn)
    engine.store.mark_redriven(record, engine.clock.now())


def redrive(engine: DurableEngine, execution_arn: str) -> str:
    """Redrive an execution (called on the engine loop). Returns its ARN.

    Raises:
        ExecutionNotFound: no such execution in the store.
        ExecutionNotRedrivable: see the module docstring.
    """
    engine.store.flush()
    found = engine.store.execution(execution_arn)
    if found is None:
        raise ExecutionNotFound(f"Execution Does Not Exist: '{execution_arn}'")
    record = found[0]
    stored = engine.store.state_machine(record.state_machine_arn)
    check_redrivable(record, stored["type"] if stored else "STANDARD", engine.clock.now())
    live = engine._runs.get(execution_arn)
    if live is not None and live.record.status == "RUNNING":
        raise ExecutionNotRedrivable(f"Execution is RUNNING and cannot be redriven: "
                                     f"'{execution_arn}'")
    prepare_redrive(engine, record)
    engine._resume(record, redriven=True)
    return execution_arn
