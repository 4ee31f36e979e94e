"""mypy stays clean: ``--strict`` on the SDK and the quickstart, ``check_untyped_defs`` on tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The SDK's modules (other sdk/ modules, such as the CLI's, are checked by their owners).
SDK_MODULES = [
    "_client", "_local", "_models", "_polling", "_registry", "_reviews", "_tracking",
    "_types", "_validation", "errors",
]  # fmt: skip
PACKAGES = {
    "definitions": "definitions",
    "tasks": "tasks",
    "runtime": "runtime",
    "workflows": "workflows",
    "deploy": "deploy",
}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """The kbflow package laid out as installed, with symlinks.

    setup.cfg maps sdk/ to the kbflow package; mypy does not follow setuptools' editable
    finder, so it needs the installed layout to resolve ``kbflow.*`` imports.
    """
    pytest.importorskip("mypy")
    package = tmp_path / "src" / "kbflow"
    package.mkdir(parents=True)
    for item in (ROOT / "sdk").iterdir():
        (package / item.name).symlink_to(item)
    for name, folder in PACKAGES.items():
        (package / name).symlink_to(ROOT / folder)
    (tmp_path / "src" / "sdk_quickstart.py").symlink_to(ROOT / "examples" / "sdk_quickstart.py")
    return tmp_path / "src"


def _mypy(args: list[str], *, path: list[Path], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent",
         "--cache-dir", str(cwd / ".mypy_cache"), *args],
        cwd=cwd, capture_output=True, text=True,
        env={"MYPYPATH": ":".join(map(str, path)), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_on_the_sdk(src: Path) -> None:
    targets = [arg for m in SDK_MODULES for arg in ("-m", f"kbflow.{m}")]
    _mypy(
        ["--strict", "-m", "kbflow", *targets, "-p", "kbflow._backends", "-m", "sdk_quickstart"],
        path=[src],
        cwd=src.parent,
    )


@pytest.mark.slow
def test_mypy_check_untyped_defs_on_the_sdk_tests(src: Path) -> None:
    tests = sorted(str(p) for p in HERE.glob("*.py"))
    _mypy(
        ["--check-untyped-defs", "--ignore-missing-imports", *tests],
        path=[src, HERE],
        cwd=src.parent,
    )
