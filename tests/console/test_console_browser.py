"""The console in a real browser: a human-review execution, its graph, the inbox, approval.

Playwright drives Debian's Chromium (``apt-get install chromium``; never ``playwright
install``). Screenshots go to a temporary folder, and the execution page is copied to
``docs/img/console.png`` for the README only when ``KBFLOW_UPDATE_SCREENSHOT=1`` (a test run
must not change the checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from console_helpers import Served, serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "console.png"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium "
        "(apt-get install -y chromium; scripts/test.sh installs it)",
    ),
    pytest.mark.slow,
]

MAP_FLOW = {
    "StartAt": "Fan out",
    "States": {
        "Fan out": {
            "Type": "Map",
            "ItemsPath": "$.docs",
            "ResultPath": "$.sizes",
            "ItemProcessor": {
                "StartAt": "Size?",
                "States": {
                    "Size?": {
                        "Type": "Choice",
                        "Choices": [
                            {"Variable": "$.pages", "NumericGreaterThan": 10, "Next": "Large"}
                        ],
                        "Default": "Small",
                    },
                    "Large": {"Type": "Pass", "Result": "large", "End": True},
                    "Small": {"Type": "Pass", "Result": "small", "End": True},
                },
            },
            "Next": "Checks",
        },
        "Checks": {
            "Type": "Parallel",
            "ResultPath": "$.checks",
            "Branches": [
                {
                    "StartAt": "Count",
                    "States": {
                        "Count": {
                            "Type": "Pass",
                            "Parameters": {"n.$": "States.ArrayLength($.docs)"},
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "Audit",
                    "States": {
                        "Audit": {
                            "Type": "Fail",
                            "Error": "Audit.Missing",
                            "Cause": "no audit trail",
                        }
                    },
                },
            ],
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record gap"}
            ],
            "Next": "Done",
        },
        "Record gap": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Any]]:
    """The console over an engine with kbflow's flows and their local task functions."""
    from kbflow._local import build_local

    setup = build_local(tmp_path_factory.mktemp("store"))
    try:
        for served in serve(setup.engine):
            yield served, setup
    finally:
        setup.engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _wait_pending(served: Served, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not served.backend.pending_callbacks():
        if time.monotonic() > deadline:
            raise AssertionError("the review never became pending")
        time.sleep(0.05)


def _status(page: Any, state: str) -> str:
    cls = page.locator(f'g.node[data-state="{state}"]').get_attribute("class") or ""
    return next((c[3:] for c in cls.split() if c.startswith("st-")), "")


def test_review_approved_from_the_inbox(
    console: tuple[Served, Any], browser: Any, tmp_path: Path
) -> None:
    served, setup = console
    sfn = served.client()
    run = sfn.start_execution(
        stateMachineArn=setup.workflows["human-review"],
        name="review-handbook",
        input=json.dumps(
            {"item": {"id": "doc-42", "key": "handbook/benefits.pdf"}, "reason": "pii"}
        ),
    )["executionArn"]
    _wait_pending(served)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{served.url}/#/execution/{quote(run, safe='')}")
    page.wait_for_selector('g.node[data-state="Request Human Review"]')
    assert _status(page, "Validate Review Request") == "succeeded"
    assert _status(page, "Prepare Review Request") == "succeeded"
    assert _status(page, "Request Human Review") == "running"
    assert _status(page, "Apply Approval") == "notreached"
    assert page.locator("#execution-status").inner_text() == "running"
    assert page.locator("#cost-standard").inner_text().startswith("Standard cost\n$")
    page.locator('g.node[data-state="Prepare Review Request"]').click()
    page.get_by_role("tab", name="Output").click()
    assert '"deadline_seconds": 86400' in page.locator("#state-details pre").inner_text()
    page.screenshot(path=str(shots / "execution-waiting.png"))

    inbox = browser.new_page(viewport={"width": 1400, "height": 900})
    inbox.on("pageerror", lambda exc: errors.append(str(exc)))
    inbox.goto(f"{served.url}/#/reviews")
    card = inbox.locator(".review", has_text="doc-42")
    card.wait_for()
    assert "handbook/benefits.pdf" in card.inner_text() and "pii" in card.inner_text()
    inbox.screenshot(path=str(shots / "review-inbox.png"))
    card.get_by_label("Reviewer").fill("ana@example.com")
    card.get_by_label("Comment").fill("Checked: the e-mail addresses are public")
    card.get_by_role("button", name="Approve").click()
    inbox.locator(".toast", has_text="Approved").wait_for()

    # The execution page updates by itself (server-sent events), no reload.
    page.locator("#execution-status", has_text="succeeded").wait_for(timeout=30_000)
    assert _status(page, "Request Human Review") == "succeeded"
    assert _status(page, "Apply Approval") == "succeeded"
    assert _status(page, "Apply Rejection") == "notreached"
    assert page.locator("table.events td.type", has_text="ExecutionSucceeded").count() == 1
    page.locator('g.node[data-state="Request Human Review"]').click()
    page.get_by_role("tab", name="Output").click()
    assert '"decision": "approve"' in page.locator("#state-details pre").inner_text()
    page.locator("#review-count.hidden").wait_for(state="attached")  # the inbox is empty
    page.screenshot(path=str(shots / "execution-succeeded.png"))
    output = json.loads(sfn.describe_execution(executionArn=run)["output"])
    assert (output["decision"], output["reviewer"]) == ("approve", "ana@example.com")
    assert output["applied"]["applied"] == "kept"
    assert not errors
    if os.environ.get("KBFLOW_UPDATE_SCREENSHOT") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots / "execution-succeeded.png", DOCS_IMG)


