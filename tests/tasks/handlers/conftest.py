"""Fixtures for handler tests: a local adapter bundle over tmp_path, a fake Lambda context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from handler_fakes import FakeLambdaContext, HashEmbedder
from kbflow.tasks.adapters.config import Adapters, local_adapters, use_adapters
from kbflow.tasks.adapters.index import LocalIndex
from kbflow.tasks.observability import reset_local_metrics


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


@pytest.fixture
def adapters(tmp_path: Path, source_dir: Path) -> Iterator[Adapters]:
    reset_local_metrics()
    bundle = local_adapters(
        tmp_path / "store",
        file_roots=[source_dir],
        embedder_=HashEmbedder(),
        index_=LocalIndex(tmp_path / "store" / "index.sqlite3"),
        clock=lambda: datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        sleep=lambda s: None,
    )
    with use_adapters(bundle):
        yield bundle
    bundle.index.close()
