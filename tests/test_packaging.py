"""The distribution maps root folders to packages and lists every package."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOTS = {
    "kbflow": "sdk",
    "kbflow.workflows": "workflows",
    "kbflow.tasks": "tasks",
    "kbflow.runtime": "runtime",
    "kbflow.deploy": "deploy",
    "kbflow.definitions": "definitions",
}


def _options(repo_root: Path) -> configparser.SectionProxy:
    cfg = configparser.ConfigParser()
    cfg.read(repo_root / "setup.cfg")
    return cfg["options"]


def test_package_dir_maps_root_folders(repo_root: Path) -> None:
    mapping = dict(
        line.split("=", 1) for line in _options(repo_root)["package_dir"].strip().splitlines()
    )
    assert {k.strip(): v.strip() for k, v in mapping.items()} == ROOTS


def test_every_package_in_the_tree_is_listed(repo_root: Path) -> None:
    listed = set(_options(repo_root)["packages"].split())
    found: set[str] = set()
    for package, folder in ROOTS.items():
        base = repo_root / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join((package, *rel)))
    assert found == listed, (
        f"missing from setup.cfg: {found - listed}; listed but absent: {listed - found}"
    )


def test_import_from_outside_the_repo(tmp_path: Path) -> None:
    code = ("import kbflow, kbflow.runtime, kbflow.tasks, kbflow.workflows, kbflow.deploy; "
            "print(kbflow.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip()


def test_cli_version_and_help(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("kbflow")
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True,
                             cwd=tmp_path)
    assert version.stdout.startswith("kbflow, version ")
    help_ = subprocess.run([str(cli), "--help"], capture_output=True, text=True, check=True,
                           cwd=tmp_path)
    assert "Usage: kbflow" in help_.stdout


def test_every_command_has_help() -> None:
    from click.testing import CliRunner
    from kbflow.cli import cli

    runner = CliRunner()
    names = cli.list_commands(None)  # type: ignore[arg-type]
    assert names, "no commands registered"
    for name in names:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_ci_runs_exactly_the_readme_test_command(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    ci = (repo_root / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in readme
    assert ci.strip().splitlines()[-1] == "bash scripts/test.sh"
