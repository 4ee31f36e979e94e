"""Fixtures for the pure document-processing functions (kbflow.tasks.core)."""

from __future__ import annotations

import pytest
from core_fakes import FakeOcr
from kbflow.tasks.core.ocr import RapidOcrEngine, default_engine
from kbflow.tasks.core.samples import SampleFile, sample_files


@pytest.fixture()
def fake_ocr() -> FakeOcr:
    return FakeOcr()


@pytest.fixture(scope="session")
def ocr_engine() -> RapidOcrEngine:
    """The real, process-wide RapidOCR engine (models from the wheel)."""
    return default_engine()


@pytest.fixture(scope="session")
def corpus() -> dict[str, SampleFile]:
    """The sample corpus, built once per session, by relative path."""
    return {f.path: f for f in sample_files()}
