"""Helpers: the console app served by uvicorn on a free loopback port, boto3 clients for it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import uvicorn
from botocore.config import Config
from kbflow.runtime.api import AppConfig, EngineBackend, Settings, create_app
from kbflow.runtime.engine import Engine


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running server."""

    url: str
    engine: Engine
    backend: EngineBackend
    config: AppConfig

    def client(self, **headers: str) -> Any:
        """An unmodified boto3 Step Functions client pointed at the server."""
        client = boto3.client(
            "stepfunctions",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # StartSyncExecution has the host prefix "sync-"; a local endpoint has no such host.
            config=Config(retries={"max_attempts": 1}, read_timeout=30, inject_host_prefix=False),
        )
        if headers:

            def add(request: Any, **_: Any) -> None:
                for key, value in headers.items():
                    request.headers[key] = value

            client.meta.events.register("before-send.states.*", add)
        return client


class ServerThread:
    """uvicorn in a background thread, stopped on exit."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(engine: Engine, config: AppConfig | None = None) -> Iterator[Served]:
    """Serve ``engine`` until the generator is closed."""
    backend = EngineBackend(engine)
    for sm in engine.list_state_machines():
        backend.register_state_machine(sm["stateMachineArn"])
    config = config or AppConfig(
        settings=Settings(activity_poll_seconds=2.0, sync_timeout_seconds=30.0)
    )
    port = free_port()
    try:
        with ServerThread(create_app(backend, config), port):
            yield Served(f"http://127.0.0.1:{port}", engine, backend, config)
    finally:
        backend.close()
