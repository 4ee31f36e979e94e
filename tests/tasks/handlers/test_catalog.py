"""The task-function catalog: handlers, schemas, placeholders, agreement with contracts/flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kbflow.errors import ConfigurationError
from kbflow.tasks import catalog
from kbflow.tasks.handler import load_schema

ROOT = Path(__file__).resolve().parents[3]


def test_names_are_unique_and_placeholders_well_formed() -> None:
    names = [fn.name for fn in catalog.FUNCTIONS]
    assert len(names) == len(set(names)) == 24
    for fn in catalog.FUNCTIONS:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", fn.name)
        assert fn.placeholder == f"{fn.name}FunctionArn"
        assert fn.execution in ("cpu", "io")
        assert 128 <= fn.memory_mb <= 10240 and 1 <= fn.timeout_s <= 900
        assert bool(fn.permissions) != (fn.name in {"PlanIngestion", "SummariseReindex"}), fn.name


@pytest.mark.parametrize("fn", catalog.FUNCTIONS, ids=lambda f: f.name)
def test_every_handler_resolves_and_has_a_schema(fn: catalog.TaskFunction) -> None:
    handler = catalog.resolve_handler(fn.handler)
    assert getattr(handler, "task_name", None) == fn.name
    load_schema(fn.name)  # compiles
    if fn.wait_for_task_token:
        schema = json.loads(
            (ROOT / "definitions/schemas/tasks" / f"{fn.name}.input.json").read_text()
        )
        assert "task_token" in schema["required"]


def test_catalog_matches_contracts_table() -> None:
    text = (ROOT / "docs" / "contracts.md").read_text()
    rows = dict(re.findall(r"^\| (\w+) \| `(\w+:\w+)`", text, re.MULTILINE))
    assert rows == {
        fn.name: fn.handler.removeprefix("kbflow.tasks.handlers.") for fn in catalog.FUNCTIONS
    }


def test_local_arns_and_substitutions() -> None:
    assert catalog.local_function_arn("FetchDocument") == (
        "arn:aws:lambda:us-east-1:123456789012:function:kbflow-FetchDocument"
    )
    subs = catalog.substitutions(
        region="eu-west-1", account="111122223333", prefix="prod-", extra={"WorkBucket": "b"}
    )
    assert (
        subs["ExtractPdfFunctionArn"]
        == "arn:aws:lambda:eu-west-1:111122223333:function:prod-ExtractPdf"
    )
    assert subs["HumanReviewStateMachineArn"] == (
        "arn:aws:states:eu-west-1:111122223333:stateMachine:prod-human-review"
    )
    assert subs["WorkBucket"] == "b" and subs["WorkBucketName"] == "work" and len(subs) == 27


def test_lookup_by_function_name_or_arn() -> None:
    assert catalog.by_function_name("kbflow-CrawlSite").name == "CrawlSite"
    assert (
        catalog.by_function_name(catalog.local_function_arn("CrawlSite") + ":$LATEST").name
        == "CrawlSite"
    )
    with pytest.raises(ConfigurationError):
        catalog.by_function_name("other-CrawlSite")
    with pytest.raises(ConfigurationError):
        catalog.get("NoSuchTask")


@pytest.mark.parametrize(
    "path",
    [
        "nocolon",
        "kbflow.tasks.handlers.ingestion:",
        "a b:c",
        "kbflow.no_such_module:x",
        "kbflow.tasks.handlers.ingestion:nope",
        "kbflow.tasks.handlers.ingestion:__all__",
    ],
)
def test_resolve_handler_rejects_bad_paths(path: str) -> None:
    with pytest.raises(ConfigurationError):
        catalog.resolve_handler(path)


def test_definitions_only_use_known_placeholders() -> None:
    files = sorted((ROOT / "definitions").glob("*.asl.json"))
    if not files:
        pytest.skip("definitions not built yet")
    known = set(catalog.substitutions())
    for path in files:
        used = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
        assert used <= known, f"{path.name}: unknown placeholders {sorted(used - known)}"


def _grants(fn: catalog.TaskFunction, action: str, kind: catalog.ResourceKind) -> bool:
    return any(action in p.actions and p.resource is kind for p in fn.permissions)


@pytest.mark.parametrize("fn", catalog.FUNCTIONS, ids=lambda f: f.name)
def test_permissions_cover_what_the_handler_touches(fn: catalog.TaskFunction) -> None:
    kind = catalog.ResourceKind
    reads_source = fn.name in {"FetchDocument", "QuarantineDocument", "ApplyDecision"} or (
        fn.name.startswith("Extract")
    )
    assert _grants(fn, "s3:GetObject", kind.SOURCE_BUCKET) == reads_source
    if fn.wait_for_task_token:
        assert _grants(fn, "sns:Publish", kind.NOTIFY_TOPIC)
        assert _grants(fn, "dynamodb:PutItem", kind.REVIEWS_TABLE)
    if fn.name in {"IndexDocument", "ApplyDecision"}:
        assert _grants(fn, "es:ESHttpPost", kind.SEARCH_INDEX)
