"""The ``kbflow`` command line.

Each command lives in its own module under ``kbflow.cli`` and is loaded only when used, so
``kbflow --help`` stays fast and a broken optional dependency only affects its own command.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Final

import click
from kbflow._version import __version__

# command name -> "module:attribute" (a click.Command). Order is the order shown in --help.
COMMANDS: Final[dict[str, str]] = {
    "ingest": "kbflow.cli._ingest:ingest",
    "search": "kbflow.cli._search:search",
    "reindex": "kbflow.cli._reindex:reindex",
    "review": "kbflow.cli._review:review",
    "run": "kbflow.cli._run:run",
    "executions": "kbflow.cli._executions:executions",
    "build": "kbflow.cli._build:build",
    "validate": "kbflow.cli._build:validate",
    "console": "kbflow.cli._console:console",
    "deploy": "kbflow.cli._deploy:deploy",
    "sample": "kbflow.cli._sample:sample",
}


def _available() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, target in COMMANDS.items():
        module = target.split(":", 1)[0]
        if importlib.util.find_spec(module) is not None:
            out[name] = target
    return out


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_available())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _available().get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":", 1)
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kbflow")
def cli() -> None:
    """kbflow: GenAI data-integration workflows on AWS Step Functions.

    Ingest documents into a search index, keep a wiki re-indexed and route documents through
    human review -- on AWS Step Functions or on kbflow's embedded ASL engine, from the same
    state machine definitions.
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="kbflow")
