"""kbflow.workflows.build: stable artifacts, drift detection, input schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kbflow.errors import DefinitionError
from kbflow.workflows import build as flows
from kbflow.workflows.build import FLOWS, Flow, artifacts, default_out_dir, drift, render, write

EXPECTED = {
    "ingestion.asl.json",
    "reindex.asl.json",
    "human-review.asl.json",
    "schemas/ingestion.input.json",
    "schemas/reindex.input.json",
    "schemas/human-review.input.json",
}


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return artifacts()


def test_artifacts_are_the_six_files(files: dict[str, str]) -> None:
    assert set(files) == EXPECTED


def test_render_is_stable_text() -> None:
    assert render({"b": 1, "a": ["é"]}) == '{\n  "b": 1,\n  "a": [\n    "é"\n  ]\n}\n'


def test_rebuild_is_byte_identical(files: dict[str, str]) -> None:
    assert artifacts() == files


def test_write_then_no_drift_then_drift_named(tmp_path: Path, files: dict[str, str]) -> None:
    written = write(tmp_path, files)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == EXPECTED
    assert drift(tmp_path, files) == []
    assert write(tmp_path, files) == []
    (tmp_path / "reindex.asl.json").write_text(files["reindex.asl.json"] + " ")
    (tmp_path / "schemas" / "human-review.input.json").unlink()
    assert drift(tmp_path, files) == ["reindex.asl.json", "schemas/human-review.input.json"]


def test_committed_definitions_match_a_fresh_build(files: dict[str, str]) -> None:
    assert drift(default_out_dir(), files) == []


def test_default_out_dir_is_the_definitions_package() -> None:
    assert (default_out_dir() / "__init__.py").is_file()
    assert default_out_dir().name == "definitions"


def test_invalid_flow_is_refused_before_writing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = Flow(
        "broken", lambda: {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}, {}
    )
    monkeypatch.setattr(flows, "FLOWS", (broken,))
    with pytest.raises(DefinitionError) as info:
        write(tmp_path)
    assert any(p.pointer == "broken.asl.json#/States/A/Next" for p in info.value.problems)
    assert list(tmp_path.iterdir()) == []


def _schema(name: str) -> dict[str, Any]:
    schema = next(f.input_schema for f in FLOWS if f.name == name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return dict(schema)


@pytest.mark.parametrize(
    "name, instance, valid",
    [
        (
            "ingestion",
            {"source": {"uri": "s3://my-bucket/docs/"}, "options": {"pii": "redact"}},
            True,
        ),
        ("ingestion", {"source": {"uri": "file:///data/docs"}}, True),
        ("ingestion", {"source": {"uri": "http://x"}}, False),
        ("ingestion", {"options": {}}, False),
        (
            "reindex",
            {"detail-type": "Page Updated", "detail": {"page": "https://w/p", "action": "updated"}},
            True,
        ),
        ("reindex", {"detail": {"page": "https://w/p", "action": "deleted"}}, True),
        ("reindex", {"detail": {"page": "https://w/p", "action": "moved"}}, False),
        ("reindex", {"mode": "full", "site": "https://wiki.example"}, True),
        ("reindex", {"mode": "full"}, False),
        ("human-review", {"item": {"id": "d1", "key": "a.pdf"}, "reason": "pii"}, True),
        (
            "human-review",
            {
                "item": {"id": "d1"},
                "reason": "pii",
                "deadline_seconds": 60,
                "heartbeat_seconds": 30,
            },
            True,
        ),
        ("human-review", {"item": {}, "reason": "pii"}, False),
        ("human-review", {"item": {"id": "d1"}}, False),
        ("human-review", {"item": {"id": "d1"}, "reason": "r", "deadline_seconds": 0}, False),
    ],
)
def test_input_schemas(name: str, instance: dict[str, Any], valid: bool) -> None:
    errors = list(jsonschema.Draft202012Validator(_schema(name)).iter_errors(instance))
    assert (not errors) is valid, errors


def test_schema_files_are_draft_2020_12(files: dict[str, str]) -> None:
    for name in ("ingestion", "reindex", "human-review"):
        schema = json.loads(files[f"schemas/{name}.input.json"])
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_invalid_input_schema_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good = FLOWS[2]
    broken = Flow("odd", good.build, {"type": "no-such-type"})
    monkeypatch.setattr(flows, "FLOWS", (broken,))
    with pytest.raises(DefinitionError) as info:
        write(tmp_path)
    assert info.value.problems[0].pointer.startswith("schemas/odd.input.json#")
    assert list(tmp_path.iterdir()) == []
