"""A durable engine: the embedded engine with its executions kept in a SQLite store.

:class:`DurableEngine` is an :class:`~kbflow.runtime.engine.Engine` whose history events,
executions, Map Runs, task tokens and task outcomes go to a :class:`~kbflow.runtime.store.Store`.
It resumes executions whose owner process died (see :mod:`kbflow.runtime.replay` for how) and
redrives failed ones (:mod:`kbflow.runtime.redrive`). ::

    with DurableEngine(".kbflow") as engine:
        engine.register_function("fetch", handler)
        sm = engine.create_state_machine("ingest", definition)
        arn = engine.start_execution(sm, {"uri": "..."}, name="run-1")  # resumes run-1 if orphaned
        engine.wait(arn)
        engine.recover()              # resume every other orphaned execution in the store

Hooks used (no engine file edited): the engine's ``history_listener``, the resource registry
(the Lambda, ``states:startExecution`` and activity resources are wrapped by the task
journal), ``TaskTokens`` (deterministic tokens) and overrides of ``_start``, ``start_child``,
``start_map_child``, ``register_map_run``, ``finished`` and the read/wait/stop methods (which
fall back to the store for executions of other processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from kbflow.errors import (
    BackendError,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    StateMachineNotFound,
    StatesError,
)

from .asl import model as m
from .asl.errors import error_matches
from .asl.parse import parse
from .distributed_map import MapRun
from .engine import Engine, StateMachineRecord, _timeout
from .execution import ExecutionRecord, Run
from .history import payload
from .integrations import TaskTokens
from .plan import StatePlan, compile_machine
from .replay import Journal, ReplayHistory, install_replay_sleep, task_key
from .store import JournalEntry, Store, owner_alive
from .tasks import TaskCall, TaskResource, parse_resource

__all__ = ["DurableEngine"]

JSON = Any
_JOURNALED: Final = {  # registry key -> an ARN that resolves to it
    "lambda-function": "arn:aws:lambda:us-east-1:123456789012:function:any",
    "lambda:invoke": "arn:aws:states:::lambda:invoke",
    "states:startExecution": "arn:aws:states:::states:startExecution",
    "activity": "arn:aws:states:us-east-1:123456789012:activity:any"}
_NAMESPACE: Final = uuid.UUID("6f1c3a52-4f8e-4a43-9d0e-6b9a4c1d2e70")
_HEARTBEAT_EVERY: Final = 5.0
_POLL_EVERY: Final = 0.25


class DurableTokens(TaskTokens):
    """Task tokens derived from the store's secret, the execution and a per-run counter, so a
    replayed ``.waitForTaskToken`` task gets the token it had before the crash; callbacks can
    come through the store from any process."""

    def __init__(self, engine: DurableEngine) -> None:
        super().__init__()
        self._engine = engine
        self._secret = engine.store.secret()
        self._counters: dict[str, int] = {}
        self.issued: dict[str, str] = {}

    def waiting(self, token: str) -> bool | None:
        """True when a task waits on ``token``; None if it will soon; False if it never will."""
        pending = self._pending.get(token)
        if pending is None or pending.closed is not None:
            return False
        if pending.run.record.status != "RUNNING":
            return False
        return True if pending.future is not None else None

    def restart(self, execution_arn: str) -> None:
        """Count an execution's tokens from the start again (it is being replayed)."""
        self._counters.pop(execution_arn, None)

    def new_token(self, run: Run) -> str:
        """A deterministic, unguessable token for the next callback task of ``run``."""
        arn = run.record.execution_arn
        n = self._counters.get(arn, 0) + 1
        self._counters[arn] = n
        raw = f"{self._secret}|{run.record.execution_arn}|{run.record.redrive_count}|{n}"
        token = hashlib.sha256(raw.encode()).hexdigest() * 2
        issued = super().new_token(run)  # the engine's bookkeeping, under a random token
        self._pending[token] = self._pending.pop(issued)
        self.issued[token] = run.record.execution_arn
        self._engine.store.put_token(token, run.record.execution_arn, None)
        return token


