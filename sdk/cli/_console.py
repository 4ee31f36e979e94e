"""``kbflow console``: the local Step Functions API and web console.

::

    kbflow console                          # http://127.0.0.1:8083, store .kbflow/
    kbflow console --host 0.0.0.0 --auth-token "$(openssl rand -hex 24)"
    aws stepfunctions list-state-machines --endpoint-url http://127.0.0.1:8083

The three flows (``kbflow-ingestion``, ``kbflow-reindex``, ``kbflow-human-review``) are
registered on start with their local task functions and the store's task adapters.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any, Final

import click
from kbflow.errors import ConfigurationError

__all__ = ["build_backend", "console", "is_loopback"]

TOKEN_ENV: Final = "KBFLOW_CONSOLE_TOKEN"
log = logging.getLogger("kbflow.console")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_backend(store: Path, *, with_functions: bool = True) -> tuple[Any, list[str]]:
    """An engine running kbflow's flows, wrapped for the API.

    Args:
        store: the store folder (task adapters keep their data there).
        with_functions: register the flows' local task functions.

    Returns:
        The backend and notes to print (e.g. why task functions are missing).
    """
    from kbflow.runtime.api import EngineBackend
    from kbflow.runtime.engine import Engine

    notes: list[str] = []
    engine: Any = None
    if with_functions:
        try:
            from kbflow._local import build_local

            engine = build_local(store).engine
        except (ImportError, ConfigurationError, OSError) as exc:
            notes.append(
                f"task functions not registered ({type(exc).__name__}: {exc}); "
                "the flows are registered without them"
            )
    if engine is None:
        engine = _definitions_only(Engine())
    backend = EngineBackend(engine)
    for sm in engine.list_state_machines():
        backend.register_state_machine(sm["stateMachineArn"])
    return backend, notes


def _definitions_only(engine: Any) -> Any:
    from kbflow import definitions
    from kbflow.tasks import catalog

    for flow in definitions.FLOWS:
        engine.create_state_machine(
            f"{catalog.DEFAULT_PREFIX}{flow}",
            definitions.asl(flow),
            substitutions=catalog.substitutions(),
        )
    return engine


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; anything but loopback needs --auth-token.",
)
@click.option("--port", default=8083, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--store",
    "store",
    default=".kbflow",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The store folder.",
)
@click.option(
    "--auth-token",
    envvar=TOKEN_ENV,
    default=None,
    help=f"Require this token on every request (or set {TOKEN_ENV}).",
)
def console(host: str, port: int, store: Path, auth_token: str | None) -> None:
    """Serve the Step Functions API and the web console.

    boto3, the AWS CLI and AWS SDKs work with --endpoint-url http://HOST:PORT. With a token,
    API clients send it as the X-Kbflow-Token header and browsers open /?token=TOKEN once.
    """
    import uvicorn
    from kbflow.runtime.api import AppConfig, create_app

    if not is_loopback(host) and not auth_token:
        raise click.UsageError(f"binding to {host} needs --auth-token (or {TOKEN_ENV})")
    if auth_token is not None and len(auth_token) < 16:
        raise click.UsageError("the auth token must be at least 16 characters")
    store.mkdir(parents=True, exist_ok=True)
    backend, notes = build_backend(store)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    app = create_app(backend, AppConfig(auth_token=auth_token))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"kbflow console on http://{shown}:{port}/  (store {store.absolute()})")
    click.echo(f"API: aws stepfunctions list-state-machines --endpoint-url http://{shown}:{port}")
    try:
        # No access log: URLs may carry the console token (?token=) on a first page load.
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=os.environ.get("KBFLOW_CONSOLE_LOG", "warning"),
            access_log=False,
            lifespan="off",
        )
    finally:
        backend.close()
        backend.engine.close()
