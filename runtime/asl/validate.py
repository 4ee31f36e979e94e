"""Validate Amazon States Language definitions: JSON Schema + statelint + kbflow's checks.

Three checkers run on every definition and each reports
:class:`~kbflow.errors.Problem` s located by a JSON pointer:

1. ``schema`` -- ``asl.schema.json`` (JSON Schema draft 2020-12, shipped next to this module):
   the structure of every state type with the fields of both query languages (JSONPath and
   JSONata), value types and ranges;
2. ``statelint`` -- the ``statelint`` linter, run in-process (paths, intrinsic functions,
   JSONata syntax, field rules); its dotted locations are translated to JSON pointers;
3. ``kbflow`` -- semantic checks (:mod:`kbflow.runtime.asl.validate_checks`): graph
   (targets, reachability, terminal state, unique names), ``States.ALL`` placement, field
   combinations AWS rejects, query-language rules and ``${...}`` placeholders.

Example::

    from kbflow.runtime.asl.validate import check, validate_file

    problems = validate_file(Path("definitions/ingestion.asl.json"))
    check(definition, file="ingestion.asl.json")     # raises DefinitionError listing all problems
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema
from kbflow.errors import DefinitionError, Problem
from kbflow.runtime.asl.validate_checks import escape, semantic_problems
from statelint.config import Config as StatelintConfig
from statelint.linter import Linter

__all__ = [
    "check",
    "format_problem",
    "load_text",
    "schema",
    "validate",
    "validate_file",
    "validate_text",
]

_LOCATION: Final = re.compile(r"State Machine(?=[.\[\s]|$)")
_FIELD: Final = re.compile(r'Field "([^"]+)" not allowed in ')


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema for ASL (``asl.schema.json``), loaded once.

    Returns:
        The schema as a dict.
    """
    text = resources.files(__package__).joinpath("asl.schema.json").read_text(encoding="utf-8")
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def validate(definition: Any, *, use_statelint: bool = True) -> list[Problem]:
    """Every problem in a parsed ASL definition.

    Args:
        definition: The parsed JSON document.
        use_statelint: Also run ``statelint`` (on by default).

    Returns:
        All problems (schema first, then kbflow's checks, then statelint findings at
        locations no other checker reported), empty when the definition is valid.
    """
    problems = schema_problems(definition) + semantic_problems(definition)
    if use_statelint and isinstance(definition, Mapping):
        reported = {p.pointer for p in problems}
        problems += [p for p in statelint_problems(definition) if p.pointer not in reported]
    return problems


def schema_problems(definition: Any) -> list[Problem]:
    """Problems found by the JSON Schema for ASL, one per offending field.

    Args:
        definition: The parsed JSON document.

    Returns:
        Schema problems in document order.
    """
    problems: list[Problem] = []
    for error in sorted(
        _validator().iter_errors(definition), key=lambda e: list(map(str, e.absolute_path))
    ):
        problems += _schema_problem(error)
    return problems


