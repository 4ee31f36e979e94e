"""The embedded Step Functions engine: state machines, executions, history, callbacks.

One engine owns one ``asyncio`` event loop (in a background thread) whose time is the
engine's :class:`~kbflow.runtime.clock.Clock`; the public methods are synchronous and
thread-safe, and hand work to the loop. ::

    engine = Engine(clock=VirtualClock())
    engine.register_function("fetch", handler, timeout_seconds=30)
    sm = engine.create_state_machine("ingest", definition, substitutions={"FetchArn": ...})
    ex = engine.start_execution(sm, input={"uri": "..."}, name="run-1")
    engine.wait(ex)                     # -> describe_execution(ex) once it ends
    engine.get_execution_history(ex)    # GetExecutionHistory-shaped events
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from kbflow.errors import (
    BackendError,
    ConfigurationError,
    DefinitionError,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    KbflowError,
    Problem,
    StateMachineNotFound,
    StatesError,
    ValidationError,
)

from . import concurrent as _concurrent  # noqa: F401  (registers Parallel/Map runners)
from . import tasks as _tasks  # noqa: F401  (registers the Task runner)
from . import wait as _wait  # noqa: F401  (registers the Wait runner)
from .activities import Activity
from .asl import model as m
from .asl.parse import parse
from .clock import Clock, RealClock, new_event_loop
from .dataflow import DATA_LIMIT
from .distributed_map import MapRun
from .execution import ExecutionRecord, Run
from .history import MAX_EVENTS
from .integrations import TaskTokens, install_builtin_resources
from .interpreter import Interpreter
from .invoke import InProcessInvoker, Invoker, LambdaFunction, function_name_of
from .plan import MachinePlan, StatePlan, compile_machine
from .tasks import ResourceRegistry

__all__ = ["Engine", "StateMachineRecord"]

JSON = Any
T = TypeVar("T")
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")


@dataclass(slots=True)
class StateMachineRecord:
    """A registered state machine."""

    arn: str
    name: str
    definition: str
    machine: m.StateMachine
    plan: MachinePlan
    type: str = "STANDARD"
    role_arn: str = "arn:aws:iam::123456789012:role/kbflow"
    creation_date: datetime | None = None
    executions: list[str] = field(default_factory=list)
    revision_id: str | None = None
    """Set by ``update_state_machine`` (AWS: absent until the first update)."""
    update_date: datetime | None = None

    def describe(self) -> dict[str, JSON]:
        """DescribeStateMachine's response."""
        out = {"stateMachineArn": self.arn, "name": self.name, "status": "ACTIVE",
               "definition": self.definition, "roleArn": self.role_arn, "type": self.type,
               "creationDate": self.creation_date}
        if self.revision_id is not None:
            out["revisionId"] = self.revision_id
        return out


