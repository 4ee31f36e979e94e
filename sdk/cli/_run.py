"""``kbflow run DEFINITION``: run an execution to its end on the durable embedded engine.

The execution is kept in ``--store DIR`` (``DIR/engine.sqlite3``). Running again with the same
``--name`` while that execution is RUNNING with no live owner (its process was killed) resumes
it: completed tasks are not run again. Task handlers run in worker processes as on Lambda.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import click
from kbflow.errors import ConfigurationError, KbflowError

__all__ = ["build_engine", "execution_result", "run"]

JSON = Any
_FUNCTION_HELP = ("Map a Lambda function name (the FunctionName in a task) to a Python "
                  "callable: NAME=module:callable, optionally followed by "
                  "?timeout=SECONDS&memory=MB&reserved=N&mode=thread. Repeatable.")


class _LazyHandler:
    """A handler imported on first use (catalog handlers pull heavy optional dependencies)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fn: Any = None

    def __call__(self, event: Any, context: Any) -> Any:
        if self._fn is None:
            from kbflow.runtime.workers import import_handler

            self._fn = import_handler(self.path)
        return self._fn(event, context)


def _catalog() -> Any:
    try:
        from kbflow.tasks import catalog
    except ImportError:
        return None
    return catalog if hasattr(catalog, "FUNCTIONS") else None


def parse_function(spec: str) -> tuple[str, str, dict[str, str]]:
    """Split ``NAME=module:callable[?k=v&...]``.

    Raises:
        click.BadParameter: the spec is malformed.
    """
    name, sep, rest = spec.partition("=")
    path, _, query = rest.partition("?")
    if not sep or not name or ":" not in path:
        raise click.BadParameter(f"{spec!r} is not NAME=module:callable", param_hint="--function")
    options = dict(parse_qsl(query))
    unknown = set(options) - {"timeout", "memory", "reserved", "mode"}
    if unknown:
        raise click.BadParameter(f"unknown option(s) {sorted(unknown)} in {spec!r}",
                                 param_hint="--function")
    return name, path, options


def build_engine(store: Path, functions: Sequence[str], workers: int | None) -> Any:
    """A durable engine on ``store`` with the catalog's functions and ``--function`` ones."""
    from kbflow.runtime.durable import DurableEngine
    from kbflow.runtime.workers import WorkerPool

    try:
        engine = DurableEngine(store)
    except KbflowError as exc:
        raise click.ClickException(str(exc)) from None
    engine.invoker.close()  # the default thread pool, replaced by the worker pool
    pool = WorkerPool(workers)
    engine.invoker = pool
    try:
        _register_catalog(engine, pool)
        for spec in functions:
            _register_function(engine, pool, spec)
    except BaseException:
        engine.close()
        raise
    return engine


def _register_catalog(engine: Any, pool: Any) -> None:
    catalog = _catalog()
    for fn in getattr(catalog, "FUNCTIONS", ()):
        name = fn.function_name()
        pool.declare(name, fn.handler, mode="process" if fn.execution == "cpu" else "thread",
                     timeout_seconds=fn.timeout_s, memory_mb=fn.memory_mb,
                     reserved_concurrency=fn.reserved_concurrency)
        engine.register_function(name, _LazyHandler(fn.handler), timeout_seconds=fn.timeout_s,
                                 memory_mb=fn.memory_mb, invoker=pool)


def _register_function(engine: Any, pool: Any, spec: str) -> None:
    name, path, opts = parse_function(spec)
    if os.getcwd() not in sys.path:  # modules next to the user import, as with `python -m`
        sys.path.insert(0, os.getcwd())
    try:
        mode = opts.get("mode", "process")
        if mode not in ("process", "thread"):
            raise ConfigurationError(f"mode must be process or thread in {spec!r}")
        reserved = int(opts["reserved"]) if "reserved" in opts else None
        fn_spec = pool.add(name, path, mode=mode, timeout_seconds=float(opts.get("timeout", 300)),
                           memory_mb=int(opts.get("memory", 1024)),
                           reserved_concurrency=reserved)
    except ValueError as exc:
        raise click.BadParameter(f"{spec!r}: {exc}", param_hint="--function") from exc
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--function") from exc
    engine.register_function(name, pool.handler(name), timeout_seconds=fn_spec.timeout_seconds,
                             memory_mb=fn_spec.memory_mb, invoker=pool)


def wire_local_adapters(engine: Any, store: Path, file_roots: Sequence[Path]) -> None:
    """Give the workflows' own task functions their local adapters over ``store``.

    Worker processes get the environment the adapters are built from; thread-mode handlers
    and the Distributed Map's ItemReader/ResultWriter use the bundle installed here.
    """
    try:
        from kbflow.tasks.adapters.config import install, local_adapters, local_environ
    except ImportError:
        return
    roots = [str(r) for r in file_roots]
    engine.invoker.env.update(local_environ(store, roots))
    adapters = local_adapters(store, file_roots=roots)
    install(adapters)
    engine.object_store = adapters.objects


def uses_catalog(definition: str) -> bool:
    """True when the definition (JSON text) calls one of the workflows' own functions."""
    catalog = _catalog()
    if catalog is None:
        return False
    own = {fn.function_name() for fn in catalog.FUNCTIONS}
    return bool(own & set(_function_names(definition)))


def substitutions() -> dict[str, str]:
    """Values for ``${...}`` placeholders (the catalog's, when it is installed)."""
    catalog = _catalog()
    if catalog is None or not hasattr(catalog, "substitutions"):
        return {}
    return dict(catalog.substitutions())


