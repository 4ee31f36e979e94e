"""The wiki re-index flow: one changed page (event) or the whole site (full).

Input is either an EventBridge-shaped change event::

    {"detail-type": "Page Updated",
     "detail": {"page": "https://wiki/...", "action": "created|updated|deleted"}}

or a full re-index request ``{"mode": "full", "site": "https://wiki/"}``. Shape::

    Route Reindex Request
      created/updated -> Fetch Page -> Page Changed? -> Transform Page HTML -> Clean Page Text
                         -> Redact Page PII -> Chunk Page Text -> Embed Page Chunks -> Index Page
                         -> Record Page In Manifest -> Page Reindexed
      deleted         -> Delete Page From Index -> Page Deleted
      full            -> Crawl Site -> Diff Against Manifest
                         -> Upsert Changed Pages (Distributed Map, same chain per page)
                         -> Delete Vanished Pages (Distributed Map) -> Summarise Reindex
                         -> Reindex Complete
      anything else   -> Invalid Reindex Request

In full mode the two change lists come from ``DiffManifest`` (``upserts: [{url}]``,
``deletes: [{doc_id, key}]``, see docs/contracts.md) and two Distributed Maps fan out over
them, one child execution per page. The children are **EXPRESS**: one page is one short,
idempotent chain (fetch, transform, embed, upsert by document id), well under Express's
5-minute cap, and Express is far cheaper per page than Standard. A page that fails becomes a
``failed`` result (counted by the summary) instead of failing its neighbours, and
``MaxConcurrency`` is kept low to be polite to the wiki server. The lists travel in the state
payload (256 KiB: roughly 2,000 changed URLs per run); for a larger wiki, ``DiffManifest``
would write them to the work store and the maps would read them with an ``ItemReader``.
"""

from __future__ import annotations

from typing import Any, Final

from kbflow.workflows._tasks import StepSpec, catch_all, chain, lambda_task, payload_step
from kbflow.workflows.asl import Choice, Condition, Fail, Json, Pass, Succeed, Task, state_machine
from kbflow.workflows.asl_map import Map, ProcessorConfig
from stepfunctions.steps.choice_rule import ChoiceRule

__all__ = ["CHILD_EXECUTION_TYPE", "INPUT_SCHEMA", "build"]

CHILD_EXECUTION_TYPE: Final = "EXPRESS"
PAGES_IN_FLIGHT: Final = 10
TOLERATED_FAILURE_PERCENTAGE: Final = 10

INPUT_SCHEMA: Final[dict[str, Json]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://kbflow.dev/schemas/reindex.input.json",
    "title": "kbflow reindex input",
    "oneOf": [
        {
            "title": "page change event (EventBridge shape)",
            "type": "object",
            "required": ["detail"],
            "properties": {
                "detail-type": {"type": "string"},
                "source": {"type": "string"},
                "detail": {
                    "type": "object",
                    "required": ["page", "action"],
                    "properties": {
                        "page": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Page URL or wiki page id",
                        },
                        "action": {"enum": ["created", "updated", "deleted"]},
                    },
                },
            },
            "not": {"required": ["mode"]},
        },
        {
            "title": "full re-index",
            "type": "object",
            "required": ["mode", "site"],
            "additionalProperties": False,
            "properties": {
                "mode": {"const": "full"},
                "site": {"type": "string", "pattern": "^https?://"},
                "options": {"type": "object"},
            },
        },
    ],
}
"""JSON Schema (draft 2020-12) of the flow input."""


_PAGE_STEPS: Final[tuple[StepSpec, ...]] = (
    ("Transform {} HTML", "ExtractHtml", 120, "Main text of the page, without wiki chrome"),
    ("Clean {} Text", "CleanText", 60, "Normalise whitespace and encodings"),
    ("Redact {} PII", "RedactPii", 120, "Find personal data and redact it"),
    ("Chunk {} Text", "ChunkText", 120, "Split into overlapping chunks"),
    ("Embed {} Chunks", "EmbedChunks", 600, "Compute an embedding per chunk"),
    (
        "Index {}",
        "IndexDocument",
        300,
        "Upsert chunks by document id and remove the page's stale chunks",
    ),
    (
        "Record {} In Manifest",
        "RecordManifest",
        30,
        "Record fingerprint and status for the next diff",
    ),
)
"""The per-page chain after the fetch; ``{}`` is the scope ("Page" or "Site Page")."""