class Engine:
    """An in-process Step Functions engine.

    Args:
        clock: time source (default :class:`RealClock`; tests use ``VirtualClock``).
        invoker: how Lambda handlers run (default: a thread pool in this process).
        object_store: the ObjectStore for distributed Map ItemReader/ResultWriter.
        region: the region in ARNs.
        account: the account id in ARNs.
        mock_config: a Step Functions Local MockConfigFile document (see ``mocks``).
        history_listener: called with ``(execution_arn, event)`` for every history event.
        history_limit: events per Standard execution (AWS: 25,000; the execution fails past it).
    """

    def __init__(self, *, clock: Clock | None = None, invoker: Invoker | None = None,
                 object_store: Any = None, region: str = "us-east-1",
                 account: str = "123456789012", mock_config: Mapping[str, JSON] | None = None,
                 history_listener: Callable[[str, dict[str, JSON]], None] | None = None,
                 history_limit: int = MAX_EVENTS) -> None:
        self.clock: Clock = clock or RealClock()
        self.invoker: Invoker = invoker or InProcessInvoker()
        self.object_store = object_store
        self.region = region
        self.account = account
        self.resources = ResourceRegistry()
        install_builtin_resources(self.resources)
        self.tokens = TaskTokens()
        self._functions: dict[str, LambdaFunction] = {}
        self.interpreter = Interpreter()
        self.rng = self.interpreter.rng
        self._machines: dict[str, StateMachineRecord] = {}
        self._runs: dict[str, Run] = {}
        self._map_runs: dict[str, MapRun] = {}
        self._activities: dict[str, Activity] = {}
        self._mocks = None
        if mock_config is not None:
            from .mocks import MockConfig

            self._mocks = MockConfig.from_document(mock_config)
        self._listener = history_listener
        self.history_limit = history_limit
        self._loop = new_event_loop(self.clock)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loop plumbing

    def _ensure_loop(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop.run_forever,
                                                name="kbflow-engine", daemon=True)
                self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise ConfigurationError(
                "Engine methods block until the engine thread answers, so they cannot be "
                "called from that thread (e.g. inside a registered integration coroutine)")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _call_soon(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self._call(wrapper())

    def close(self) -> None:
        """Stop the engine loop (running executions are abandoned)."""
        if self._thread is not None:
            # Cancel what still runs so no coroutine is destroyed pending with the loop.
            with contextlib.suppress(Exception):  # closing must not fail on a dead loop
                self._call(self._cancel_pending(), timeout=10)
            # The engine thread's compiled JSONata expressions die with the thread, on it.
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._thread = None
        if not self._loop.is_running():
            self._loop.close()
        close = getattr(self.invoker, "close", None)
        if close is not None:
            close()

    async def _cancel_pending(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ functions

    def register_function(self, name: str, handler: Callable[[Any, Any], Any], *,
                          timeout_seconds: float = 3.0, memory_mb: int = 128,
                          invoker: Invoker | None = None) -> LambdaFunction:
        """Register a Lambda function handler under ``name``.

        Args:
            name: the function name (ARNs ``...:function:NAME`` resolve to it).
            handler: ``handler(event, context)``.
            timeout_seconds: the function timeout (``context.get_remaining_time_in_millis``).
            memory_mb: reported as ``context.memory_limit_in_mb``.
            invoker: run this function with its own Invoker (default: the engine's).

        Returns:
            The registered function.
        """
        fn = LambdaFunction(function_name_of(name), handler, float(timeout_seconds), memory_mb,
                            self.region, self.account, invoker)
        self._functions[fn.name] = fn
        return fn

    @property
    def functions(self) -> Mapping[str, LambdaFunction]:
        """Registered Lambda functions by name."""
        return self._functions

    # ------------------------------------------------------------------ state machines

    def create_state_machine(self, name: str, definition: str | Mapping[str, JSON], *,
                             substitutions: Mapping[str, str] | None = None,
                             type: str = "STANDARD", role_arn: str | None = None) -> str:
        """Register a state machine (``CreateStateMachine``).

        Args:
            name: the state machine name.
            definition: ASL as JSON text or a dict.
            substitutions: ``${Name}`` placeholders to replace (``DefinitionSubstitutions``).
            type: ``STANDARD`` or ``EXPRESS``.
            role_arn: reported as ``$$.Execution.RoleArn``.

        Returns:
            The state machine ARN.

        Raises:
            DefinitionError: the definition is invalid.
        """
        text = definition if isinstance(definition, str) else json.dumps(definition)
        if substitutions:
            text = _substitute(text, substitutions)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise DefinitionError([Problem("", f"not valid JSON: {exc}")]) from exc
        machine = parse(doc)
        if type == "EXPRESS":
            _check_express(machine)
        try:
            plan = compile_machine(machine)
        except DefinitionError:
            raise
        except KbflowError as exc:  # a path, template or intrinsic that does not compile
            raise DefinitionError([Problem("", str(exc))]) from exc
        arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
        record = StateMachineRecord(arn, name, text, machine, plan, type,
                                    role_arn or f"arn:aws:iam::{self.account}:role/kbflow",
                                    self.clock.now())
        self._machines[arn] = record
        return arn

    def update_state_machine(self, arn: str, *, definition: str | Mapping[str, JSON] | None = None,
                             role_arn: str | None = None) -> dict[str, JSON]:
        """``UpdateStateMachine``: replace the definition and/or role, keep the executions.

        Executions already running keep the definition they started with (as on AWS); new
        ones use the new one. Every update sets a new ``revisionId``.

        Args:
            arn: the state machine.
            definition: the new ASL (JSON text or a dict); None keeps the current one.
            role_arn: the new role; None keeps the current one.

        Returns:
            ``{"updateDate", "revisionId"}``.

        Raises:
            StateMachineNotFound: there is no such state machine.
            DefinitionError: the new definition is invalid (nothing is changed).
        """
        old = self._machine(arn)
        self.create_state_machine(old.name, old.definition if definition is None else definition,
                                  type=old.type, role_arn=role_arn or old.role_arn)
        new = self._machines[arn]
        new.creation_date = old.creation_date
        new.executions = old.executions
        new.revision_id = str(uuid.uuid4())
        new.update_date = self.clock.now()
        return {"updateDate": new.update_date, "revisionId": new.revision_id}

    def describe_state_machine(self, arn: str) -> dict[str, JSON]:
        """``DescribeStateMachine``."""
        return self._machine(arn).describe()

    def list_state_machines(self) -> list[dict[str, JSON]]:
        """``ListStateMachines``."""
        return [{"stateMachineArn": r.arn, "name": r.name, "type": r.type,
                 "creationDate": r.creation_date} for r in self._machines.values()]

    def delete_state_machine(self, arn: str) -> None:
        """``DeleteStateMachine``."""
        self._machines.pop(arn, None)

    def _machine(self, arn: str) -> StateMachineRecord:
        record = self._machines.get(arn)
        if record is None:
            raise StateMachineNotFound(f"State Machine Does Not Exist: '{arn}'")
        return record

    # ------------------------------------------------------------------ executions

    def start_execution(self, state_machine_arn: str, input: JSON = None, *,
                        name: str | None = None, test_case: str | None = None) -> str:
        """``StartExecution``: start running and return the execution ARN at once.

        Args:
            state_machine_arn: the state machine.
            input: the input (a JSON value, or JSON text).
            name: the execution name (idempotent: the same name and input return the
                existing execution; another input raises ExecutionAlreadyExists).
            test_case: a MockConfigFile test case to run with.

        Returns:
            The execution ARN.
        """
        text = input if isinstance(input, str) else json.dumps({} if input is None else input)
        if "#" in state_machine_arn:  # Step Functions Local: <stateMachineArn>#<TestCase>
            state_machine_arn, test_case = state_machine_arn.split("#", 1)
        return self._call_soon(lambda: self._start(state_machine_arn, text, name, test_case))

    def _start(self, sm_arn: str, text: str, name: str | None, test_case: str | None,
               parent: Run | None = None) -> str:
        sm = self._machine(sm_arn)
        try:
            json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"Invalid execution input: {exc}") from exc
        if len(text.encode()) > DATA_LIMIT:
            raise ValidationError("The execution input exceeds the 262144-byte limit")
        name = name or str(uuid.uuid4())
        if not _NAME.match(name):
            raise ValidationError(f"Invalid execution name: {name!r}")
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{sm.name}:{name}"
        if sm.type == "EXPRESS":
            arn = (f"arn:aws:states:{self.region}:{self.account}:express:{sm.name}:{name}:"
                   f"{uuid.uuid4()}")
        existing = self._runs.get(arn)
        if existing is not None:
            if existing.record.input == text and existing.record.status == "RUNNING":
                return arn
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
        record = ExecutionRecord(arn, sm.arn, name, text, self.clock.now(),
                                 parent_arn=parent.record.execution_arn if parent else None)
        mocks = self._mocks.responders(sm.name, test_case) if (
            self._mocks is not None and test_case) else None
        listener = self._listener_for(arn)
        run = Run(self, record, sm.plan, state_machine_name=sm.name, role_arn=sm.role_arn,
                  timeout=_timeout(sm.machine), mocks=mocks, history_listener=listener,
                  express=sm.type == "EXPRESS", history_limit=self.history_limit)
        self._runs[arn] = run
        sm.executions.append(arn)
        run.start(self.interpreter)
        return arn

    def add_history_listener(self, listener: Callable[[str, dict[str, JSON]], None]) -> None:
        """Also call ``listener(execution_arn, event)`` for every event of executions started
        from now on (after the listeners already installed, e.g. a durable store's)."""
        previous = self._listener
        if previous is None:
            self._listener = listener
            return

        def both(arn: str, event: dict[str, JSON]) -> None:
            previous(arn, event)
            listener(arn, event)

        self._listener = both

    def _listener_for(self, arn: str) -> Callable[[dict[str, JSON]], None] | None:
        outer = self._listener
        if outer is None:
            return None

        def listener(event: dict[str, JSON]) -> None:
            outer(arn, event)

        return listener

    def start_child(self, parent: Run, params: Mapping[str, JSON]) -> Run:
        """Start a nested execution for ``states:startExecution`` (on the loop)."""
        sm_arn = str(params.get("StateMachineArn", ""))
        child_input = params.get("Input", {})
        text = child_input if isinstance(child_input, str) else json.dumps(child_input)
        try:
            arn = self._start(sm_arn, text, params.get("Name"), None, parent)
        except Exception as exc:  # noqa: BLE001 - surfaced as the task's error
            raise StatesError(f"StepFunctions.{type(exc).__name__}", str(exc)) from exc
        return self._runs[arn]

    def register_map_run(self, map_run: MapRun) -> None:
        """Keep a Map Run record (on the loop)."""
        self._map_runs[map_run.map_run_arn] = map_run

    def start_map_child(self, parent: Run, plan: StatePlan, value: JSON, map_run: MapRun) -> Run:
        """Start a distributed Map child execution (on the loop)."""
        state = plan.state
        assert isinstance(state, m.Map)
        label = state.label if isinstance(state.label, str) else plan.name
        parts = parent.record.state_machine_arn.split(":")
        sm_arn = ":".join(parts[:6]) + f":{parts[6]}/{label}"
        name = str(uuid.uuid4())
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{parts[6]}/{label}:{name}"
        record = ExecutionRecord(arn, sm_arn, name, json.dumps(value), self.clock.now(),
                                 parent_arn=parent.record.execution_arn,
                                 map_run_arn=map_run.map_run_arn)
        cfg = state.processor.processor_config
        express = not isinstance(cfg, m.Unset) and cfg.execution_type == "EXPRESS"
        run = Run(self, record, plan.children[0], state_machine_name=f"{parts[6]}/{label}",
                  role_arn=parent.role_arn, express=express,
                  history_listener=self._listener_for(arn), history_limit=self.history_limit)
        self._runs[arn] = run
        map_run.children.append(arn)
        run.start(self.interpreter)
        return run

    def describe_map_run(self, map_run_arn: str) -> dict[str, JSON]:
        """``DescribeMapRun``."""

        def describe() -> dict[str, JSON]:
            found = self._map_runs.get(map_run_arn)
            if found is None:
                raise ExecutionNotFound(f"Map Run Does Not Exist: '{map_run_arn}'")
            return found.describe()

        return self._call_soon(describe)

    def list_map_runs(self, execution_arn: str) -> list[dict[str, JSON]]:
        """``ListMapRuns`` of an execution."""
        return self._call_soon(lambda: [
            {"mapRunArn": r.map_run_arn, "executionArn": r.execution_arn,
             "startDate": r.start_date, "stopDate": r.stop_date}
            for r in self._map_runs.values() if r.execution_arn == execution_arn])

    def list_map_run_executions(self, map_run_arn: str) -> list[str]:
        """The child execution ARNs of a Map Run."""
        return self._call_soon(lambda: list(self._map_runs[map_run_arn].children))

    def finished(self, run: Run) -> None:
        """Hook called when an execution ends (a durable store would commit here)."""

    def describe_execution(self, execution_arn: str) -> dict[str, JSON]:
        """``DescribeExecution``."""
        return self._call_soon(lambda: self._run(execution_arn).record.describe())

    def list_executions(self, state_machine_arn: str, *,
                        status: str | None = None) -> list[dict[str, JSON]]:
        """``ListExecutions`` (newest first)."""
        sm = self._machine(state_machine_arn)

        def collect() -> list[dict[str, JSON]]:
            out = []
            for arn in reversed(sm.executions):
                rec = self._runs[arn].record
                if status is None or rec.status == status:
                    out.append({"executionArn": arn, "stateMachineArn": sm.arn,
                                "name": rec.name, "status": rec.status,
                                "startDate": rec.start_date, "stopDate": rec.stop_date})
            return out

        return self._call_soon(collect)

    def stop_execution(self, execution_arn: str, *, error: str | None = None,
                       cause: str | None = None) -> None:
        """``StopExecution``: abort a running execution."""

        def stop() -> None:
            run = self._run(execution_arn)
            if run.record.status == "RUNNING" and run.task is not None:
                run.stop_reason = (error, cause)
                run.task.cancel()

        self._call_soon(stop)

    def get_execution_history(self, execution_arn: str, *, reverse_order: bool = False,
                              max_results: int = 1000,
                              next_token: str | None = None) -> dict[str, JSON]:
        """``GetExecutionHistory``: one page of events and the next token."""

        def page() -> dict[str, JSON]:
            events, token = self._run(execution_arn).history.page(
                reverse=reverse_order, max_results=max_results, next_token=next_token)
            return {"events": events, "nextToken": token} if token else {"events": events}

        return self._call_soon(page)

    def history(self, execution_arn: str) -> list[dict[str, JSON]]:
        """Every event of an execution, oldest first."""
        return self._call_soon(lambda: list(self._run(execution_arn).history))

    def wait(self, execution_arn: str, timeout: float | None = None) -> dict[str, JSON]:
        """Block until the execution ends; return ``describe_execution``.

        While it blocks, a ``VirtualClock`` skips over the timers of the callbacks this
        execution's result waits for (its own, and those of the nested executions and Map
        Run children it awaits): this thread cannot send their tokens. Other executions'
        callbacks still hold virtual time.

        Raises:
            TimeoutError: still running after ``timeout`` seconds of real time.
        """
        run = self._call_soon(lambda: self._run(execution_arn))

        async def wait_done() -> None:
            await run.done.wait()

        with self.clock.auto_skip(lambda owner: self._holds_up(run, owner)):
            self._call(wait_done(), timeout)
        return self.describe_execution(execution_arn)

    def _holds_up(self, target: Run, owner: object) -> bool:
        """True when a callback of ``owner`` holds up ``target``'s result (on the loop)."""
        while isinstance(owner, Run):
            if owner is target:
                return True
            parent = owner.record.parent_arn
            if parent is None or not owner.awaited_by_parent:
                return False
            owner = self._runs.get(parent)
        return False

    def _run(self, arn: str) -> Run:
        run = self._runs.get(arn)
        if run is None:
            raise ExecutionNotFound(f"Execution Does Not Exist: '{arn}'")
        return run

    # ------------------------------------------------------------------ callbacks

    def send_task_success(self, task_token: str, output: JSON) -> None:
        """``SendTaskSuccess``.

        Raises:
            InvalidToken, TaskDoesNotExist, TaskTimedOut: as AWS does.
        """
        value = json.loads(output) if isinstance(output, str) else output
        self._call_soon(lambda: self.tokens.resolve(task_token, value))

    def send_task_failure(self, task_token: str, *, error: str | None = None,
                          cause: str | None = None) -> None:
        """``SendTaskFailure``."""
        self._call_soon(lambda: self.tokens.resolve(task_token, error=error, cause=cause,
                                                    success=False))

    def send_task_heartbeat(self, task_token: str) -> None:
        """``SendTaskHeartbeat``."""
        self._call_soon(lambda: self.tokens.heartbeat(task_token))

    # ------------------------------------------------------------------ activities

    def create_activity(self, name: str) -> str:
        """``CreateActivity``: return the activity ARN (idempotent by name)."""
        arn = f"arn:aws:states:{self.region}:{self.account}:activity:{name}"
        if arn not in self._activities:
            self._activities[arn] = Activity(arn, name, self.clock.now())
        return arn

    def activity(self, arn: str) -> Activity | None:
        """The activity registered under ``arn`` (for the activity resource, on the loop)."""
        return self._activities.get(arn)

    def list_activities(self) -> list[dict[str, JSON]]:
        """``ListActivities``."""
        return [{"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date}
                for a in self._activities.values()]

    def delete_activity(self, arn: str) -> None:
        """``DeleteActivity``."""
        self._activities.pop(arn, None)

    def get_activity_task(self, activity_arn: str, *, worker_name: str = "",
                          timeout: float = 60.0) -> dict[str, JSON]:
        """``GetActivityTask``: long-poll (real time) for the next task of an activity.

        Returns:
            ``{"taskToken", "input"}``, or ``{}`` when no task came within ``timeout``.

        Raises:
            BackendError: ``ActivityDoesNotExist``.
        """
        def poll() -> Any:
            found = self._activities.get(activity_arn)
            if found is None:
                raise BackendError(f"Activity Does Not Exist: '{activity_arn}'",
                                   code="ActivityDoesNotExist")
            return found.poll(worker_name)

        future = self._call_soon(poll)
        try:
            task = future.result(timeout)
        except TimeoutError:
            if future.cancel():
                return {}
            task = future.result()
        return {"taskToken": task.token, "input": task.input}

    # ------------------------------------------------------------------ integrations

    def register_integration(self, key: str, resource: Any) -> None:
        """Add a task integration (``"service:action"`` → async ``resource(call)``)."""
        if ":" not in key:
            raise ConfigurationError(f"integration keys are 'service:action', got {key!r}")
        self.resources.register(key, resource)


def _check_express(machine: m.StateMachine) -> None:
    """AWS: Express workflows support neither ``.sync`` nor ``.waitForTaskToken``."""
    problems: list[Problem] = []

    def walk(states: Mapping[str, m.State], ptr: str) -> None:
        for name, state in states.items():
            here = f"{ptr}/States/{name}"
            if isinstance(state, m.Task) and state.resource.endswith(
                    (".sync", ".sync:2", ".waitForTaskToken")):
                problems.append(Problem(f"{here}/Resource", "Express state machines do not "
                                        f"support the integration pattern of {state.resource!r}"))
            if isinstance(state, m.Parallel):
                for i, branch in enumerate(state.branches):
                    walk(branch.states, f"{here}/Branches/{i}")
            if isinstance(state, m.Map) and not state.distributed:
                walk(state.processor.states, f"{here}/ItemProcessor")

    walk(machine.states, "")
    if problems:
        raise DefinitionError(problems)


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        return json.dumps(str(values[key]))[1:-1]

    return _SUBSTITUTION.sub(repl, text)


def _timeout(machine: m.StateMachine) -> float | None:
    value = machine.timeout_seconds
    return float(value) if isinstance(value, int) else None
