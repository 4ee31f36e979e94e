"""``task_handler``: the Powertools-style decorator every kbflow Lambda handler wears.

A handler is a few lines of glue over pure functions (STYLE.md §2.5)::

    @task_handler("FetchDocument", errors={OSError: "Kbflow.SourceAccessDenied"})
    def fetch_document(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return fetch(event, adapters=current())

The decorator

1. validates ``event`` against ``definitions/schemas/tasks/<name>.input.json``; a failure raises
   ``Kbflow.InvalidInput`` naming the JSON pointer (the offending *value* is never echoed, it may
   be a token or document text);
2. sets the log correlation id to the execution ARN from the event (``execution_arn``; else the
   ``run_id``, else the Lambda request id);
3. runs the handler inside a traced stage and counts ``<name>.Invocations``/``.Failures`` and
   ``.DurationMs``;
4. maps failures: a :class:`~kbflow.tasks.core.errors.TaskError` passes through (its class
   ``__name__`` already is the error string the Lambda runtime reports as ``errorType``); an
   exception listed in ``errors`` is re-raised as the named error class, chained with
   ``from``; anything else propagates under its own name.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final, TypeAlias

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from kbflow.errors import ConfigurationError
from kbflow.tasks.core import errors as core_errors
from kbflow.tasks.core.errors import InvalidInput, TaskError
from kbflow.tasks.observability import flush_metrics, get_logger, log_context, put_metric, stage

__all__ = [
    "ErrorMap",
    "Handler",
    "error_class",
    "load_schema",
    "task_handler",
    "to_task_error",
    "validate_event",
]

Event: TypeAlias = dict[str, Any]
Handler: TypeAlias = Callable[[Event, Any], Any]
"""A Lambda handler: ``(event, context) -> JSON``."""
ErrorMap: TypeAlias = Mapping[type[BaseException], str]
"""``{exception type: error name}`` for :func:`task_handler`."""

_MAX_CAUSE: Final = 1000
_dynamic: dict[str, type[TaskError]] = {}


def error_class(name: str) -> type[TaskError]:
    """The exception class whose ``__name__`` is ``name`` (e.g. ``Kbflow.EmptyDocument``).

    Known names return the classes of :mod:`kbflow.tasks.core.errors`; other names get a
    :class:`TaskError` subclass created once and registered in this module so it pickles.

    Args:
        name: An error string such as ``Kbflow.Something``.

    Returns:
        The error class.

    Raises:
        ConfigurationError: ``name`` starts with ``States.`` (reserved by Step Functions).
    """
    if name.startswith("States."):
        raise ConfigurationError(f"task error names must not start with 'States.': {name!r}")
    if name in core_errors.ERROR_NAMES:
        return core_errors.by_name(name)
    if name not in _dynamic:
        qualname = "_Named_" + re.sub(r"\W", "_", name)
        cls = type(
            name,
            (TaskError,),
            {"error_name": name, "__qualname__": qualname, "__module__": __name__},
        )
        setattr(sys.modules[__name__], qualname, cls)
        _dynamic[name] = cls
    return _dynamic[name]


def to_task_error(exc: BaseException, errors: ErrorMap | None = None) -> BaseException:
    """Map an exception to the named error the flows' Retry/Catch expect.

    Args:
        exc: The exception a handler raised.
        errors: ``{exception type: error name}``; the first ``isinstance`` match wins.

    Returns:
        ``exc`` itself when it is already a :class:`TaskError` or is not mapped, otherwise a new
        instance of :func:`error_class` (the caller raises it ``from exc``).
    """
    if isinstance(exc, TaskError):
        return exc
    for exc_type, name in (errors or {}).items():
        if isinstance(exc, exc_type):
            cause = f"{type(exc).__name__}: {exc}"[:_MAX_CAUSE]
            return error_class(name)(cause)
    return exc


@functools.cache
def load_schema(name: str) -> Draft202012Validator:
    """Load and compile ``definitions/schemas/tasks/<name>.input.json``.

    Raises:
        ConfigurationError: The schema is missing or is not valid JSON Schema.
    """
    path = resources.files("kbflow.definitions").joinpath("schemas", "tasks", f"{name}.input.json")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, SchemaError) as exc:
        raise ConfigurationError(f"task schema for {name!r} unusable: {exc}") from exc
    return Draft202012Validator(schema)


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _describe(err: SchemaError) -> tuple[str, str]:
    """Return (pointer, message) for a schema error without echoing the offending value."""
    pointer = _pointer(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [p for p in err.validator_value if p not in err.instance]
        return f"{pointer}/{missing[0]}" if missing else pointer, "required property is missing"
    if err.validator == "type":
        return pointer, f"expected type {err.validator_value!r}"
    if err.validator == "enum":
        return pointer, f"must be one of {err.validator_value!r}"
    return pointer, f"fails {err.validator!r} {str(err.validator_value)[:80]}"


def validate_event(name: str, event: Any) -> None:
    """Validate a task event against its schema.

    Args:
        name: Task logical name (``FetchDocument``).
        event: The event to check.

    Raises:
        InvalidInput: The event does not match; the message names the JSON pointer.
    """
    if not isinstance(event, dict):
        raise InvalidInput(
            f"{name}: event must be a JSON object, got {type(event).__name__}", pointer=""
        )
    found = sorted(load_schema(name).iter_errors(event), key=lambda e: list(e.absolute_path))
    if found:
        pointer, message = _describe(found[0])
        raise InvalidInput(f"{name}: invalid input at {pointer or '/'}: {message}", pointer=pointer)


def _correlation_id(event: Any, context: Any) -> str:
    """The execution ARN, else the run id (per-document payloads), else the Lambda request id."""
    if isinstance(event, dict):
        for key in ("execution_arn", "run_id"):
            value = event.get(key)
            if isinstance(value, str) and value:
                return value
    return str(getattr(context, "aws_request_id", "") or "")


def task_handler(name: str, *, errors: ErrorMap | None = None) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler: validate, log, trace, count and map errors.

    Args:
        name: The task's logical name in :mod:`kbflow.tasks.catalog` (selects the schema).
        errors: Extra ``{exception type: error name}`` mappings for foreign exceptions.

    Returns:
        A decorator producing the Lambda handler ``(event, context) -> JSON``.
    """

    for error_name in (errors or {}).values():
        error_class(error_name)  # created at import, so worker processes can unpickle it

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def handler(event: Event, context: Any) -> Any:
            with log_context(task=name, correlation_id=_correlation_id(event, context)):
                return _invoke(name, fn, errors, event, context)

        handler.task_name = name  # type: ignore[attr-defined]
        return handler

    return decorate


def _invoke(name: str, fn: Handler, errors: ErrorMap | None, event: Event, context: Any) -> Any:
    logger = get_logger()
    started = time.perf_counter()
    put_metric(f"{name}.Invocations")
    try:
        with stage(f"{name}.validate"):
            validate_event(name, event)
        with stage(name):
            result = fn(event, context)
    except Exception as exc:
        failure = to_task_error(exc, errors)
        error = getattr(failure, "error_name", type(failure).__name__)
        logger.warning("task failed", extra={"error": error, "exception": type(exc).__name__})
        put_metric(f"{name}.Failures")
        _finish(name, started)
        if failure is exc:
            raise
        raise failure from exc
    _finish(name, started)
    logger.info("task succeeded")
    return result


def _finish(name: str, started: float) -> None:
    put_metric(f"{name}.DurationMs", (time.perf_counter() - started) * 1000.0, "Milliseconds")
    flush_metrics()
