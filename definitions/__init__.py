"""Generated state machine definitions (``*.asl.json``) and JSON Schemas; never edited by hand.

Regenerate with ``kbflow build``; CI fails when the committed files drift from a fresh build.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

FLOWS = ("ingestion", "reindex", "human-review")


def asl_text(flow: str) -> str:
    """The committed ASL JSON text of ``flow`` (one of :data:`FLOWS`)."""
    return resources.files(__name__).joinpath(f"{flow}.asl.json").read_text(encoding="utf-8")


def asl(flow: str) -> dict[str, Any]:
    """The committed ASL definition of ``flow`` as a dict."""
    value = json.loads(asl_text(flow))
    assert isinstance(value, dict)
    return value


def schema(name: str) -> dict[str, Any]:
    """A committed JSON Schema, e.g. ``schema("ingestion.input")`` or ``schema("tasks/fetch-document.input")``."""
    text = resources.files(__name__).joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