def _page_chain(
    scope: str,
    *,
    catch_to: Task | Pass | Fail,
    done: Pass | Succeed,
    unchanged: Pass | Succeed,
    payload: Json,
) -> Task:
    """fetch -> changed? -> transform -> clean -> PII -> chunk -> embed -> index -> manifest.

    ``scope`` ("Page" or "Site Page") keeps state names unique between the single-page path
    and the full-mode child workflow.
    """
    to_error = catch_all(catch_to)
    step = payload_step(to_error)
    specs = [
        (name.format(scope), fn, timeout, comment) for name, fn, timeout, comment in _PAGE_STEPS
    ]
    transform = chain([step(spec) for spec in specs], done)
    changed = Choice(
        f"{scope} Changed?",
        comment="Same fingerprint as in the manifest: nothing to do",
        choices=[(ChoiceRule.StringEquals("$.status", "unchanged"), unchanged)],
        default=transform,
    )
    fetch = lambda_task(
        f"Fetch {scope}",
        function="FetchPage",
        timeout_seconds=120,
        comment="Download the page to the work store and fingerprint it",
        payload=payload,
        output_path="$.Payload",
        catch=to_error,
        fetches=True,
    )
    fetch.next(changed)
    return fetch


def _page_result(state_id: str, status: str, comment: str, extra: str = "") -> Pass:
    """A small per-page result (JSONata leaves out fields that are undefined)."""
    return Pass(
        state_id,
        query_language="JSONata",
        comment=comment,
        output="{% {'url': $exists($states.input.url) ? $states.input.url : $states.input.key, "
        f"'doc_id': $states.input.doc_id, 'status': '{status}'{extra}}} %}}",
    )


def _changes_map(
    state_id: str,
    *,
    items_path: str,
    item_selector: dict[str, Json],
    comment: str,
    processor: Task,
    result_path: str,
    failed: Fail,
) -> Map:
    return Map(
        state_id,
        comment=comment,
        processor_config=ProcessorConfig(mode="DISTRIBUTED", execution_type=CHILD_EXECUTION_TYPE),
        items_path=items_path,
        item_selector=item_selector,
        max_concurrency=PAGES_IN_FLIGHT,
        tolerated_failure_percentage=TOLERATED_FAILURE_PERCENTAGE,
        result_path=result_path,
        processor=processor,
        catch=catch_all(failed),
    )


_FAILED_EXTRA = (
    ", 'error': $states.input.error.Error, "
    "'cause': $substring($string($states.input.error.Cause), 0, 1000)"
)


def _upsert_map(failed: Fail) -> Map:
    """One EXPRESS child per new or changed page: the page chain, ending in a small result."""
    page_failed = _page_result(
        "Site Page Failed", "failed", "Per-page result of a page that failed", _FAILED_EXTRA
    )
    child = _page_chain(
        "Site Page",
        catch_to=page_failed,
        payload="$",
        done=_page_result("Site Page Reindexed", "indexed", "Per-page result: re-indexed"),
        unchanged=_page_result("Site Page Unchanged", "unchanged", "Per-page result: unchanged"),
    )
    return _changes_map(
        "Upsert Changed Pages",
        items_path="$.diff.upserts",
        result_path="$.upserted",
        item_selector={"url.$": "$$.Map.Item.Value.url", "run_id.$": "$.crawl.run_id"},
        comment="Re-index every new or changed page, one child execution per page",
        processor=child,
        failed=failed,
    )


def _delete_map(failed: Fail) -> Map:
    """One EXPRESS child per vanished page: delete from the index, then a small result."""
    delete_failed = _page_result(
        "Vanished Page Failed", "failed", "Per-page result of a deletion that failed", _FAILED_EXTRA
    )
    child = lambda_task(
        "Delete Vanished Page",
        function="DeleteFromIndex",
        timeout_seconds=120,
        comment="Remove the page's chunks from the index and mark it deleted in the manifest",
        output_path="$.Payload",
        catch=catch_all(delete_failed),
    )
    child.next(_page_result("Vanished Page Deleted", "deleted", "Per-page result: deleted"))
    return _changes_map(
        "Delete Vanished Pages",
        items_path="$.diff.deletes",
        result_path="$.deleted",
        item_selector={"doc_id.$": "$$.Map.Item.Value.doc_id", "key.$": "$$.Map.Item.Value.key"},
        comment="Remove every vanished page from the index",
        processor=child,
        failed=failed,
    )