def read_json_file(path: Path, what: str) -> JSON:
    """Parse a JSON file with a clear error (missing file; line and column of bad JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {what} file {path}: {exc}") from None
    return parse_json(text, f"{path}")


def parse_json(text: str, where: str) -> JSON:
    """Parse JSON text; errors name the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def read_input(value: str) -> str:
    """``--input``: JSON text, or ``@file``; returns canonical JSON text."""
    if value.startswith("@"):
        return json.dumps(read_json_file(Path(value[1:]), "input"))
    return json.dumps(parse_json(value, "--input"))


def _machine_name(path: Path) -> str:
    name = path.name
    for suffix in (".asl.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def register_definitions(engine: Any, definition: Path) -> str:
    """Register DEFINITION (and sibling flows that its placeholders name); return its ARN."""
    doc = read_json_file(definition, "definition")
    subs = substitutions()
    catalog = _catalog()
    for flow in dict(getattr(catalog, "STATE_MACHINES", {})).values():
        sibling = definition.parent / f"{flow}.asl.json"
        if sibling.is_file():
            engine.create_state_machine(f"kbflow-{flow}", sibling.read_text(), substitutions=subs)
    try:
        arn = engine.create_state_machine(_machine_name(definition), doc, substitutions=subs)
    except KbflowError as exc:
        raise click.ClickException(f"{definition}: {exc}") from None
    missing = sorted(set(_function_names(engine.describe_state_machine(arn)["definition"]))
                     - set(engine.functions))
    if missing:
        raise click.ClickException(
            f"{definition}: unknown Lambda function(s) {', '.join(missing)}; register each with "
            f"--function NAME=module:callable")
    return str(arn)


def _function_names(definition: str) -> Iterator[str]:
    from kbflow.runtime.invoke import function_name_of

    for state in _states(json.loads(definition)):
        resource = state.get("Resource", "")
        if not isinstance(resource, str) or state.get("Type") != "Task":
            continue
        if ":lambda:" in resource and ":function:" in resource:
            yield function_name_of(resource)
        elif resource.startswith("arn:aws:states:::lambda:invoke"):
            args = state.get("Parameters") or state.get("Arguments") or {}
            name = args.get("FunctionName") if isinstance(args, dict) else None
            if isinstance(name, str) and "{%" not in name:
                yield function_name_of(name)


def _states(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for state in (doc.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        yield state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key])


def execution_result(described: Mapping[str, Any]) -> dict[str, Any]:
    """``{"executionArn", "status", "output", "error", "cause"}`` of a described execution."""
    output = described.get("Output")
    return {"executionArn": described["ExecutionArn"], "status": described["Status"],
            "output": json.loads(output) if isinstance(output, str) else output,
            "error": described.get("Error"), "cause": described.get("Cause")}


def report(result: Mapping[str, Any], as_json: bool) -> None:
    """Print the result and exit (0 only for SUCCEEDED)."""
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"{result['status']}  {result['executionArn']}")
        if result["status"] == "SUCCEEDED":
            click.echo(json.dumps(result["output"], indent=2))
        else:
            click.echo(f"error: {result['error']}", err=False)
            if result["cause"]:
                click.echo(f"cause: {result['cause']}")
    sys.exit(0 if result["status"] == "SUCCEEDED" else 1)


def file_root_option(fn: Any) -> Any:
    """The shared ``--file-root`` option."""
    return click.option(
        "--file-root", "file_roots", multiple=True,
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="A folder file:// sources may read (for the workflows' own functions).")(fn)


def function_option(fn: Any) -> Any:
    """The shared ``--function`` option."""
    return click.option("--function", "functions", multiple=True,
                        metavar="NAME=module:callable", help=_FUNCTION_HELP)(fn)


def store_option(fn: Any) -> Any:
    """The shared ``--store`` option."""
    return click.option("--store", type=click.Path(file_okay=False, path_type=Path),
                        default=Path(".kbflow"), show_default=True,
                        help="The store directory (executions in DIR/engine.sqlite3).")(fn)


@click.command()
@click.argument("definition", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "input_", default="{}", show_default=True, metavar="JSON|@FILE",
              help="The execution input: JSON text, or @path to a JSON file.")
@store_option
@click.option("--name", default=None, help="The execution name (default: a new UUID). With the "
              "name of an execution whose process died, resume it.")
@function_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for task handlers (default: CPU count).")
@file_root_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"executionArn", "status", "output", "error", "cause"}.')
def run(definition: Path, input_: str, store: Path, name: str | None, functions: tuple[str, ...],
        workers: int | None, file_roots: tuple[Path, ...], as_json: bool) -> None:
    """Run DEFINITION (an ASL JSON file) to its end on the durable embedded engine.

    Exit status 0 only when the execution SUCCEEDED. Example:

        kbflow run flow.asl.json --input '{"n": 3}' --name n3 --function double=mymod:double
    """
    text = read_input(input_)
    if not definition.is_file():
        raise click.ClickException(f"definition file not found: {definition}")
    engine = build_engine(store, functions, workers)
    try:
        sm = register_definitions(engine, definition)
        if uses_catalog(engine.describe_state_machine(sm)["definition"]):
            wire_local_adapters(engine, store, [r.resolve() for r in file_roots])
        try:
            arn = engine.start_execution(sm, text, name=name)
        except KbflowError as exc:
            hint = ""
            found = engine.store.find_execution(name) if name else None
            if found is not None and found.status in ("FAILED", "TIMED_OUT", "ABORTED"):
                hint = f" (it {found.status}; to continue it: kbflow executions redrive {name})"
            raise click.ClickException(f"{exc}{hint}") from None
        result = execution_result(engine.wait(arn))
    finally:
        engine.close()
    report(result, as_json)
