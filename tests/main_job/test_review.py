"""`kbflow review`: documents with PII wait for a reviewer; decisions go through task tokens.

The decisions are sent in-process here (one Host runs the ingestion and keeps the waiting
human-review executions); `review list/show` read the store from a fresh process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kbflow._host import Host
from kbflow._mainjob import run_ingestion
from kbflow._review_desk import decide, pending_reviews
from kbflow.errors import ValidationError
from mainjob_helpers import index_snapshot, kbflow, write_docs

PII_DOCS = {
    "letters/complaint.txt": "Dear bank, my card was charged twice for the overdraft fee. "
    "Reach me at margaret.ellison@example.com or +44 20 7946 0958. Regards, Margaret.\n",
    "letters/closure.txt": "Please close my savings account and write to jon.doe@example.org "
    "when the transfer of the remaining balance has been completed.\n",
    "letters/address.txt": "New correspondence address for the account: reach ann.lee@example.net "
    "about the change of statement delivery preferences.\n",
    "policies/plain.txt": "Branch staff verify identity documents before opening accounts.\n",
}


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[Host, dict[str, Any]]]:
    src = write_docs(tmp_path / "docs", PII_DOCS)
    # In memory: the waiting executions live in this host (the durable store is not needed).
    with Host(tmp_path / "store", file_roots=[src], durable=False) as h:
        report = run_ingestion(h, src, timeout=120)
        # Review executions start as documents finish; each stores its request when its
        # Request Review task runs, which may be just after the ingestion ends.
        deadline = time.monotonic() + 30
        while len(pending_reviews(h)) < report.review and time.monotonic() < deadline:
            time.sleep(0.05)
        yield h, report.to_json()


def _review_for(h: Host, name: str) -> dict[str, Any]:
    [found] = [r for r in pending_reviews(h) if r["item"]["key"].endswith(name)]
    return found


def test_pii_documents_wait_for_review(host: tuple[Host, dict[str, Any]]) -> None:
    h, report = host
    assert report["review"] == 3
    pending = pending_reviews(h)
    assert len(pending) == 3
    assert all("task_token" not in r for r in pending)
    assert {r["status"] for r in pending} == {"pending"}
    assert all("pii" in r["reason"] for r in pending)


def test_approve_resumes_the_execution_and_is_audited(host: tuple[Host, dict[str, Any]]) -> None:
    h, _ = host
    review = _review_for(h, "complaint.txt")
    outcome = decide(h, review["review_id"], "approve", reviewer="alice", comment="checked",
                     wait_seconds=30)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output["decision"] == "approve" and outcome.output["reviewer"] == "alice"
    actions = [(a["action"], a["actor"]) for a in outcome.audit]
    assert ("approve", "alice") in actions
    via = [a["details"].get("via") for a in outcome.audit if a["actor"] == "alice"]
    assert "kbflow review" in via
    assert h.adapters.reviews.get(review["review_id"]).status == "decided"
    assert len(pending_reviews(h)) == 2
    with pytest.raises(ValidationError, match="already decided"):
        decide(h, review["review_id"], "reject", reviewer="bob")


def test_reject_removes_and_edit_reindexes(host: tuple[Host, dict[str, Any]]) -> None:
    h, _ = host
    store = h.store
    rejected = decide(h, _review_for(h, "closure.txt")["review_id"], "reject",
                      reviewer="bob", wait_seconds=30)
    assert rejected.status == "SUCCEEDED"
    assert not any(k.endswith("closure.txt") for k, _, _ in index_snapshot(store))
    edited = decide(h, _review_for(h, "address.txt")["review_id"][:8], "edit", reviewer="carol",
                    edits={"text": "Statement delivery moves to paperless."}, wait_seconds=30)
    assert edited.status == "SUCCEEDED"
    texts = [t for k, _, t in index_snapshot(store) if k.endswith("address.txt")]
    assert texts == ["Statement delivery moves to paperless."], (edited, rejected)


def test_a_decision_needs_a_reviewer_and_a_known_review(
    host: tuple[Host, dict[str, Any]]
) -> None:
    h, _ = host
    review = _review_for(h, "complaint.txt")
    with pytest.raises(ValidationError, match="reviewer"):
        decide(h, review["review_id"], "approve", reviewer="  ")
    with pytest.raises(ValidationError, match="does not exist"):
        decide(h, "0000000000000000", "approve", reviewer="alice")
    with pytest.raises(ValidationError, match="edits.text"):
        decide(h, review["review_id"], "edit", reviewer="alice")
    assert len(pending_reviews(h)) == 3  # nothing was sent


def test_cli_list_and_show_read_the_store(host: tuple[Host, dict[str, Any]]) -> None:
    h, _ = host
    review = _review_for(h, "complaint.txt")
    decide(h, review["review_id"], "approve", reviewer="alice", wait_seconds=30)
    listed = kbflow("review", "list", "--store", str(h.store), "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2
    shown = kbflow("review", "show", review["review_id"], "--store", str(h.store), "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["review"]["status"] == "decided" and "task_token" not in data["review"]
    assert ("approve", "alice") in [(a["action"], a["actor"]) for a in data["audit"]]
    human = kbflow("review", "show", review["review_id"], "--store", str(h.store))
    assert "audit" in human.stdout and "alice" in human.stdout


def test_cli_decision_requires_reviewer(tmp_path: Path) -> None:
    result = kbflow("review", "approve", "abc", "--store", str(tmp_path))
    assert result.returncode == 2 and "--reviewer" in result.stderr


def test_review_across_processes_with_the_durable_store(tmp_path: Path) -> None:
    pytest.importorskip("kbflow.runtime.durable")
    src = write_docs(tmp_path / "docs", {"complaint.txt": PII_DOCS["letters/complaint.txt"]})
    store = tmp_path / "store"
    ingest = kbflow("ingest", str(src), "--store", str(store), "--json")
    assert ingest.returncode == 0, ingest.stderr
    [pending] = json.loads(kbflow("review", "list", "--store", str(store), "--json").stdout)
    approved = kbflow("review", "approve", pending["review_id"][:8], "--reviewer", "alice",
                      "--comment", "checked", "--store", str(store), "--json")
    assert approved.returncode == 0, approved.stderr
    outcome = json.loads(approved.stdout)
    assert outcome["status"] == "SUCCEEDED" and outcome["output"]["decision"] == "approve"
    assert ("approve", "alice") in [(a["action"], a["actor"]) for a in outcome["audit"]]
    assert json.loads(kbflow("review", "list", "--store", str(store), "--json").stdout) == []
