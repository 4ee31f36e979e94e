"""Checks the client makes before any execution starts: input schema, size, name.

The input schemas are the generated ``definitions/schemas/<flow>.input.json`` files; a flow
without one is not validated. jsonschema is imported on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Final

from kbflow._types import JSON
from kbflow.errors import ValidationError

__all__ = ["MAX_PAYLOAD_BYTES", "encode_json", "json_pointer", "validate_input", "validate_name"]

MAX_PAYLOAD_BYTES: Final = 262_144
"""Step Functions' limit on an execution input or task result (UTF-8 bytes)."""

# Names must be 1-80 characters without whitespace, wildcards, brackets, special or control
# characters (Step Functions quotas, "Names in Step Functions").
_BAD_NAME: Final = re.compile(r"[\s?*<>{}\[\]\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def json_pointer(path: Iterable[str | int]) -> str:
    """Format a path as an RFC 6901 JSON pointer (``["a", 0, "b/c"]`` -> ``/a/0/b~1c``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@cache
def _schema(flow: str) -> Mapping[str, Any] | None:
    from kbflow import definitions

    try:
        found: Mapping[str, Any] = definitions.schema(f"{flow}.input")
        return found
    except (FileNotFoundError, ModuleNotFoundError):
        return None


def validate_input(flow: str, value: JSON) -> None:
    """Check ``value`` against ``definitions/schemas/<flow>.input.json`` when it exists.

    Args:
        flow: the workflow name.
        value: the execution input.

    Raises:
        ValidationError: the input does not match; ``pointer`` names the offending field.
    """
    schema = _schema(flow)
    if schema is None:
        return
    from jsonschema import validators  # type: ignore[import-untyped,unused-ignore]
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped,unused-ignore]

    cls = validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(value))
    if error is not None:
        path = [*error.absolute_path, *_offending_key(error)]
        raise ValidationError(error.message, pointer=json_pointer(path), schema=f"{flow}.input")


def _offending_key(error: Any) -> list[str]:
    """For a missing or unexpected property, the property itself (its parent is the path)."""
    instance, schema = error.instance, error.schema
    if not isinstance(instance, Mapping):
        return []
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return missing[:1]
    if error.validator == "additionalProperties" and "patternProperties" not in schema:
        extra = sorted(k for k in instance if k not in schema.get("properties", {}))
        return extra[:1]
    return []


def encode_json(value: JSON, *, what: str = "input") -> str:
    """Encode ``value`` as Step Functions receives it, within its size limit.

    Args:
        value: the document.
        what: what it is, for messages (``"input"``, ``"output"``).

    Returns:
        Compact JSON text.

    Raises:
        ValidationError: the value is not JSON or is larger than 256 KiB encoded.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON: {exc}") from exc
    size = len(text.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationError(
            f"{what} is {size} bytes; Step Functions accepts at most {MAX_PAYLOAD_BYTES}"
        )
    return text


def validate_name(name: str) -> None:
    """Check an execution name against Step Functions' naming rules.

    Args:
        name: the execution name.

    Raises:
        ValidationError: the name is empty, longer than 80 characters or has a forbidden character.
    """
    if not 1 <= len(name) <= 80:
        raise ValidationError(f"execution name must be 1-80 characters, got {len(name)}")
    bad = _BAD_NAME.search(name)
    if bad:
        raise ValidationError(
            f"execution name {name!r} contains forbidden character {bad.group()!r}"
        )
