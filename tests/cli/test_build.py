"""``kbflow build`` and ``kbflow validate`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from kbflow.cli import cli

VALID = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_writes_and_rebuild_is_identical(tmp_path: Path) -> None:
    code, out, _ = _run("build", "--out", str(tmp_path))
    assert code == 0 and "6 files" in out
    first = {p: p.read_bytes() for p in tmp_path.rglob("*.json")}
    assert len(first) == 6
    code, out, _ = _run("build", "--out", str(tmp_path))
    assert code == 0 and "(0 changed)" in out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.json")} == first


def test_build_check_clean_and_drifting(tmp_path: Path) -> None:
    _run("build", "--out", str(tmp_path))
    code, out, _ = _run("build", "--out", str(tmp_path), "--check")
    assert code == 0 and "up to date" in out
    (tmp_path / "ingestion.asl.json").write_text("{}\n")
    code, _, err = _run("build", "--out", str(tmp_path), "--check")
    assert code == 1
    assert "ingestion.asl.json" in err and "reindex.asl.json" not in err


def test_build_check_on_empty_dir_names_every_file(tmp_path: Path) -> None:
    code, _, err = _run("build", "--out", str(tmp_path), "--check")
    assert code == 1 and err.count("drift:") == 6
    assert list(tmp_path.iterdir()) == []


def test_build_check_against_committed_definitions() -> None:
    code, out, err = _run("build", "--check")
    assert code == 0, err


def test_validate_ok(tmp_path: Path) -> None:
    (tmp_path / "a.asl.json").write_text(json.dumps(VALID))
    code, out, _ = _run("validate", str(tmp_path))
    assert code == 0 and out.strip() == "OK: 1 definition(s) valid"


def test_validate_committed_definitions(repo_root: Path) -> None:
    code, out, _ = _run("validate", str(repo_root / "definitions"))
    assert code == 0 and "OK: 3 definition(s)" in out


def test_validate_reports_every_problem_with_file_and_pointer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asl.json"
    bad.write_text(
        json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Next": "Nope"},
                    "B": {
                        "Type": "Task",
                        "Resource": "x",
                        "Parameters": {"F": "${bad name}"},
                        "End": True,
                        "Bogus": 1,
                    },
                },
            }
        )
    )
    code, out, err = _run("validate", "--no-statelint", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert f"{bad}:/States/A/Next: no state named 'Nope' in this scope" in lines
    assert any(line.startswith(f"{bad}:/States/B: ") and "not reachable" in line for line in lines)
    assert any(line.startswith(f"{bad}:/States/B/Bogus: unknown field") for line in lines)
    assert any(
        line.startswith(f"{bad}:/States/B/Parameters/F: malformed placeholder") for line in lines
    )
    assert "1 of 1 definition(s) invalid" in err


def test_statelint_only_findings_are_warnings_unless_strict(tmp_path: Path) -> None:
    # AWS accepts Assign in a JSONPath Task; statelint does not know the field yet.
    modern = tmp_path / "modern.asl.json"
    modern.write_text(json.dumps({"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Assign": {"x.$": "$.a"}, "End": True}}}))
    code, out, _ = _run("validate", str(modern))
    assert code == 0, out
    assert f"{modern}:/States/A/Assign: " in out and "[statelint] (warning)" in out
    assert "OK: 1 definition(s) valid; 1 statelint warning(s)" in out
    code, out, err = _run("validate", "--strict", str(modern))
    assert code == 1 and "[statelint]" in out and "(warning)" not in out
    assert "1 of 1 definition(s) invalid" in err
    code, out, _ = _run("validate", "--no-statelint", str(modern))
    assert code == 0 and out.strip() == "OK: 1 definition(s) valid"


def test_validate_bad_json_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "broken.asl.json"
    bad.write_text('{"StartAt": "A",\n "States": }')
    code, out, _ = _run("validate", str(bad))
    assert code == 1
    assert out.startswith(f"{bad}:/: invalid JSON at line 2, column 12")


def test_validate_folder_without_definitions_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _run("validate", str(tmp_path))
    assert code == 2 and "no *.asl.json" in err


def test_help_texts() -> None:
    code, out, _ = _run("build", "--help")
    assert code == 0 and "--check" in out and "--out" in out
    code, out, _ = _run("validate", "--help")
    assert code == 0 and "FILE:/json/pointer" in out
