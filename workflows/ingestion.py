"""The document ingestion flow: source folder or S3 prefix -> search index.

Shape (the console graph reads top-down)::

    Plan Ingestion
    Ingest Documents                Distributed Map over s3:listObjectsV2 of the source
      └─ Process Document Batch     inline Map over the batch's Items (one child execution)
           Fetch And Fingerprint Document -> Skip Unchanged Document? -> Route By Media Type
           -> Extract PDF Text | OCR Image | Extract HTML Text | Extract DOCX Text
              | Extract Plain Text | Reject Unsupported Media Type (-> quarantine)
           -> Clean Text -> Detect And Redact PII -> Chunk Text -> Many Chunks?
           -> Embed Chunks | Plan Embedding Slices -> Embed Chunk Slices (inline Map)
           -> Index Document -> Record In Manifest -> Needs Human Review?
           -> [Start Human Review: states:startExecution, not waited for] -> Document Indexed
           any error -> Quarantine Document -> Document Quarantined
    Summarise Ingestion             counts from the ResultWriter output (incl. reviews started)
    Ingestion Complete | Ingestion Failed

Scale (15M documents backfill, ~10k new a month): the item source is read by the Map itself
(``ItemReader`` with S3 ListObjectsV2 semantics), so no state ever holds the listing; items are
batched (``ItemBatcher``, 20 documents and at most 256 KiB per child execution) with the run
settings in ``BatchInput``; 50 child executions run at once, each processing up to 10 of its
documents concurrently (500 documents in flight; Lambda throttling is absorbed by the jittered
retries). Results go to the work bucket (``ResultWriter``) instead of the state output, and each
per-document result is a few hundred bytes (key, doc_id, status, error/cause, review flags) so
the summary can count from it. The per-document payload is the ``doc`` of docs/contracts.md:
object keys only, never document content, so no state input grows with document size.

**Child workflow type: STANDARD.** The per-batch child executions of the Distributed Map run as
STANDARD workflows, for three reasons:

1. *Duration.* Express executions are capped at 5 minutes. A batch of scanned regulatory PDFs
   needs OCR (the ``ExtractPdf``/``ExtractImage`` functions are given up to 10 minutes each) and
   embedding of long documents can take minutes; one slow document would time out the whole
   Express child and fail every document in its batch. Standard executions may run for a year.
2. *Exactly-once and auditability.* Standard executions run each state exactly once (Express
   is at-least/at-most-once depending on how it is started) and keep a full, queryable execution
   history for 90 days: for a bank, "what happened to document X in run Y" is answerable from
   the console without turning on CloudWatch Logs for every execution.
3. *Cost is acceptable at this scale.* About 15 state transitions per document: the 15M
   backfill is roughly 225M transitions (~$5.6k at $0.025 per 1,000), once; the steady state of
   10k documents a month costs about $4 a month. Express would be cheaper for the backfill, but
   the failure mode above would cost more in re-runs and investigation.

**Human review.** A document flagged for review (PII found, low OCR confidence) starts the
human-review flow asynchronously (``arn:aws:states:::states:startExecution`` without ``.sync``)
as soon as it is indexed, from inside its child execution, rather than from a list built after
the map: that list would have to travel by reference and be read back with an
``s3:getObject`` ItemReader, for no gain. The execution name is a hash of run id and document
id, so a retried or redriven batch cannot open a second review (``ExecutionAlreadyExists`` is
caught as success). ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` links the review to the
ingestion run in the console. The summary counts the documents flagged for review from the
per-document results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from kbflow.workflows._tasks import (
    S3_LIST_OBJECTS,
    START_EXECUTION,
    StepSpec,
    catch_all,
    chain,
    lambda_task,
    payload_step,
)
from kbflow.workflows.asl import (
    DISCARD,
    Catch,
    Choice,
    Fail,
    Json,
    Pass,
    Retry,
    Succeed,
    Task,
    state_machine,
)
from kbflow.workflows.asl_map import (
    ItemBatcher,
    ItemReader,
    Map,
    ProcessorConfig,
    ResultWriter,
)
from stepfunctions.steps.choice_rule import BaseRule, ChoiceRule

__all__ = ["CHILD_EXECUTION_TYPE", "INPUT_SCHEMA", "build"]

CHILD_EXECUTION_TYPE: Final = "STANDARD"
"""Workflow type of the per-batch child executions (see the module docstring)."""

BATCH_SIZE: Final = 20
MAX_CHILD_EXECUTIONS: Final = 50
DOCS_IN_FLIGHT_PER_BATCH: Final = 10
TOLERATED_FAILURE_PERCENTAGE: Final = 5
EMBED_SLICE_CHUNKS: Final = 128
"""A document with more chunks is embedded in slices of this many, several at once."""
EMBED_SLICES_IN_FLIGHT: Final = 4
RESULTS_PREFIX: Final = "map-results/ingestion"
"""ResultWriter prefix in the work bucket; AWS appends ``/<map run id>/manifest.json`` etc."""

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

INPUT_SCHEMA: Final[dict[str, Json]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://kbflow.dev/schemas/ingestion.input.json",
    "title": "kbflow ingestion input",
    "type": "object",
    "required": ["source"],
    "additionalProperties": False,
    "properties": {
        "source": {
            "type": "object",
            "required": ["uri"],
            "additionalProperties": False,
            "properties": {
                "uri": {
                    "type": "string",
                    "description": "s3://bucket/prefix or file:///absolute/dir",
                    "pattern": "^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|file:///.*)$",
                },
            },
        },
        "options": {
            "type": "object",
            "description": "Run settings, normalised (with defaults) by PlanIngestion.",
            "additionalProperties": True,
        },
    },
}
"""JSON Schema (draft 2020-12) of the flow input."""


def _result(status: str, extra: str = "") -> str:
    """JSONata for a small per-document result (undefined fields are left out)."""
    return (
        "{% {'key': $states.input.key, 'doc_id': $states.input.doc_id, "
        f"'status': '{status}'{extra}}} %}}"
    )


_FETCH: Final[StepSpec] = (
    "Fetch And Fingerprint Document",
    "FetchDocument",
    120,
    "Copy the original to the work store, hash it, detect its media type, check the manifest",
)
_EXTRACTORS: Final[tuple[StepSpec, ...]] = (
    ("Extract PDF Text", "ExtractPdf", 600, "Text layer of a PDF; OCR for scanned pages"),
    ("OCR Image", "ExtractImage", 600, "OCR an image; records the OCR confidence"),
    ("Extract HTML Text", "ExtractHtml", 120, "Main text of an HTML page"),
    ("Extract DOCX Text", "ExtractDocx", 120, "Text of a Word document"),
    ("Extract Plain Text", "ExtractText", 60, "Decode a plain-text document"),
)
_INDEXING: Final[tuple[StepSpec, ...]] = (
    ("Clean Text", "CleanText", 60, "Normalise whitespace, strip boilerplate, fix encodings"),
    (
        "Detect And Redact PII",
        "RedactPii",
        120,
        "Find personal data, write a redacted copy, flag the document for review if found",
    ),
    ("Chunk Text", "ChunkText", 120, "Split the redacted text into overlapping chunks"),
)
_EMBED: Final[StepSpec] = ("Embed Chunks", "EmbedChunks", 600, "Compute an embedding per chunk")
_INDEXED: Final[tuple[StepSpec, ...]] = (
    (
        "Index Document",
        "IndexDocument",
        300,
        "Upsert chunks by document id and remove the document's stale chunks",
    ),
    (
        "Record In Manifest",
        "RecordManifest",
        30,
        "Record fingerprint and status so unchanged documents are skipped next time",
    ),
)


def _media_rules() -> list[BaseRule]:
    """One rule per entry of :data:`_EXTRACTORS`, in the same order (first match wins)."""
    media = "$.media_type"
    return [
        ChoiceRule.StringEquals(media, "application/pdf"),
        ChoiceRule.StringMatches(media, "image/*"),
        ChoiceRule.Or(
            [
                ChoiceRule.StringEquals(media, "text/html"),
                ChoiceRule.StringEquals(media, "application/xhtml+xml"),
            ]
        ),
        ChoiceRule.StringEquals(media, _DOCX),
        ChoiceRule.StringMatches(media, "text/*"),
    ]


def _quarantine() -> Task:
    """Quarantine Document -> Document Quarantined (the run goes on)."""
    quarantined = Pass(
        "Document Quarantined",
        query_language="JSONata",
        comment="Per-document result of a quarantined document (error, cause cut to 1000 chars)",
        output=_result(
            "quarantined",
            ", 'error': $states.input.error.Error, "
            "'cause': $substring($string($states.input.error.Cause), 0, 1000)",
        ),
    )
    quarantine = lambda_task(
        "Quarantine Document",
        function="QuarantineDocument",
        timeout_seconds=120,
        comment="Copy the original aside and record error + cause; the run goes on without it",
        result_path=DISCARD,
    )
    quarantine.next(quarantined)
    return quarantine


def _route_by_media_type(step: Callable[[StepSpec], Task], clean: Task, quarantine: Task) -> Choice:
    unsupported = Pass(
        "Reject Unsupported Media Type",
        comment="No extractor for this media type: Kbflow.UnsupportedMediaType, quarantine it",
        parameters={
            "Error": "Kbflow.UnsupportedMediaType",
            "Cause.$": "States.Format('no extractor for the media type of {}', $.key)",
        },
        result_path="$.error",
    )
    unsupported.next(quarantine)
    routes = [(rule, step(spec)) for rule, spec in zip(_media_rules(), _EXTRACTORS, strict=True)]
    for _, extract in routes:
        extract.next(clean)
    return Choice(
        "Route By Media Type",
        comment="Pick the extractor for the detected media type",
        choices=[(ChoiceRule.IsPresent("$.media_type", False), unsupported), *routes],
        default=unsupported,
    )


def _per_document_chain() -> Task:
    """The states run for one document; returns the first one."""
    quarantine = _quarantine()
    step = payload_step(catch_all(quarantine))
    indexed = Pass(
        "Document Indexed",
        query_language="JSONata",
        comment="Per-document result: indexed, with its change kind, chunk count and review flags",
        output=_result(
            "indexed",
            ", 'change': $states.input.status, "
            "'chunks': $states.input.chunks, 'review': $states.input.review, "
            "'review_execution': $states.input.review_execution.execution_arn",
        ),
    )
    index = chain([step(spec) for spec in _INDEXED], _start_review(indexed, quarantine))
    clean = chain([step(spec) for spec in _INDEXING], _embed(step, index, quarantine))
    unchanged = Pass(
        "Document Unchanged",
        query_language="JSONata",
        comment="Per-document result: same fingerprint as in the manifest, skipped",
        output=_result("unchanged"),
    )
    skip = Choice(
        "Skip Unchanged Document?",
        comment="The manifest already has this exact content",
        choices=[(ChoiceRule.StringEquals("$.status", "unchanged"), unchanged)],
        default=_route_by_media_type(step, clean, quarantine),
    )
    fetch = step(_FETCH)
    fetch.next(skip)
    return fetch


def _embed(step: Callable[[StepSpec], Task], then: Task, quarantine: Task) -> Choice:
    """Embed Chunks in one task, or a long document in slices embedded side by side.

    One task per document leaves a long manual (a thousand chunks and more) to one Lambda, or to
    one worker locally, while the others idle; slices of :data:`EMBED_SLICE_CHUNKS` spread it.
    Each slice writes its own ``.npy``; Index Document stacks them in order.
    """
    whole = step(_EMBED)
    whole.next(then)
    piece = lambda_task(
        "Embed Chunk Slice",
        function="EmbedChunks",
        timeout_seconds=600,
        comment="Embed one slice of the document's chunks; returns {start, stop, key}",
        payload="States.JsonMerge($.doc, $.slice, false)",
        output_path="$.Payload",
    )
    slices = Map(
        "Embed Chunk Slices",
        comment=f"Embed {EMBED_SLICE_CHUNKS}-chunk slices, {EMBED_SLICES_IN_FLIGHT} at a time",
        items_path="$.embed_slices.starts",
        item_selector={
            "doc.$": "$",
            "slice": {"slice": {"start.$": "$$.Map.Item.Value", "size": EMBED_SLICE_CHUNKS}},
        },
        max_concurrency=EMBED_SLICES_IN_FLIGHT,
        processor=piece,
        result_path="$.embedding_slices",
        catch=catch_all(quarantine),
    )
    slices.next(then)
    plan = Pass(
        "Plan Embedding Slices",
        comment="The first chunk of each slice (States.ArrayRange allows 1,000 slices)",
        parameters={
            "starts.$": f"States.ArrayRange(0, States.MathAdd($.chunks, -1), {EMBED_SLICE_CHUNKS})"
        },
        result_path="$.embed_slices",
    )
    plan.next(slices)
    return Choice(
        "Many Chunks?",
        comment=f"More than {EMBED_SLICE_CHUNKS} chunks: embed in slices",
        choices=[(_more_chunks_than(EMBED_SLICE_CHUNKS), plan)],
        default=whole,
    )


def _more_chunks_than(limit: int) -> BaseRule:
    return ChoiceRule.And(
        [
            ChoiceRule.IsPresent("$.chunks", True),
            ChoiceRule.IsNumeric("$.chunks", True),
            ChoiceRule.NumericGreaterThan("$.chunks", limit),
        ]
    )


def _document_batch() -> Map:
    """The child workflow of the Distributed Map: one batch of listed objects."""
    return Map(
        "Process Document Batch",
        comment="Run the per-document chain for each object of this batch",
        items_path="$.Items",
        item_selector={
            "run_id.$": "$.BatchInput.run_id",
            "source.$": "$.BatchInput.source",
            "options.$": "$.BatchInput.options",
            "key.$": "$$.Map.Item.Value.Key",
            "size.$": "$$.Map.Item.Value.Size",
        },
        max_concurrency=DOCS_IN_FLIGHT_PER_BATCH,
        processor=_per_document_chain(),
    )


def _ingest_documents(failed: Fail) -> Map:
    return Map(
        "Ingest Documents",
        comment="List the source and process its objects in batches, one child execution per batch",
        processor_config=ProcessorConfig(mode="DISTRIBUTED", execution_type=CHILD_EXECUTION_TYPE),
        item_reader=ItemReader(
            resource=S3_LIST_OBJECTS,
            parameters={"Bucket.$": "$.source.bucket", "Prefix.$": "$.source.prefix"},
        ),
        item_batcher=ItemBatcher(
            max_items_per_batch=BATCH_SIZE,
            max_input_bytes_per_batch=262144,
            batch_input={"run_id.$": "$.run_id", "source.$": "$.source", "options.$": "$.options"},
        ),
        max_concurrency=MAX_CHILD_EXECUTIONS,
        tolerated_failure_percentage=TOLERATED_FAILURE_PERCENTAGE,
        result_writer=ResultWriter(
            parameters={"Bucket": "${WorkBucketName}", "Prefix": RESULTS_PREFIX}
        ),
        result_selector={"map_run_arn.$": "$.MapRunArn", "results.$": "$.ResultWriterDetails"},
        result_path="$.map",
        processor=_document_batch(),
        catch=catch_all(failed),
    )


_REVIEW_REQUEST: Final[dict[str, Json]] = {
    "StateMachineArn": "${HumanReviewStateMachineArn}",
    # Deterministic name (<= 80 chars): a retried or redriven batch cannot start it twice.
    "Name.$": "States.Format('ingest-{}', "
    "States.Hash(States.Format('{}/{}', $.run_id, $.doc_id), 'MD5'))",
    "Input": {
        "item": {
            "id.$": "$.doc_id",
            "key.$": "$.key",
            "run_id.$": "$.run_id",
            "source.$": "$.source",
            "artifacts.$": "$.artifacts",
            "review.$": "$.review",
        },
        "reason.$": "States.Format('flagged during ingestion: {}', "
        "States.JsonToString($.review.reasons))",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
    },
}
"""``states:startExecution`` parameters: the human-review input built from the doc."""

_START_ERRORS: Final = (
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.SdkClientException",
    "StepFunctions.AWSStepFunctionsException",
)


def _start_review(after: Pass, quarantine: Task) -> Choice:
    """Start human review for a flagged document, asynchronously, then continue with ``after``."""
    start = Task(
        "Start Human Review",
        comment="Start the human-review flow for this document without waiting for it",
        resource=START_EXECUTION,
        parameters=_REVIEW_REQUEST,
        result_selector={"execution_arn.$": "$.ExecutionArn"},
        result_path="$.review_execution",
        retry=[
            Retry(
                error_equals=_START_ERRORS,
                interval_seconds=2,
                max_attempts=6,
                backoff_rate=2.0,
                max_delay_seconds=60,
                jitter_strategy="FULL",
                comment="StartExecution throttling and transient errors",
            )
        ],
        catch=[
            Catch(
                error_equals=["StepFunctions.ExecutionAlreadyExistsException"],
                next_step=after,
                result_path=DISCARD,
                comment="Already started by an earlier attempt of this run",
            ),
            *catch_all(quarantine),
        ],
    )
    start.next(after)
    flagged = ChoiceRule.And(
        [
            ChoiceRule.IsPresent("$.review.required", True),
            ChoiceRule.BooleanEquals("$.review.required", True),
        ]
    )
    return Choice(
        "Needs Human Review?",
        comment="PII found or low OCR confidence: a person must approve, reject or edit",
        choices=[(flagged, start)],
        default=after,
    )


def _plan(failed: Fail) -> Task:
    return lambda_task(
        "Plan Ingestion",
        function="PlanIngestion",
        timeout_seconds=30,
        comment="Validate the input, resolve the source URI to bucket/prefix, default the options",
        result_selector={
            "run_id.$": "$.Payload.run_id",
            "source.$": "$.Payload.source",
            "options.$": "$.Payload.options",
        },
        result_path="$",
        catch=catch_all(failed),
    )


def _summarise(failed: Fail) -> Task:
    """Counts only: the summary's lists (quarantined, removed, review) are reduced to lengths."""
    return lambda_task(
        "Summarise Ingestion",
        function="SummariseIngestion",
        timeout_seconds=900,
        comment="Count the per-document results by status and remove vanished documents",
        payload={
            "run_id.$": "$.run_id",
            "source.$": "$.source",
            "options.$": "$.options",
            "results.$": "$.map.results",
            "execution_arn.$": "$$.Execution.Id",
        },
        result_selector={
            "documents.$": "$.Payload.documents",
            "indexed.$": "$.Payload.indexed",
            "unchanged.$": "$.Payload.unchanged",
            "quarantined.$": "States.ArrayLength($.Payload.quarantined)",
            "removed.$": "States.ArrayLength($.Payload.removed)",
            "flagged_for_review.$": "States.ArrayLength($.Payload.review)",
        },
        result_path="$.summary",
        catch=catch_all(failed),
    )


def build() -> dict[str, Any]:
    """Compile the ingestion flow.

    Returns:
        The ASL definition as a dict.
    """
    failed = Fail(
        "Ingestion Failed",
        comment="The run could not be planned or too many batches failed",
        error_path="$.error.Error",
        cause_path="$.error.Cause",
    )
    complete = Succeed(
        "Ingestion Complete",
        query_language="JSONata",
        comment="Output: run id, counts by status (incl. flagged for review) and the map run",
        output="{% {'run_id': $states.input.run_id, 'counts': $states.input.summary, "
        "'map_run_arn': $states.input.map.map_run_arn} %}",
    )
    plan = _plan(failed)
    plan.next(_ingest_documents(failed)).next(_summarise(failed)).next(complete)
    return state_machine(
        plan, comment="kbflow ingestion: documents from S3 or a folder into the search index"
    )
