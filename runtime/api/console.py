"""The web console's JSON endpoints, live updates and review decisions.

Routes (all under ``/console/api``, all read-only except the review decision):

* ``GET state-machines`` — machines with execution counts by status;
* ``GET executions?status=&q=&stateMachineArn=`` — executions, newest first;
* ``GET execution?arn=`` — one execution: description, graph, per-state summaries, events,
  Map Runs and the cost estimate;
* ``GET execution/stream?arn=&after=`` — the same, as server-sent events while it changes;
* ``GET reviews`` / ``POST reviews/decide`` — pending human reviews and decisions.

Task tokens never leave the server through the console: reviews are addressed by an opaque
id, and token values inside payloads are masked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import anyio.to_thread
from kbflow.errors import KbflowError, StateMachineNotFound
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import cost
from .backend import FINAL, EngineBackend, PendingCallback
from .graph import StateRun, fail_errors, graph_of, state_runs, taken_transitions
from .protocol import ApiError, dumps

__all__ = ["ConsoleRoutes", "mask_tokens", "review_id"]

JSON = Any
MAX_EVENTS_SENT: Final = 5000
MAX_CHILDREN: Final = 50
STREAM_SECONDS: Final = 600.0
STREAM_INTERVAL: Final = 0.4
DECISIONS: Final = frozenset({"approve", "reject", "edit"})
_TOKEN_FIELD: Final = re.compile(
    r'("(?:task_token|taskToken|TaskToken|Token)"\s*:\s*")([^"\\]{16,})(")'
)


def mask_tokens(value: JSON) -> JSON:
    """``value`` with every task-token field's value replaced by ``"***"``."""
    if isinstance(value, str):
        return _TOKEN_FIELD.sub(r"\1***\3", value) if "oken" in value else value
    if isinstance(value, list):
        return [mask_tokens(v) for v in value]
    if isinstance(value, dict):
        return {
            k: (
                "***"
                if k in ("task_token", "taskToken", "TaskToken") and isinstance(v, str)
                else mask_tokens(v)
            )
            for k, v in value.items()
        }
    return value