class DurableEngine(Engine):
    """An engine whose executions survive crashes. See the module docstring.

    Args:
        store: a :class:`Store` or the store directory.
        flush_interval: seconds between background commits of buffered events.
        **kwargs: :class:`Engine` options. With a ``VirtualClock`` executions are stored
            too, but resuming them in another process mixes two virtual timelines.
    """

    def __init__(self, store: Store | str | os.PathLike[str], *, flush_interval: float = 0.05,
                 **kwargs: Any) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self._closing = False
        super().__init__(history_listener=self._record_event, **kwargs)
        self.tokens = DurableTokens(self)
        self.flush_interval = flush_interval
        self._versions: dict[str, int] = {}
        self._journals: dict[str, Journal] = {}
        self._child_counts: dict[tuple[str, str], int] = {}
        self._ticking = False
        self._last_beat = 0.0
        self._last_poll = 0.0
        self._closed_map_runs: set[str] = set()
        for key, sample in _JOURNALED.items():
            try:
                builtin = self.resources.lookup(parse_resource(sample))
            except StatesError:  # not an integration of this engine version
                continue
            self.resources.register(key, self._journaled(builtin))

    # ------------------------------------------------------------------ plumbing

    def _ensure_loop(self) -> None:
        super()._ensure_loop()
        if not self._ticking:
            self._ticking = True
            self._loop.call_soon_threadsafe(self._tick)

    def _record_event(self, execution_arn: str, event: dict[str, JSON]) -> None:
        if not self._closing:  # events of executions being abandoned at close are not kept
            self.store.append_event(execution_arn, event)

    def _tick(self) -> None:
        """Background work on the loop: commit buffered events every ``flush_interval``;
        every quarter second save Map Run counts, deliver callbacks sent through the store and
        honour stop requests; every few seconds refresh the owner heartbeat."""
        now = time.monotonic()
        beat = now - self._last_beat >= _HEARTBEAT_EVERY
        if beat:
            self._last_beat = now
        try:
            self.store.flush(heartbeat=beat)
            if now - self._last_poll >= _POLL_EVERY:
                self._last_poll = now
                self._persist_map_runs()
                self._poll_tokens()
                self._poll_stops()
        finally:
            self._loop.call_later(self.flush_interval, self._tick)

    def _poll_stops(self) -> None:
        for arn, error, cause in self.store.stop_requests():
            run = self._runs.get(arn)
            if run is not None and run.task is not None and run.record.status == "RUNNING":
                run.stop_reason = (error, cause)
                run.task.cancel()

    def close(self) -> None:
        """Commit what is buffered, abandon the executions still running (their coroutines
        are cancelled without recording anything, so they stay RUNNING in the store), stop the
        loop, release those executions (another engine may resume them at once) and close the
        store."""
        if self._thread is not None:
            with contextlib.suppress(Exception):  # closing must not fail on a dead loop
                self._call(self._abandon(), timeout=10)
        super().close()
        self.store.release()
        self.store.close()

    async def _abandon(self) -> None:
        # From here on nothing is recorded: the cancelled executions must stay RUNNING in the
        # store (resumable), not become ABORTED (the base close cancels them too).
        self.store.flush()
        self._closing = True
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # ------------------------------------------------------------------ state machines

    def create_state_machine(self, name: str, definition: str | Mapping[str, JSON], *,
                             substitutions: Mapping[str, str] | None = None,
                             type: str = "STANDARD", role_arn: str | None = None) -> str:
        """``CreateStateMachine``; the definition is stored (a changed one is a new version)."""
        arn = super().create_state_machine(name, definition, substitutions=substitutions,
                                           type=type, role_arn=role_arn)
        sm = self._machines[arn]
        self._versions[arn] = self.store.put_state_machine(arn, name, sm.definition, sm.type,
                                                           sm.role_arn)
        return arn

    def _machine_of(self, record: ExecutionRecord) -> StateMachineRecord:
        """The state machine an execution started with: the registered one when it is the same
        version, else that version rebuilt from the store (a resumed or redriven execution keeps
        its definition even if the state machine was updated since)."""
        sm = self._stored_machine(record.state_machine_arn)
        version = self.store.execution_version(record.execution_arn)
        if version is None or version == self._versions.get(sm.arn, version):
            return sm
        stored = self.store.state_machine(sm.arn, version)
        if stored is None:
            return sm
        machine = parse(json.loads(stored["definition"]))
        return StateMachineRecord(sm.arn, sm.name, stored["definition"], machine,
                                  compile_machine(machine), stored["type"], stored["role_arn"],
                                  sm.creation_date)

    def _stored_machine(self, arn: str) -> StateMachineRecord:
        sm = self._machines.get(arn)
        if sm is not None:
            return sm
        stored = self.store.state_machine(arn)
        if stored is None:
            raise StateMachineNotFound(f"State Machine Does Not Exist: '{arn}'")
        self.create_state_machine(stored["name"], stored["definition"], type=stored["type"],
                                  role_arn=stored["role_arn"])
        return self._machines[arn]

    # ------------------------------------------------------------------ starting and resuming

    def _start(self, sm_arn: str, text: str, name: str | None, test_case: str | None,
               parent: Run | None = None) -> str:
        sm = self._machine(sm_arn)
        if name and sm.type == "STANDARD":
            arn = f"arn:aws:states:{self.region}:{self.account}:execution:{sm.name}:{name}"
            if arn not in self._runs:
                found = self.store.execution(arn)
                if found is not None:
                    return self._existing(found, text, nested=parent is not None)
        arn = super()._start(sm_arn, text, name, test_case, parent)
        self.store.insert_execution(self._runs[arn].record, self._versions.get(sm.arn, 1))
        return arn

    def _existing(self, found: tuple[ExecutionRecord, Any, float | None], text: str, *,
                  nested: bool = False) -> str:
        record, owner, beat = found
        arn = record.execution_arn
        if record.status == "RUNNING" and not owner_alive(owner, beat):
            if not _same_json(record.input, text):
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
            self._resume(record)
            return arn
        if nested and record.status != "RUNNING" and _same_json(record.input, text):
            # a replayed parent meets the nested execution it had started before the crash
            sm = self._machine_of(record)
            self._runs[arn] = self._finished_run(record, sm.plan, sm.name, sm.role_arn)
            return arn
        raise ExecutionAlreadyExists(
            f"Execution Already Exists: '{arn}'" + (
                " (running in another live process)" if record.status == "RUNNING" else ""))

    def recover(self) -> list[str]:
        """Resume every top-level execution in the store whose owner process died.

        Register the functions the executions call first. Returns the resumed ARNs.
        """
        def resume_all() -> list[str]:
            out = []
            for arn in self.store.orphans():
                if arn in self._runs:
                    continue
                found = self.store.execution(arn)
                if found is not None:
                    self._resume(found[0])
                    out.append(arn)
            return out

        return self._call_soon(resume_all)

    def _resume(self, record: ExecutionRecord, *, redriven: bool = False,
                plan: Any = None, sm_name: str | None = None, role_arn: str | None = None) -> Run:
        """Re-create a stored execution's run and replay it (on the loop)."""
        arn = record.execution_arn
        if not self.store.claim(arn, redrive=redriven):
            raise ExecutionAlreadyExists(f"Execution '{arn}' is owned by a live process")
        if plan is None:
            sm = self._machine_of(record)
            plan, sm_name, role_arn = sm.plan, sm.name, sm.role_arn
            timeout = _timeout(sm.machine)
            if timeout is not None and not redriven:  # TimeoutSeconds counts from the start
                elapsed = (self.clock.now() - record.start_date).total_seconds()
                timeout = max(0.001, timeout - elapsed)
            if arn not in sm.executions:
                sm.executions.append(arn)
        else:
            timeout = None
        assert sm_name is not None and role_arn is not None
        run = Run(self, record, plan, state_machine_name=sm_name, role_arn=role_arn,
                  timeout=timeout, history_listener=self._listener_for(arn),
                  history_limit=self.history_limit)
        history = ReplayHistory(self.clock.now, self.store.event_rows(arn),
                                limit=self.history_limit, listener=self._listener_for(arn))
        run.history = history
        install_replay_sleep(run, history)
        if redriven:
            history.forget_unsuccessful()
            history.add_new("ExecutionRedriven", {"redriveCount": record.redrive_count})
        self._journals[arn] = Journal(self.store.journal_entries(arn))
        self.tokens.restart(arn)  # type: ignore[attr-defined]
        self._child_counts = {k: v for k, v in self._child_counts.items() if k[0] != arn}
        self._runs[arn] = run
        run.task = self._loop.create_task(run.execute(self.interpreter))
        return run

    # ------------------------------------------------------------------ distributed Map

    def start_map_child(self, parent: Run, plan: StatePlan, value: JSON, map_run: MapRun) -> Run:
        """Start a distributed Map child with a deterministic name (so replay finds it)."""
        state = plan.state
        assert isinstance(state, m.Map)
        label = state.label if isinstance(state.label, str) else plan.name
        parent_arn = parent.record.execution_arn
        index = self._child_counts.get((parent_arn, label), 0)
        self._child_counts[(parent_arn, label)] = index + 1
        parts = parent.record.state_machine_arn.split(":")
        sm_arn = ":".join(parts[:6]) + f":{parts[6]}/{label}"
        name = str(uuid.uuid5(_NAMESPACE, f"{parent_arn}|{label}|{index}"))
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{parts[6]}/{label}:{name}"
        cfg = state.processor.processor_config
        express = not isinstance(cfg, m.Unset) and cfg.execution_type == "EXPRESS"
        map_run.children.append(arn)
        found = self.store.execution(arn)
        if found is not None and not express:
            return self._existing_child(parent, found[0], plan, f"{parts[6]}/{label}")
        record = ExecutionRecord(arn, sm_arn, name, json.dumps(value), self.clock.now(),
                                 parent_arn=parent_arn, map_run_arn=map_run.map_run_arn)
        run = Run(self, record, plan.children[0], state_machine_name=f"{parts[6]}/{label}",
                  role_arn=parent.role_arn, express=express,
                  history_listener=self._listener_for(arn), history_limit=self.history_limit)
        self._runs[arn] = run
        self.store.insert_execution(record, 1)
        run.task = self._loop.create_task(run.execute(self.interpreter))
        return run

    def _finished_run(self, record: ExecutionRecord, plan: Any, sm_name: str,
                      role_arn: str) -> Run:
        """A Run object for an execution that already ended (its history from the store)."""
        run = Run(self, record, plan, state_machine_name=sm_name, role_arn=role_arn,
                  history_limit=self.history_limit)
        run.history = ReplayHistory(self.clock.now, self.store.event_rows(record.execution_arn),
                                    limit=self.history_limit, listener=None)
        run.done.set()
        return run

    def start_child(self, parent: Run, params: Mapping[str, JSON]) -> Run:
        """Start a nested execution (``states:startExecution``); without a ``Name`` it gets a
        deterministic one, so a replayed parent finds the child it had started."""
        if not params.get("Name"):
            parent_arn = parent.record.execution_arn
            key = (parent_arn, "#nested")
            index = self._child_counts.get(key, 0)
            self._child_counts[key] = index + 1
            name = uuid.uuid5(_NAMESPACE, f"{parent_arn}|{parent.record.redrive_count}|{index}")
            params = {**params, "Name": str(name)}
        return super().start_child(parent, params)

    def _existing_child(self, parent: Run, record: ExecutionRecord, plan: StatePlan,
                        sm_name: str) -> Run:
        if record.status == "SUCCEEDED" or (
                record.status != "RUNNING" and record.redrive_count >= parent.record.redrive_count):
            run = self._finished_run(record, plan.children[0], sm_name, parent.role_arn)
            self._runs[record.execution_arn] = run
            return run
        redriven = record.status != "RUNNING"
        if redriven:
            from .redrive import prepare_redrive

            prepare_redrive(self, record, redrive_count=parent.record.redrive_count)
        return self._resume(record, redriven=redriven, plan=plan.children[0], sm_name=sm_name,
                            role_arn=parent.role_arn)

    def register_map_run(self, map_run: MapRun) -> None:
        """Keep a Map Run with a deterministic ARN (replay finds the same Map Run)."""
        base, _, _ = map_run.map_run_arn.rpartition(":")
        n = sum(1 for r in self._map_runs.values() if r.execution_arn == map_run.execution_arn)
        map_run.map_run_arn = f"{base}:{uuid.uuid5(_NAMESPACE, f'{map_run.execution_arn}|{n}')}"
        stale = [k for k, r in self._map_runs.items() if k == map_run.map_run_arn]
        for k in stale:
            del self._map_runs[k]
        super().register_map_run(map_run)
        self._persist_map_run(map_run)

    def _persist_map_run(self, r: MapRun) -> None:
        self.store.put_map_run(r.map_run_arn, r.execution_arn, r.status, r.start_date, r.stop_date,
                               r.max_concurrency, r.tolerated_failure_count,
                               r.tolerated_failure_percentage, r.counts)

    def _persist_map_runs(self) -> None:
        for arn, r in list(self._map_runs.items()):
            if arn in self._closed_map_runs:
                continue
            self._persist_map_run(r)
            if r.status != "RUNNING":
                self._closed_map_runs.add(arn)

    # ------------------------------------------------------------------ task journal

    def _journaled(self, inner: TaskResource) -> TaskResource:
        async def resource(call: TaskCall) -> JSON:
            return await self._run_journaled(call, inner)

        return resource

    async def _run_journaled(self, call: TaskCall, inner: TaskResource) -> JSON:
        arn = call.run.record.execution_arn
        journal = self._journals.get(arn)
        if journal is None:
            journal = self._journals[arn] = Journal()
        key = task_key(call)
        start_id = call.frame.prev
        entry = journal.take(key, start_id)
        if entry is not None:
            if entry.event_id:
                call.frame.prev = entry.event_id
            if entry.error is not None:
                raise StatesError(entry.error, entry.cause)
            return json.loads(entry.result or "null")
        self.store.flush()  # everything before this task is durable before it runs
        try:
            result = await inner(call)
        except StatesError as err:
            caught = any(error_matches(c.error_equals, err.error) for c in call.plan.catchers)
            self.store.journal(arn, journal.next_seq(), JournalEntry(
                call.plan.name, key, None, err.error, err.cause, caught, call.frame.prev,
                start_id))
            raise
        self.store.journal(arn, journal.next_seq(), JournalEntry(
            call.plan.name, key, payload(result), None, None, False, call.frame.prev, start_id))
        return result

    # ------------------------------------------------------------------ callbacks through the store

    def _poll_tokens(self) -> None:
        tokens: DurableTokens = self.tokens  # type: ignore[assignment]
        if not tokens.issued:
            return
        for token, status, output, error, cause in self.store.completed_tokens(list(tokens.issued)):
            if status not in ("SUCCEEDED", "FAILED"):
                tokens.issued.pop(token, None)
                continue
            waiting = tokens.waiting(token)
            if waiting is None:
                continue  # the task has not started waiting yet (e.g. replaying): next poll
            if not waiting:
                tokens.issued.pop(token, None)
                continue
            try:
                if status == "SUCCEEDED":
                    tokens.resolve(token, json.loads(output) if output else None)
                else:
                    tokens.resolve(token, error=error, cause=cause, success=False)
                self.store.close_token(token, "DELIVERED")
            except BackendError:
                self.store.close_token(token, "TIMED_OUT")
            tokens.issued.pop(token, None)

    def send_task_success(self, task_token: str, output: JSON) -> None:
        """``SendTaskSuccess`` (also marks the stored token delivered)."""
        super().send_task_success(task_token, output)
        self._delivered(task_token)

    def send_task_failure(self, task_token: str, *, error: str | None = None,
                          cause: str | None = None) -> None:
        """``SendTaskFailure`` (also marks the stored token delivered)."""
        super().send_task_failure(task_token, error=error, cause=cause)
        self._delivered(task_token)

    def _delivered(self, token: str) -> None:
        def mark() -> None:
            self.tokens.issued.pop(token, None)  # type: ignore[attr-defined]
            self.store.close_token(token, "DELIVERED")

        self._call_soon(mark)

    # ------------------------------------------------------------------ reading and ending

    def finished(self, run: Run) -> None:
        """Commit the final status with every buffered event."""
        if self._closing:  # cancelled by close(): the execution stays RUNNING in the store
            return
        for r in self._map_runs.values():
            if r.execution_arn == run.record.execution_arn:
                self._persist_map_run(r)
        self.store.finish_execution(run.record)
        self._journals.pop(run.record.execution_arn, None)

    def describe_execution(self, execution_arn: str) -> dict[str, JSON]:
        """``DescribeExecution`` (from the store for executions this engine does not run)."""
        try:
            return super().describe_execution(execution_arn)
        except ExecutionNotFound:
            found = self.store.execution(execution_arn)
            if found is None:
                raise
            return found[0].describe()

    def history(self, execution_arn: str) -> list[dict[str, JSON]]:
        """Every event of an execution, oldest first (from the store if not running here)."""
        try:
            return super().history(execution_arn)
        except ExecutionNotFound:
            self._call_soon(self.store.flush)
            events = self.store.events(execution_arn)
            if not events:
                raise
            return events

    def list_executions(self, state_machine_arn: str, *,
                        status: str | None = None) -> list[dict[str, JSON]]:
        """``ListExecutions`` (newest first), including executions of earlier processes."""
        live = {e["executionArn"]: e for e in super().list_executions(state_machine_arn,
                                                                      status=status)}
        self._call_soon(self.store.flush)
        out = []
        for record in self.store.executions(status=status, state_machine_arn=state_machine_arn):
            out.append(live.pop(record.execution_arn, {}) or {
                "executionArn": record.execution_arn, "stateMachineArn": state_machine_arn,
                "name": record.name, "status": record.status, "startDate": record.start_date,
                "stopDate": record.stop_date})
        return [*live.values(), *out]

    def get_execution_history(self, execution_arn: str, *, reverse_order: bool = False,
                              max_results: int = 1000,
                              next_token: str | None = None) -> dict[str, JSON]:
        """``GetExecutionHistory`` (from the store for executions not running here)."""
        try:
            return super().get_execution_history(execution_arn, reverse_order=reverse_order,
                                                 max_results=max_results, next_token=next_token)
        except ExecutionNotFound:
            events = self.history(execution_arn)
        if reverse_order:
            events.reverse()
        start = int(next_token) if next_token else 0
        end = start + max(1, min(max_results, 1000))
        page: dict[str, JSON] = {"events": events[start:end]}
        if end < len(events):
            page["nextToken"] = str(end)
        return page

    def wait(self, execution_arn: str, timeout: float | None = None) -> dict[str, JSON]:
        """Block until the execution ends (also one run by another process, via the store)."""
        try:
            return super().wait(execution_arn, timeout)
        except ExecutionNotFound:
            pass
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.store.execution(execution_arn)
            if found is None:
                raise ExecutionNotFound(f"Execution Does Not Exist: '{execution_arn}'")
            if found[0].status != "RUNNING":
                return found[0].describe()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout}s")
            time.sleep(0.1)

    def stop_execution(self, execution_arn: str, *, error: str | None = None,
                       cause: str | None = None) -> None:
        """``StopExecution``; for an execution of another process, through the store (its
        owner stops it), or at once when its owner is dead."""
        try:
            super().stop_execution(execution_arn, error=error, cause=cause)
            return
        except ExecutionNotFound:
            found = self.store.execution(execution_arn)
            if found is None:
                raise
        record, owner, beat = found
        if record.status != "RUNNING":
            return
        if owner_alive(owner, beat):
            self.store.request_stop(execution_arn, error, cause)
        else:
            self.store.abort_orphan(execution_arn, error, cause)

    def redrive_execution(self, execution_arn: str) -> str:
        """``RedriveExecution``: restart a failed/timed-out/aborted execution where it failed.

        Raises:
            ExecutionNotRedrivable: AWS's restrictions (see :mod:`kbflow.runtime.redrive`).
            ExecutionNotFound: no such execution.
        """
        from .redrive import redrive

        return self._call_soon(lambda: redrive(self, execution_arn))


def _same_json(a: str, b: str) -> bool:
    """True when two JSON texts hold the same value (whatever their spacing)."""
    if a == b:
        return True
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False
