"""cfn-lint reports nothing on the generated stack: no errors, warnings or informational notes."""

from __future__ import annotations

import copy

import pytest
from cfnlint.api import ManualArgs, lint
from kbflow.deploy.template import render_yaml

# Lint in a few regions: resource availability and ARN checks are per region.
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1"]


def _lint(text: str) -> list[str]:
    config = ManualArgs(regions=REGIONS, include_checks=["I"])
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint(text, config=config)]


@pytest.mark.slow
def test_cfn_lint_reports_nothing(template_text):
    assert _lint(template_text) == []


@pytest.mark.slow
def test_cfn_lint_is_not_blind(template):
    """The same linter flags a deliberately broken copy, so a clean result means something."""
    broken = copy.deepcopy(template)
    broken["Resources"]["FetchDocumentFunction"]["Properties"]["Runtime"] = "python2.7"
    del broken["Resources"]["WorkBucket"]["DeletionPolicy"]
    found = _lint(render_yaml(broken))
    assert any(f.startswith(("E", "W")) for f in found), found
    assert any("DeletionPolicy" in f for f in found), found


@pytest.mark.slow
def test_suppressed_check_hides_only_the_succeed_query_language_gap(template):
    """Without the suppression, cfn-lint reports only E3601 on Succeed.QueryLanguage."""
    bare = copy.deepcopy(template)
    suppressed = [lid for lid, r in bare["Resources"].items() if r.pop("Metadata", None)]
    found = _lint(render_yaml(bare))
    if not suppressed:
        assert found == []
        return
    assert found and all(f.startswith("E3601") and "QueryLanguage" in f for f in found), found