def review_id(token: str) -> str:
    """The opaque id the console uses for the review holding ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _json(value: JSON, status: int = 200) -> Response:
    return Response(dumps(value), status_code=status, media_type="application/json")


class ConsoleRoutes:
    """The console endpoints over a backend.

    Args:
        backend: where executions live.
    """

    def __init__(self, backend: EngineBackend) -> None:
        self.backend = backend

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args)

    async def state_machines(self, request: Request) -> Response:
        """Machines with their execution counts by status."""
        return _json({"stateMachines": await self._run(self._machines)})

    def _machines(self) -> list[dict[str, JSON]]:
        out = []
        for sm in self.backend.list_state_machines():
            counts: dict[str, int] = {}
            for ex in self.backend.list_executions(sm["stateMachineArn"], None):
                counts[ex["status"]] = counts.get(ex["status"], 0) + 1
            out.append({**sm, "counts": counts})
        return out

    async def state_machine(self, request: Request) -> Response:
        """One state machine: its description and graph."""
        arn = request.query_params.get("arn", "")
        try:
            described = await self._run(self.backend.describe_state_machine, arn)
        except KbflowError as exc:
            return _json({"message": str(exc)}, 404)
        try:
            definition = json.loads(described["definition"])
        except ValueError:
            definition = {}
        return _json({"stateMachine": described, "graph": graph_of(definition)})

    async def executions(self, request: Request) -> Response:
        """Executions filtered by status, name search and state machine."""
        q = request.query_params
        status, text, sm = (
            q.get("status") or None,
            (q.get("q") or "").lower(),
            q.get("stateMachineArn") or None,
        )
        items = await self._run(self.backend.all_executions)
        items = [
            e
            for e in items
            if (status is None or e["status"] == status)
            and (not text or text in e["name"].lower())
            and (sm is None or e["stateMachineArn"] == sm)
        ]
        return _json({"executions": items[:500], "total": len(items)})

    async def execution(self, request: Request) -> Response:
        """One execution with everything the execution page shows."""
        arn = request.query_params.get("arn", "")
        try:
            view = await self._run(self.view, arn, 0)
        except KbflowError as exc:
            return _json({"message": str(exc)}, 404)
        return _json(view)

    def view(self, arn: str, after: int) -> dict[str, JSON]:
        """The execution page's data; ``events`` only those with an id above ``after``."""
        described = self.backend.describe_execution(arn)
        events = self.backend.history(arn)
        try:
            machine = self.backend.describe_state_machine_for_execution(arn)
        except StateMachineNotFound:  # deleted since: show the run without its graph
            sm_arn = described["stateMachineArn"]
            machine = {"stateMachineArn": sm_arn, "name": sm_arn.split(":")[6], "definition": "{}"}
        try:
            definition = json.loads(machine["definition"])
        except ValueError:
            definition = {}
        runs = state_runs(events, described["status"])
        for name, (error, cause) in fail_errors(definition).items():
            if name in runs and runs[name].error is None:
                runs[name].error, runs[name].cause = error, cause
        for run in runs.values():
            if run.map_runs:
                self._add_map_run(run)
        now = self.backend.engine.clock.now()
        sent = [e for e in events if e["id"] > after][:MAX_EVENTS_SENT]
        view: dict[str, JSON] = mask_tokens(
            {
                "execution": described,
                "stateMachine": {
                    "stateMachineArn": machine["stateMachineArn"],
                    "name": machine["name"],
                },
                "graph": graph_of(definition) if after == 0 else None,
                "states": {name: run.to_json() for name, run in runs.items()},
                "taken": taken_transitions(events),
                "events": sent,
                "eventCount": len(events),
                "cost": cost.estimate(
                    events, described["startDate"], described.get("stopDate"), now
                ),
                "mapRuns": self._map_runs(arn),
            }
        )
        return view

    def _add_map_run(self, run: StateRun) -> None:
        """A distributed Map's item counts and child executions, from its Map Runs."""
        counts = dict.fromkeys(("total", "succeeded", "failed"), 0)
        for arn in run.map_runs:
            try:
                items = self.backend.describe_map_run(arn)["itemCounts"]
                children = self.backend.list_map_run_executions(arn, None)
            except (KbflowError, ApiError):
                continue
            counts["total"] += int(items.get("total", 0))
            counts["succeeded"] += int(items.get("succeeded", 0))
            counts["failed"] += sum(int(items.get(k, 0)) for k in ("failed", "timedOut", "aborted"))
            run.children.extend(
                {"executionArn": c["executionArn"], "name": c["name"], "status": c["status"]}
                for c in children[:MAX_CHILDREN]
            )
        run.iterations = {**counts, "mapRun": 1}

    def _map_runs(self, arn: str) -> list[dict[str, JSON]]:
        try:
            return [
                self.backend.describe_map_run(r["mapRunArn"])
                for r in self.backend.list_map_runs(arn)
            ]
        except (KbflowError, ApiError):
            return []

    async def stream(self, request: Request) -> Response:
        """Server-sent events: an ``update`` whenever the execution's history grows."""
        arn = request.query_params.get("arn", "")
        after = request.query_params.get("after", "0")
        start = int(after) if after.isdigit() else 0
        return StreamingResponse(
            self._updates(request, arn, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _updates(self, request: Request, arn: str, after: int) -> AsyncIterator[bytes]:
        deadline = time.monotonic() + STREAM_SECONDS
        yield b"retry: 2000\n\n"
        while time.monotonic() < deadline and not await request.is_disconnected():
            try:
                last, status = await self._run(self._last_event, arn)
                view = await self._run(self.view, arn, after) if last > after else None
            except KbflowError:
                yield b"event: gone\ndata: {}\n\n"
                return
            if view is not None and view["events"]:
                after = view["events"][-1]["id"]
                yield b"id: %d\nevent: update\ndata: " % after + dumps(view) + b"\n\n"
            if status in FINAL and last <= after:
                yield b"event: done\ndata: {}\n\n"
                return
            await asyncio.sleep(STREAM_INTERVAL)

    def _last_event(self, arn: str) -> tuple[int, str]:
        """The newest event id and the status, read cheaply (no full history copy)."""
        status = self.backend.describe_execution(arn, include_data=False)["status"]
        page = self.backend.history_page(arn, reverse=True, max_results=1, next_token=None)
        return (int(page["events"][0]["id"]) if page["events"] else 0), status

    async def reviews(self, request: Request) -> Response:
        """Pending human reviews."""
        pending = await self._run(self.backend.pending_callbacks)
        return _json({"reviews": [_review_json(p) for p in pending]})

    async def decide(self, request: Request) -> Response:
        """Send a reviewer's decision (approve, reject or edit) to the waiting execution."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _json({"message": "The body must be JSON"}, 400)
        problem = _decision_problem(body)
        if problem:
            return _json({"message": problem}, 400)
        pending = await self._run(self.backend.pending_callbacks)
        match = next((p for p in pending if review_id(p.token) == body["id"]), None)
        if match is None:
            return _json({"message": "This review is no longer pending"}, 409)
        decision: dict[str, JSON] = {
            "decision": body["decision"],
            "reviewer": body["reviewer"].strip(),
        }
        if body.get("comment"):
            decision["comment"] = body["comment"]
        if body["decision"] == "edit":
            decision["edits"] = {"text": body.get("text", "")}
        try:
            await self._run(self.backend.send_task_success, match.token, decision)
        except KbflowError as exc:
            return _json({"message": str(exc)}, 409)
        return _json({"executionArn": match.execution_arn, "decision": decision})


def _decision_problem(body: JSON) -> str | None:
    if not isinstance(body, Mapping):
        return "The body must be a JSON object"
    if not isinstance(body.get("id"), str):
        return "id is required"
    if body.get("decision") not in DECISIONS:
        return "decision must be approve, reject or edit"
    reviewer = body.get("reviewer")
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 200:
        return "reviewer is required"
    for key, limit in (("comment", 4000), ("text", 200_000)):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{key} must be a string of at most {limit} characters"
    if body["decision"] == "edit" and not body.get("text"):
        return "an edit needs the edited text"
    return None


def _review_json(p: PendingCallback) -> dict[str, JSON]:
    payload = p.payload if isinstance(p.payload, Mapping) else {}
    deadline = payload.get("deadline_seconds")
    shaped: dict[str, JSON] = mask_tokens(
        {
            "id": review_id(p.token),
            "executionArn": p.execution_arn,
            "executionName": p.execution_arn.split(":")[-1],
            "stateName": p.state_name,
            "requestedAt": p.requested_at,
            "item": payload.get("item"),
            "reason": payload.get("reason"),
            "level": payload.get("level"),
            "deadlineSeconds": deadline if isinstance(deadline, int | float) else None,
        }
    )
    return shaped


def not_found() -> JSONResponse:
    """A JSON 404 for unknown console routes."""
    return JSONResponse({"message": "Not found"}, status_code=404)
