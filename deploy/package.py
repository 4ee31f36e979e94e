"""Build the Lambda artifact: one zip with the kbflow package and its AWS-side dependencies.

The zip holds the ``kbflow`` package laid out as installed (``sdk/`` -> ``kbflow/``, ``tasks/``
-> ``kbflow/tasks/``, ... from ``setup.cfg``'s ``package_dir``) and the runtime dependencies
installed for the Lambda platform::

    pip install --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp \\
        --only-binary=:all: --target <staging> <requirements>

The requirements are kbflow's ``install_requires`` minus what the Lambda runtime already has
(boto3/botocore) and what only the local engine or authoring uses (:data:`EXCLUDED`); the heavy
local adapters (``[local]`` extra: onnxruntime, rapidocr, pypdfium2, ...) are never included.
Lambda's limit is 250 MB unzipped (function plus layers); :func:`build_artifact` fails with
:class:`PackageTooLarge` above it. The zip is reproducible (sorted entries, fixed timestamps).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kbflow.errors import ConfigurationError

__all__ = [
    "ARTIFACT_NAME",
    "EXCLUDED",
    "LAMBDA_UNZIPPED_LIMIT",
    "PIP_PLATFORM_ARGS",
    "ArtifactReport",
    "PackageError",
    "PackageTooLarge",
    "build_artifact",
    "lambda_requirements",
    "run_pip",
]

ARTIFACT_NAME: Final = "kbflow-lambda.zip"
LAMBDA_UNZIPPED_LIMIT: Final = 262_144_000
"""250 MB: the largest unzipped deployment package (function and all layers) Lambda accepts."""
PIP_PLATFORM_ARGS: Final[tuple[str, ...]] = (
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--only-binary=:all:",
)
EXCLUDED: Final[frozenset[str]] = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",  # provided by the Lambda Python runtime
        "stepfunctions-without-sagemaker",  # authoring the flows (kbflow build), not running tasks
        "statelint",  # validating definitions
        "jsonatapy",
        "jsonata-python",  # the embedded ASL engine's JSONata
        "click",
        "rich",
        "pyyaml",  # the CLI and template rendering
    }
)
"""Distributions never shipped to Lambda (normalised names)."""
_PROVIDED_DIRS: Final = ("boto3", "botocore", "s3transfer")
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_REPO: Final = Path(__file__).resolve().parent.parent

PipRunner = Callable[[Sequence[str]], None]


class PackageError(ConfigurationError):
    """The Lambda artifact could not be built (pip failed, sources missing)."""


class PackageTooLarge(PackageError):
    """The unzipped artifact is over Lambda's 250 MB limit."""

    def __init__(self, unzipped: int, largest: Sequence[tuple[str, int]]) -> None:
        self.unzipped = unzipped
        self.largest = tuple(largest)
        top = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in largest)
        super().__init__(
            f"Lambda artifact is {unzipped / 1e6:.1f} MB unzipped, over Lambda's "
            f"{LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB limit; largest: {top}"
        )


@dataclass(frozen=True, slots=True)
class ArtifactReport:
    """What :func:`build_artifact` built."""

    path: Path
    """The zip."""
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    requirements: tuple[str, ...]
    """The requirement specifiers installed."""
    largest: tuple[tuple[str, int], ...]
    """Top-level entries by unzipped size, largest first (``("kbflow", 812345)``)."""

    def summary(self) -> str:
        """Human-readable sizes, one line per fact."""
        lines = [
            f"artifact: {self.path}",
            f"zipped:   {self.zipped_bytes / 1e6:.1f} MB",
            f"unzipped: {self.unzipped_bytes / 1e6:.1f} MB"
            f" of {LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB allowed",
            f"files:    {self.files}",
        ]
        lines += [f"  {name:<32} {size / 1e6:8.2f} MB" for name, size in self.largest]
        return "\n".join(lines)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lambda_requirements(setup_cfg: Path = _REPO / "setup.cfg") -> list[str]:
    """kbflow's ``install_requires`` (and its ``[aws]`` extra, if any) minus :data:`EXCLUDED`."""
    cfg = _read_cfg(setup_cfg)
    lines = _lines(cfg.get("options", "install_requires", fallback=""))
    lines += _lines(cfg.get("options.extras_require", "aws", fallback=""))
    out = []
    for spec in lines:
        name = re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]
        if _normalise(name) not in EXCLUDED:
            out.append(spec)
    return out


