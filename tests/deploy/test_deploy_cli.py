"""``kbflow deploy`` commands: help, template output, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kbflow.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deploy", "--help"], ["template", "package", "apply"]),
        (["deploy", "template", "--help"], ["--output", "--stage"]),
        (["deploy", "package", "--help"], ["--out", "250 MB"]),
        (["deploy", "apply", "--help"], ["--stack", "--region", "--endpoint-url", "--parameter"]),
    ],
)
def test_help(runner, args, expected):
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    for word in expected:
        assert word in result.output


def test_template_writes_yaml_for_the_stage(runner, tmp_path: Path):
    out = tmp_path / "stack" / "template.yaml"
    result = runner.invoke(cli, ["deploy", "template", "-o", str(out), "--stage", "prod"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    assert data["Parameters"]["Stage"]["Default"] == "prod"
    assert "IngestionStateMachine" in data["Resources"]


def test_template_to_stdout(runner):
    result = runner.invoke(cli, ["deploy", "template"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["AWSTemplateFormatVersion"] == "2010-09-09"


def test_bad_stage_is_a_one_line_error(runner):
    result = runner.invoke(cli, ["deploy", "template", "--stage", "Bad_Stage"])
    assert result.exit_code == 1
    assert "error: stage 'Bad_Stage'" in result.output


def test_apply_rejects_malformed_parameters(runner):
    result = runner.invoke(cli, ["deploy", "apply", "--stack", "s", "-p", "NoEquals"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_first_apply_without_an_artifact_fails_cleanly(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(key, value)
    from moto import mock_aws

    with mock_aws():
        result = runner.invoke(
            cli, ["deploy", "apply", "--stack", "missing", "--region", "eu-west-1"]
        )
    assert result.exit_code == 1
    assert "error:" in result.output and "artifact" in result.output
