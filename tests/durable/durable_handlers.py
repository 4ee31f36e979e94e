"""Task handlers used by the durable-execution tests (imported by worker processes too)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def echo(event: Any, context: Any) -> Any:
    """Return the event, with the worker's pid."""
    return {"event": event, "pid": os.getpid()}


def pid(event: Any, context: Any) -> int:
    """The pid of the process running the handler."""
    return os.getpid()


def sleepy(event: dict[str, Any], context: Any) -> Any:
    """Sleep ``event["seconds"]``."""
    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"]}


def crash(event: Any, context: Any) -> Any:
    """Kill the worker process."""
    os._exit(3)


def hog(event: dict[str, Any], context: Any) -> Any:
    """Allocate ``event["mb"]`` MB."""
    block = bytearray(int(event["mb"]) * 1024 * 1024)
    return len(block)


def spin(event: dict[str, Any], context: Any) -> Any:
    """Burn CPU for about ``event["seconds"]`` seconds; return the pid."""
    end = time.process_time() + float(event["seconds"])
    n = 0
    while time.process_time() < end:
        n += 1
    return os.getpid()


def not_json(event: Any, context: Any) -> Any:
    """Return something that cannot cross the JSON boundary."""
    return {"when": object()}


def slow_item(event: dict[str, Any], context: Any) -> Any:
    """Append ``start <i>`` / ``end <i>`` to the log file, sleeping in between.

    Fails with ``ItemFailed`` while ``event["fail_flag"]`` exists and names this item.
    """
    log = Path(event["log"])
    item = event["item"]
    with log.open("a") as f:
        f.write(f"start {item}\n")
    time.sleep(float(event.get("sleep", 0.1)))
    flag = event.get("fail_flag")
    if flag and Path(flag).exists() and Path(flag).read_text().strip() == str(item):
        raise ItemFailed(f"item {item} failed")
    with log.open("a") as f:
        f.write(f"end {item}\n")
    return {"item": item, "square": item * item}


class ItemFailed(Exception):
    """A test error with a custom name."""


def remember_token(event: dict[str, Any], context: Any) -> Any:
    """Append the task token to ``event["file"]`` (a reviewer would get it by mail)."""
    with Path(event["file"]).open("a") as f:
        f.write(event["token"] + "\n")
    return {"sent": True}
