"""Lambda-like workers: warm processes, JSON boundary, timeout, memory, concurrency, crashes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kbflow.errors import ConfigurationError
from kbflow.runtime.engine import Engine
from kbflow.runtime.invoke import Invocation, LambdaFunction
from kbflow.runtime.workers import WorkerPool

pytestmark = pytest.mark.usefixtures("handlers_on_path")
H = "durable_handlers"


@pytest.fixture()
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(2)
    try:
        yield workers
    finally:
        workers.close()


def _invoke(pool: WorkerPool, name: str, event: Any) -> Invocation:
    fn = LambdaFunction(name, pool.handler(name), 1.0)
    return asyncio.run(pool.invoke(fn, json.dumps(event)))


def test_module_imported_once_and_reused_warm(pool: WorkerPool) -> None:
    pool.add("pid", f"{H}:pid", timeout_seconds=30)
    first = _invoke(pool, "pid", {})
    second = _invoke(pool, "pid", {})
    assert first.error is None and first.payload == second.payload
    assert pool.spawned == 1


def test_json_crosses_the_boundary(pool: WorkerPool) -> None:
    pool.add("echo", f"{H}:echo", timeout_seconds=30)
    pool.add("not_json", f"{H}:not_json", timeout_seconds=30)
    out = _invoke(pool, "echo", {"t": [1, "x", None, {"k": 1.5}]})
    assert out.payload["event"] == {"t": [1, "x", None, {"k": 1.5}]}
    bad = _invoke(pool, "not_json", {})
    assert bad.error is not None and bad.error["errorType"] == "TypeError"
    assert bad.error["requestId"] == bad.request_id


def test_timeout_is_reported_as_lambda_does(pool: WorkerPool) -> None:
    pool.add("sleepy", f"{H}:sleepy", timeout_seconds=0.5)
    start = time.monotonic()
    out = _invoke(pool, "sleepy", {"seconds": 10})
    assert time.monotonic() - start < 8
    assert out.error is not None and out.error["errorType"] == "Sandbox.Timedout"
    assert out.error["errorMessage"] == (
        f"RequestId: {out.request_id} Error: Task timed out after 0.50 seconds")
    again = _invoke(pool, "sleepy", {"seconds": 0})  # a fresh environment serves the next one
    assert again.error is None


def test_worker_crash_is_lambda_unknown(pool: WorkerPool) -> None:
    pool.add("crash", f"{H}:crash", timeout_seconds=30)
    out = _invoke(pool, "crash", {})
    assert out.error is not None and out.error["errorType"] == "Lambda.Unknown"
    assert "exit status 3" in out.error["errorMessage"]


def test_memory_limit(pool: WorkerPool) -> None:
    small = WorkerPool(1, overhead_mb=256)
    try:
        small.add("hog", f"{H}:hog", timeout_seconds=30, memory_mb=64)
        ok = _invoke(small, "hog", {"mb": 16})
        assert ok.error is None and ok.payload == 16 * 1024 * 1024
        out = _invoke(small, "hog", {"mb": 2048})
        assert out.error is not None and out.error["errorType"] == "Runtime.OutOfMemory"
        assert "Runtime exited with error" in out.error["errorMessage"]
    finally:
        small.close()


def test_reserved_concurrency_throttles(pool: WorkerPool) -> None:
    pool.add("one", f"{H}:sleepy", timeout_seconds=30, reserved_concurrency=1)
    fn = LambdaFunction("one", pool.handler("one"), 30.0)

    async def three() -> list[Invocation]:
        return await asyncio.gather(*(pool.invoke(fn, '{"seconds": 0.3}') for _ in range(3)))

    results = asyncio.run(three())
    errors = sorted(r.error["errorType"] if r.error else "ok" for r in results)
    assert errors == ["Lambda.TooManyRequestsException"] * 2 + ["ok"]


def test_cpu_bound_work_uses_every_worker(pool: WorkerPool) -> None:
    pool.add("spin", f"{H}:spin", timeout_seconds=60)
    fn = LambdaFunction("spin", pool.handler("spin"), 60.0)

    async def both() -> list[Invocation]:
        return await asyncio.gather(*(pool.invoke(fn, '{"seconds": 0.4}') for _ in range(4)))

    results = asyncio.run(both())
    assert all(r.error is None for r in results)
    assert len({r.payload for r in results}) == 2  # two warm processes served four calls
    assert pool.spawned == 2


def test_thread_mode_and_unknown_handlers(pool: WorkerPool) -> None:
    pool.add("t", f"{H}:pid", mode="thread", timeout_seconds=30)
    import os

    assert _invoke(pool, "t", {}).payload == os.getpid()
    with pytest.raises(ConfigurationError, match="cannot import"):
        pool.add("x", "no_such_module_here:fn")
    with pytest.raises(ConfigurationError, match="no callable"):
        pool.add("x", f"{H}:missing")
    with pytest.raises(ConfigurationError, match="module:callable"):
        pool.add("x", "nocolon")


def test_engine_retries_throttling_through_the_pool(pool: WorkerPool) -> None:
    pool.add("one", f"{H}:sleepy", timeout_seconds=30, reserved_concurrency=1)
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:one",
                "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"],
                           "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 20,
                           "JitterStrategy": "FULL"}],
                "End": True}}}}}}
    with Engine(invoker=pool) as engine:
        engine.register_function("one", pool.handler("one"), timeout_seconds=30)
        sm = engine.create_state_machine("throttled", definition)
        arn = engine.start_execution(sm, {"items": [{"seconds": 0.05}] * 3})
        out = engine.wait(arn, timeout=60)
        assert out["Status"] == "SUCCEEDED", out
        failed = [e for e in engine.history(arn) if e["type"] == "LambdaFunctionFailed"]
        assert failed and all(e["lambdaFunctionFailedEventDetails"]["error"] ==
                              "Lambda.TooManyRequestsException" for e in failed)


def test_idle_environments_stay_warm_and_the_oldest_is_recycled() -> None:
    pool = WorkerPool(1, max_environments=2)
    try:
        for name in ("a", "b", "c"):
            pool.add(name, f"{H}:pid", timeout_seconds=30)
        a1 = _invoke(pool, "a", {}).payload
        b1 = _invoke(pool, "b", {}).payload
        assert _invoke(pool, "a", {}).payload == a1  # both stay warm with one running slot
        assert pool.spawned == 2
        _invoke(pool, "c", {})  # a third environment recycles the least recently used (b)
        assert pool.spawned == 3
        assert _invoke(pool, "a", {}).payload == a1
        assert _invoke(pool, "b", {}).payload != b1
    finally:
        pool.close()


def test_a_handler_the_worker_cannot_import(pool: WorkerPool) -> None:
    pool.declare("gone", "no_such_module_for_workers:handler", timeout_seconds=30)
    out = _invoke_declared(pool, "gone")
    assert out.error is not None and out.error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'no_such_module_for_workers'" in out.error["errorMessage"]


def _invoke_declared(pool: WorkerPool, name: str) -> Invocation:
    fn = LambdaFunction(name, lambda event, context: None, 30.0)
    return asyncio.run(pool.invoke(fn, "{}"))
