"""Helpers to read the conformance corpus (recorded against AWS) in unit tests."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_DEFAULT = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "cases"
CORPUS = Path(os.environ.get("KBFLOW_CONFORMANCE", str(_DEFAULT)))


def cases(feature: str) -> Iterator[dict[str, Any]]:
    """Every corpus case tagged with ``feature`` (nothing when the corpus is absent)."""
    if not CORPUS.is_dir():
        return
    for path in sorted(CORPUS.glob("*.json")):
        case = json.loads(path.read_text())
        if feature in case["features"]:
            yield case


_PLACEHOLDER = re.compile(r"<[^<>]+>")


def matches(expected: Any, actual: Any) -> bool:
    """The corpus runner's comparison rules (placeholders, ``$masked``, int is not float)."""
    if isinstance(expected, dict) and set(expected) == {"$masked"}:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str):
        return isinstance(actual, str) and _string_matches(expected, actual)
    return type(expected) is type(actual) and expected == actual


def _string_matches(expected: str, actual: str) -> bool:
    if expected in ("timestamp", "datetime", "date"):
        return True
    pattern = "".join(
        ".+" if _PLACEHOLDER.fullmatch(part) else re.escape(part).replace("111111111111", r"\d{12}")
        for part in re.split(r"(<[^<>]+>)", expected)
    )
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def context_object(case: dict[str, Any], state: str) -> dict[str, Any]:
    """A plausible context object for a single-state corpus case."""
    arn = "arn:aws:states:us-east-1:111111111111"
    return {
        "Execution": {
            "Id": f"{arn}:execution:sm-name:exec-name",
            "Input": case["input"],
            "Name": "exec-name",
            "RoleArn": "arn:aws:iam::111111111111:role/role",
            "StartTime": "2024-01-01T00:00:00.000Z",
            "RedriveCount": 0,
        },
        "State": {"Name": state, "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0},
        "StateMachine": {"Id": f"{arn}:stateMachine:sm-name", "Name": "sm-name"},
    }