def _read_cfg(setup_cfg: Path) -> configparser.ConfigParser:
    if not setup_cfg.is_file():
        raise PackageError(f"{setup_cfg} not found: package from a kbflow source checkout")
    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg, encoding="utf-8")
    return cfg


def _lines(value: str) -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in value.splitlines() if ln.split("#", 1)[0].strip()]


def run_pip(args: Sequence[str]) -> None:
    """Run ``python -m pip <args>`` with this interpreter.

    Raises:
        PackageError: pip exited non-zero (its output is in the message).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise PackageError(
            f"pip {' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        )


def build_artifact(
    out_dir: Path,
    *,
    pip: PipRunner = run_pip,
    requirements: Sequence[str] | None = None,
    repo: Path = _REPO,
    limit: int = LAMBDA_UNZIPPED_LIMIT,
) -> ArtifactReport:
    """Build ``<out_dir>/kbflow-lambda.zip``.

    Args:
        out_dir: Output folder (a ``staging/`` folder inside it is rebuilt from scratch).
        pip: Runs pip with the given arguments (tests pass a fake).
        requirements: Override :func:`lambda_requirements`.
        repo: The kbflow source checkout.
        limit: Largest unzipped size allowed.

    Returns:
        The report of what was built.

    Raises:
        PackageError: Sources missing or pip failed.
        PackageTooLarge: The unzipped artifact is over ``limit``.
    """
    reqs = (
        list(requirements) if requirements is not None else lambda_requirements(repo / "setup.cfg")
    )
    staging = out_dir / "staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if reqs:
        pip(
            [
                "install",
                *PIP_PLATFORM_ARGS,
                "--target",
                str(staging),
                "--no-compile",
                "--disable-pip-version-check",
                "--quiet",
                *reqs,
            ]
        )
    for name in _PROVIDED_DIRS:
        for path in staging.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    _copy_sources(repo, staging)
    sizes = _sizes(staging)
    unzipped = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    if unzipped > limit:
        raise PackageTooLarge(unzipped, largest)
    artifact = out_dir / ARTIFACT_NAME
    files = _zip(staging, artifact)
    return ArtifactReport(
        artifact, artifact.stat().st_size, unzipped, files, tuple(reqs), tuple(largest)
    )


def _package_dirs(repo: Path) -> list[tuple[str, Path]]:
    """``(package name, source folder)`` for every package listed in setup.cfg."""
    cfg = _read_cfg(repo / "setup.cfg")
    mapping = dict(
        (k.strip(), v.strip())
        for k, _, v in (
            ln.partition("=") for ln in _lines(cfg.get("options", "package_dir", fallback=""))
        )
    )
    out = []
    for package in _lines(cfg.get("options", "packages", fallback="")):
        parts = package.split(".")
        for i in range(len(parts), 0, -1):  # the longest mapped prefix decides the folder
            prefix = ".".join(parts[:i])
            if prefix in mapping:
                out.append((package, repo / mapping[prefix] / Path(*parts[i:])))
                break
    return out


def _copy_sources(repo: Path, staging: Path) -> None:
    for package, folder in _package_dirs(repo):
        if not folder.is_dir():
            raise PackageError(f"package {package}: folder {folder} is missing")
        target = staging / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.is_file() and item.suffix != ".pyc":
                shutil.copy2(item, target / item.name)
        for sub in folder.iterdir():  # data folders that are not packages (definitions/schemas)
            if sub.is_dir() and sub.name != "__pycache__" and not (sub / "__init__.py").exists():
                shutil.copytree(
                    sub,
                    target / sub.name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )


def _sizes(staging: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for root, _, files in os.walk(staging):
        for name in files:
            path = Path(root) / name
            top = path.relative_to(staging).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def _zip(staging: Path, artifact: Path) -> int:
    paths = sorted(p for p in staging.rglob("*") if p.is_file())
    tmp = artifact.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in paths:
            info = zipfile.ZipInfo(path.relative_to(staging).as_posix(), date_time=_ZIP_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(artifact)
    return len(paths)
