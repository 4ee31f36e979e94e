"""``mypy --strict`` stays clean on the SDK modules and the quickstart example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.slow
def test_mypy_strict_on_the_sdk(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # setup.cfg maps sdk/ to the kbflow package; mypy does not follow setuptools' editable
    # finder, so lay the package out as installed, with symlinks.
    package = tmp_path / "src" / "kbflow"
    package.mkdir(parents=True)
    for item in (ROOT / "sdk").iterdir():
        (package / item.name).symlink_to(item)
    for name, folder in PACKAGES.items():
        (package / name).symlink_to(ROOT / folder)
    (tmp_path / "src" / "sdk_quickstart.py").symlink_to(ROOT / "examples" / "sdk_quickstart.py")
    targets = [arg for m in SDK_MODULES for arg in ("-m", f"kbflow.{m}")] + [
        "-p",
        "kbflow._backends",
    ]
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--follow-imports=silent",
        "--cache-dir",
        str(tmp_path / "cache"),
        "-m",
        "kbflow",
        *targets,
        "-m",
        "sdk_quickstart",
    ]
    result = subprocess.run(
        cmd,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