def test_edit_from_the_inbox(console: tuple[Served, Any], browser: Any) -> None:
    served, setup = console
    sfn = served.client()
    run = sfn.start_execution(
        stateMachineArn=setup.workflows["human-review"],
        name="review-typo",
        input=json.dumps({"item": {"id": "doc-7", "key": "faq.html"}, "reason": "ocr"}),
    )["executionArn"]
    _wait_pending(served)
    inbox = browser.new_page(viewport={"width": 1280, "height": 720})
    inbox.goto(f"{served.url}/#/reviews")
    card = inbox.locator(".review", has_text="doc-7")
    card.get_by_label("Reviewer").fill("bo@example.com")
    card.get_by_role("button", name="Edit…").click()
    card.get_by_label("Edited text").fill("The corrected FAQ text")
    card.get_by_role("button", name="Send edit").click()
    inbox.locator(".toast", has_text="Edit sent").wait_for()
    assert served.engine.wait(run, timeout=30)["Status"] == "SUCCEEDED"
    output = json.loads(sfn.describe_execution(executionArn=run)["output"])
    assert output["decision"] == "edit" and output["reviewer"] == "bo@example.com"


def test_map_parallel_containers_and_filters(
    console: tuple[Served, Any], browser: Any, tmp_path: Path
) -> None:
    served, _ = console
    sfn = served.client()
    arn = sfn.create_state_machine(
        name="triage", definition=json.dumps(MAP_FLOW), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    run = sfn.start_execution(
        stateMachineArn=arn,
        name="triage-1",
        input=json.dumps({"docs": [{"pages": 3}, {"pages": 40}, {"pages": 12}]}),
    )["executionArn"]
    served.engine.wait(run, timeout=30)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{served.url}/#/")
    page.get_by_label("Search executions").fill("triage")
    page.locator("a", has_text="triage-1").wait_for()
    page.locator('button[data-status="FAILED"]').click()
    page.locator("td.empty").wait_for()
    page.locator('button[data-status="SUCCEEDED"]').click()
    page.locator("a", has_text="triage-1").click()
    page.wait_for_selector('g.node[data-state="Size?"]')
    labels = page.locator(".container text").all_text_contents()
    assert any("Fan out · Map · 3 iterations · 3 ✓" in t for t in labels), labels
    assert any("Checks · Parallel · 2 branches" in t for t in labels), labels
    assert _status(page, "Checks") == "caught"
    assert _status(page, "Audit") == "failed"
    assert _status(page, "Large") == "succeeded" and _status(page, "Record gap") == "succeeded"
    assert "×2" in (page.locator('g.node[data-state="Large"]').text_content() or "")
    page.locator('g.node[data-state="Audit"]').click()
    page.get_by_role("tab", name="Error").click()
    assert "no audit trail" in page.locator("#state-details").inner_text()
    page.screenshot(path=str(tmp_path / "map-parallel.png"))
    page.locator(".crumbs a", has_text="triage").click()  # the state machine's own page
    page.wait_for_selector('g.node[data-state="Record gap"]')
    assert {_status(page, s) for s in ("Fan out", "Checks", "Audit")} == {"notreached"}
    page.locator('g.node[data-state="Audit"]').click()
    assert '"Error": "Audit.Missing"' in page.locator(".details pre").inner_text()


def test_token_protected_console(browser: Any) -> None:
    from kbflow.runtime.api import AppConfig
    from kbflow.runtime.engine import Engine

    token = "browser-token-0123456789abcdef"
    engine = Engine()
    engine.create_state_machine(
        "guarded", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    try:
        for served in serve(engine, AppConfig(auth_token=token)):
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            refused = page.goto(f"{served.url}/")
            assert refused is not None and refused.status == 401
            page.goto(f"{served.url}/?token={token}#/machines")
            page.locator("a", has_text="guarded").wait_for()
            assert "token" not in page.url  # moved into an HttpOnly cookie
            page.locator("button", has_text="Start execution").click()
            page.get_by_label("Execution name").fill("from-the-browser")
            page.locator("button.primary", has_text="Start").click()
            page.locator("#execution-status", has_text="succeeded").wait_for()
            assert [
                e["name"]
                for e in engine.list_executions(engine.list_state_machines()[0]["stateMachineArn"])
            ] == ["from-the-browser"]
    finally:
        engine.close()
