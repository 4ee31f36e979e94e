"""Who runs an execution: its owner process, and whether that process still lives.

An execution row names its owner: host, pid and the process start time (``/proc`` clock ticks,
so a recycled pid is not mistaken for the owner; a zombie counts as dead), plus a heartbeat
the owner refreshes. :func:`owner_alive` tells whether the owner still runs.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["HEARTBEAT_STALE", "Owner", "is_me", "owner_alive", "row_owner_alive"]

HEARTBEAT_STALE: Final = 30.0
"""Seconds without a heartbeat after which an owner on another host counts as dead."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that runs an execution."""

    host: str
    pid: int
    started: int
    """The process start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""

    @staticmethod
    def current() -> Owner:
        """This process."""
        return Owner(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()) or 0)


def _start_ticks(pid: int) -> int | None:
    """The start time of a running process; None if it is gone (or a zombie: it has exited
    and only waits for its parent to reap it)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    if fields[0] in ("Z", "X", "x"):  # field 3: the process state
        return None
    return int(fields[19])  # field 22 of the whole line


def owner_alive(owner: Owner | None, heartbeat: float | None, *, now: float | None = None) -> bool:
    """True when ``owner`` still runs (same host: pid and start time; else a fresh heartbeat).

    Args:
        owner: the recorded owner (None: nobody owns it).
        heartbeat: the owner's last heartbeat (epoch seconds).
        now: the current epoch time (tests).
    """
    if owner is None:
        return False
    if owner.host != socket.gethostname():
        return heartbeat is not None and (now or time.time()) - heartbeat < HEARTBEAT_STALE
    if owner.pid == os.getpid():
        return owner.started == (_start_ticks(owner.pid) or 0)
    ticks = _start_ticks(owner.pid)
    return ticks is not None and ticks == owner.started


def is_me(row: tuple[Any, ...], me: Owner) -> bool:
    """True when a row's ``(host, pid, started, heartbeat)`` names ``me``."""
    host, pid, started, _ = row
    return pid is not None and Owner(host, int(pid), int(started or 0)) == me


def row_owner_alive(row: tuple[Any, ...], me: Owner | None) -> bool:
    """:func:`owner_alive` of a row's ``(host, pid, started, heartbeat)`` (``me`` is alive)."""
    host, pid, started, heartbeat = row
    if pid is None:
        return False
    owner = Owner(host, int(pid), int(started or 0))
    if me is not None and owner == me:
        return True
    return owner_alive(owner, heartbeat)
