"""Fixtures for the deploy tests: the generated stack, built once per session."""

from __future__ import annotations

from typing import Any

import pytest
from kbflow.deploy.template import build_template, render_yaml


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The stack generated from the committed definitions and the task catalog."""
    return build_template(stage="test")


@pytest.fixture(scope="session")
def template_text(template: dict[str, Any]) -> str:
    """The same stack as YAML."""
    return render_yaml(template)
