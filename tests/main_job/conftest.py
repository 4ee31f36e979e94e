"""Fixtures for the main-job tests (helpers in mainjob_helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mainjob_helpers import ingest_json, write_docs


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """One ingested tiny folder shared by a module's read-only tests: (source, store, report)."""
    root = tmp_path_factory.mktemp("ingested")
    src = write_docs(root / "docs")
    store = root / "store"
    return src, store, ingest_json(src, store)
