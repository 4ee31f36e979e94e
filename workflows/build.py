"""Compile the three flows to ``definitions/``: ASL files and input JSON Schemas.

``kbflow build`` and CI use this module. Output is deterministic: ``json.dumps(indent=2)``
plus a trailing newline, keys in a fixed order, so a rebuild is byte-identical and
``kbflow build --check`` can compare the committed files with a fresh build. Every definition
is validated (JSON Schema for ASL, statelint, kbflow's semantic checks), and every input schema
is checked against the JSON Schema meta-schema, before anything is written; an invalid flow
raises :class:`~kbflow.errors.DefinitionError` and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema
from kbflow.errors import ConfigurationError, DefinitionError, Problem
from kbflow.runtime.asl.validate import validate
from kbflow.workflows import human_review, ingestion, reindex

__all__ = ["FLOWS", "Flow", "artifacts", "default_out_dir", "drift", "render", "write"]


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow: its file name stem, its compiler and the JSON Schema of its input."""

    name: str
    """File stem: ``definitions/<name>.asl.json``, ``definitions/schemas/<name>.input.json``."""
    build: Callable[[], dict[str, Any]]
    """Returns the ASL definition."""
    input_schema: Mapping[str, Any]
    """JSON Schema (draft 2020-12) of the execution input."""


FLOWS: Final[tuple[Flow, ...]] = (
    Flow("ingestion", ingestion.build, ingestion.INPUT_SCHEMA),
    Flow("reindex", reindex.build, reindex.INPUT_SCHEMA),
    Flow("human-review", human_review.build, human_review.INPUT_SCHEMA),
)
"""The flows ``kbflow build`` compiles, in output order."""


def render(value: Any) -> str:
    """The stable text form of a JSON document: 2-space indent, UTF-8, trailing newline.

    Args:
        value: Any JSON value.

    Returns:
        The text written to disk.
    """
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def artifacts() -> dict[str, str]:
    """Compile and validate every flow.

    Returns:
        Relative path (POSIX, under the output directory) -> file text, for every generated file.

    Raises:
        DefinitionError: A flow's definition is invalid (lists every problem; the message
            names the flow's file).
    """
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for flow in FLOWS:
        asl_name = f"{flow.name}.asl.json"
        definition = flow.build()
        problems += [
            Problem(f"{asl_name}#{p.pointer}", p.message, p.source) for p in validate(definition)
        ]
        out[asl_name] = render(definition)
        schema_name = f"schemas/{flow.name}.input.json"
        problems += _schema_problems(schema_name, flow.input_schema)
        out[schema_name] = render(dict(flow.input_schema))
    if problems:
        raise DefinitionError(problems, file="kbflow build")
    return out


def _schema_problems(name: str, schema: Mapping[str, Any]) -> list[Problem]:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        pointer = "".join(f"/{part}" for part in exc.absolute_path)
        return [Problem(f"{name}#{pointer}", f"not a valid JSON Schema: {exc.message}", "schema")]
    return []


def default_out_dir() -> Path:
    """The ``definitions/`` folder of the ``kbflow.definitions`` package (the repo's if editable).

    Returns:
        The directory path.

    Raises:
        ConfigurationError: The package has no file-system location.
    """
    import kbflow.definitions as package

    location = getattr(package, "__file__", None)
    if location is None:
        raise ConfigurationError("kbflow.definitions has no directory; pass --out DIR")
    return Path(location).resolve().parent


def write(out_dir: Path, files: Mapping[str, str] | None = None) -> list[Path]:
    """Write the generated files (only those whose content changed).

    Args:
        out_dir: Target directory (created if missing).
        files: Output of :func:`artifacts` (computed when ``None``).

    Returns:
        Paths of the files that were (re)written.
    """
    files = artifacts() if files is None else files
    written = []
    for relative, text in files.items():
        path = out_dir / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def drift(out_dir: Path, files: Mapping[str, str] | None = None) -> list[str]:
    """Generated files whose committed copy is missing or differs from a fresh build.

    Args:
        out_dir: Directory holding the committed files.
        files: Output of :func:`artifacts` (computed when ``None``).

    Returns:
        Relative paths of drifting files, sorted.
    """
    files = artifacts() if files is None else files
    stale = []
    for relative, text in files.items():
        path = out_dir / relative
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            stale.append(relative)
    return sorted(stale)