def _schema_problem(error: jsonschema.ValidationError) -> list[Problem]:
    pointer = "".join(f"/{escape(str(part))}" for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        where = _container_name(error.instance)
        return [
            Problem(f"{pointer}/{escape(key)}", f"unknown field {key!r}{where}", "schema")
            for key in error.instance
            if key not in allowed
        ]
    if error.validator == "anyOf" and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return [Problem(pointer, _short(best.message), "schema")]
    return [Problem(pointer, _short(error.message), "schema")]


def _container_name(instance: Mapping[str, Any]) -> str:
    kind = instance.get("Type")
    return f" in a {kind} state" if isinstance(kind, str) else ""


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def statelint_problems(definition: Mapping[str, Any]) -> list[Problem]:
    """Problems reported by the ``statelint`` linter, located by JSON pointer.

    JSONata expressions are parsed too when ``jsonata-python`` is installed.

    Args:
        definition: The parsed ASL document.

    Returns:
        statelint's findings (``source="statelint"``).
    """
    messages = _run_statelint(dict(definition))
    return [
        Problem(_statelint_pointer(definition, message), message, "statelint")
        for message in messages
    ]


def _run_statelint(definition: dict[str, Any]) -> list[str]:
    """Run statelint, first with JSONata parsing, then without.

    statelint's JSONata mode crashes on some valid expressions (it tries to ``json.dumps``
    parser symbols); a crash inside the third-party linter says nothing about the definition,
    so it falls back to the plain mode and, failing that, reports nothing.
    """
    modes = [True, False] if importlib.util.find_spec("jsonata") is not None else [False]
    for evaluate in modes:
        try:
            return list(Linter.validate(definition, StatelintConfig(evaluate_jsonata=evaluate)))
        except Exception:  # noqa: BLE001 - third-party internal failure, see docstring
            continue
    return []


def _statelint_pointer(definition: Mapping[str, Any], message: str) -> str:
    """Translate statelint's ``State Machine.States.A.Retry[0]`` location to ``/States/A/Retry/0``.

    State names may contain dots and spaces, so the location is resolved against the document
    (longest matching key first) instead of being split on dots. Some messages name a state as
    ``State Machine.B`` (without ``States``); ``Field "X" not allowed in ...`` points at ``X``.
    """
    match = _LOCATION.search(message)
    if match is None:
        return ""
    rest = message[match.end() :]
    pointer = _resolve(definition, rest) or _resolve(definition, ".States" + rest)
    field = _FIELD.match(message)
    if field and isinstance(_lookup(definition, pointer), Mapping):
        pointer += f"/{escape(field.group(1))}"
    return pointer


def _resolve(definition: Mapping[str, Any], rest: str) -> str:
    node: Any = definition
    pointer = ""
    while (step := _next_step(node, rest)) is not None:
        token, node, rest = step
        pointer += f"/{escape(token)}"
    return pointer


def _lookup(definition: Mapping[str, Any], pointer: str) -> Any:
    node: Any = definition
    for token in filter(None, pointer.split("/")):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _next_step(node: Any, rest: str) -> tuple[str, Any, str] | None:
    if isinstance(node, list):
        m = re.match(r"\[(\d+)\]", rest)
        if m and int(m.group(1)) < len(node):
            return m.group(1), node[int(m.group(1))], rest[m.end() :]
        return None
    if not isinstance(node, Mapping) or not rest.startswith("."):
        return None
    for key in sorted(node, key=len, reverse=True):
        tail = rest[1 + len(key) :]
        if rest[1:].startswith(key) and (not tail or tail[0] in ".[ \"'"):
            return key, node[key], tail
    return None


def load_text(text: str, *, source: str = "<text>") -> Any:
    """Parse JSON text, refusing duplicate object keys.

    Args:
        text: The JSON document.
        source: Name used in error messages.

    Returns:
        The parsed value.

    Raises:
        DefinitionError: The text is not JSON (the problem names line and column) or an
            object repeats a key.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise DefinitionError(
                [Problem("", f"duplicate key(s) {dupes} in one object", "json")], file=source
            )
        return dict(items)

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        problem = Problem(
            "", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", "json"
        )
        raise DefinitionError([problem], file=source) from exc


def validate_text(
    text: str, *, source: str = "<text>", use_statelint: bool = True
) -> list[Problem]:
    """Every problem in an ASL document given as JSON text (JSON errors included).

    Args:
        text: The JSON document.
        source: Name used in error messages.
        use_statelint: Also run ``statelint``.

    Returns:
        All problems; a JSON syntax error is the only problem when the text does not parse.
    """
    try:
        definition = load_text(text, source=source)
    except DefinitionError as exc:
        return list(exc.problems)
    return validate(definition, use_statelint=use_statelint)


def validate_file(path: Path, *, use_statelint: bool = True) -> list[Problem]:
    """Every problem in an ``*.asl.json`` file.

    Args:
        path: The file.
        use_statelint: Also run ``statelint``.

    Returns:
        All problems (a file that cannot be read is one problem).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem("", f"cannot read file: {exc}", "io")]
    return validate_text(text, source=str(path), use_statelint=use_statelint)


def check(definition: Any, *, file: str | None = None, use_statelint: bool = True) -> None:
    """Raise if ``definition`` has any problem.

    Args:
        definition: The parsed ASL document.
        file: File name for the error message.
        use_statelint: Also run ``statelint``.

    Raises:
        DefinitionError: Lists every problem found.
    """
    problems = validate(definition, use_statelint=use_statelint)
    if problems:
        raise DefinitionError(problems, file=file)


def format_problem(file: str, problem: Problem) -> str:
    """``FILE:/json/pointer: message`` (the pointer is ``/`` for the whole document).

    Args:
        file: The file name to show.
        problem: The problem.

    Returns:
        One line.
    """
    where = problem.pointer or "/"
    tag = "" if problem.source in ("kbflow", "schema") else f" [{problem.source}]"
    return f"{file}:{where}: {problem.message}{tag}"