def _crawl_and_diff(failed: Fail) -> tuple[Task, Task]:
    crawl = lambda_task(
        "Crawl Site",
        function="CrawlSite",
        timeout_seconds=900,
        payload="$",
        comment="List every page of the site; the URL list is written to the work store",
        result_selector={
            "site.$": "$.Payload.site",
            "run_id.$": "$.Payload.run_id",
            "pages.$": "$.Payload.pages",
            "urls_key.$": "$.Payload.urls_key",
        },
        result_path="$.crawl",
        catch=catch_all(failed),
        fetches=True,
    )
    diff = lambda_task(
        "Diff Against Manifest",
        function="DiffManifest",
        timeout_seconds=120,
        comment="New, changed and vanished pages compared with the manifest",
        payload={
            "site.$": "$.crawl.site",
            "run_id.$": "$.crawl.run_id",
            "urls_key.$": "$.crawl.urls_key",
            "execution_arn.$": "$$.Execution.Id",
        },
        result_selector={
            "new.$": "$.Payload.new",
            "existing.$": "$.Payload.existing",
            "vanished.$": "$.Payload.vanished",
            "upserts.$": "$.Payload.upserts",
            "deletes.$": "$.Payload.deletes",
        },
        result_path="$.diff",
        catch=catch_all(failed),
    )
    crawl.next(diff)
    return crawl, diff


def _full_mode(failed: Fail) -> Task:
    """Crawl -> diff -> upsert map -> delete map -> summary."""
    summarise = lambda_task(
        "Summarise Reindex",
        function="SummariseReindex",
        timeout_seconds=60,
        comment="Count upserted, unchanged, deleted and failed pages from the map results",
        payload={
            "run_id.$": "$.crawl.run_id",
            "site.$": "$.crawl.site",
            "upserted.$": "$.upserted",
            "deleted.$": "$.deleted",
            "execution_arn.$": "$$.Execution.Id",
        },
        output_path="$.Payload",
        catch=catch_all(failed),
    )
    summarise.next(Succeed("Reindex Complete", comment="Output: counts by action and status"))
    crawl, diff = _crawl_and_diff(failed)
    diff.next(_upsert_map(failed)).next(_delete_map(failed)).next(summarise)
    return crawl


def _event_mode(failed: Fail) -> tuple[Task, Task]:
    """(upsert chain, delete task) for one page event; any failure fails the run."""
    payload = {
        "url.$": "$.detail.page",
        "run_id.$": "$$.Execution.Name",
        "execution_arn.$": "$$.Execution.Id",
    }
    upsert = _page_chain(
        "Page",
        catch_to=failed,
        payload=payload,
        done=Succeed("Page Reindexed", comment="The page's chunks are current in the index"),
        unchanged=Succeed("Page Unchanged", comment="Same content as already indexed"),
    )
    delete = lambda_task(
        "Delete Page From Index",
        function="DeleteFromIndex",
        timeout_seconds=120,
        comment="Remove the page's chunks from the index and mark it deleted in the manifest",
        payload=payload,
        output_path="$.Payload",
        catch=catch_all(failed),
    )
    delete.next(Succeed("Page Deleted", comment="The page is no longer in the index"))
    return upsert, delete


_IS_FULL: Final = "{% $states.input.mode = 'full' and $type($states.input.site) = 'string' %}"
_ACTION: Final = "$exists($states.input.detail.page) and $states.input.detail.action"


def build() -> dict[str, Any]:
    """Compile the reindex flow.

    Returns:
        The ASL definition as a dict.
    """
    failed = Fail(
        "Reindex Failed",
        comment="A page could not be re-indexed or the crawl failed",
        error_path="$.error.Error",
        cause_path="$.error.Cause",
    )
    upsert, delete = _event_mode(failed)
    invalid = Fail(
        "Invalid Reindex Request",
        comment="Neither a page event nor a full request",
        error="Kbflow.InvalidInput",
        cause="expected {detail: {page, action: created|updated|deleted}} "
        "or {mode: full, site: URL}",
    )
    route = Choice(
        "Route Reindex Request",
        query_language="JSONata",
        comment="Full re-index, or one page event: created/updated upsert, deleted removes",
        choices=[
            (Condition(_IS_FULL), _full_mode(failed)),
            (Condition(f"{{% {_ACTION} = 'deleted' %}}"), delete),
            (Condition(f"{{% {_ACTION} in ['created', 'updated'] %}}"), upsert),
        ],
        default=invalid,
    )
    return state_machine(
        route,
        comment="kbflow reindex: keep the wiki's pages current in the "
        "search index, page by page or the whole site",
    )
