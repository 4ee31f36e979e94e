"""Lambda handlers of the ingestion flow (and the shared per-document stages of re-index).

Each handler is glue: the :func:`~kbflow.tasks.handler.task_handler` decorator validates the
event and maps errors; the work happens in :mod:`kbflow.tasks.core.ingest`,
:mod:`kbflow.tasks.core.pipeline` and :mod:`kbflow.tasks.core.summary`.
"""

from __future__ import annotations

from typing import Any, Final

from kbflow.tasks.adapters.config import current
from kbflow.tasks.adapters.embedder import EmbeddingError
from kbflow.tasks.adapters.index import SearchIndexError
from kbflow.tasks.adapters.objectstore import NoSuchKey
from kbflow.tasks.core import ingest, pipeline, summary
from kbflow.tasks.handler import ErrorMap, task_handler

__all__ = [
    "chunk_text",
    "clean_text",
    "embed_chunks",
    "extract_docx",
    "extract_html",
    "extract_image",
    "extract_pdf",
    "extract_text",
    "fetch_document",
    "index_document",
    "plan_ingestion",
    "quarantine_document",
    "record_manifest",
    "redact_pii",
    "summarise_ingestion",
]

Event = dict[str, Any]
_STORE_ERRORS: Final[ErrorMap] = {NoSuchKey: "Kbflow.SourceAccessDenied"}
_SERVICE_ERRORS: Final[ErrorMap] = {
    EmbeddingError: "Kbflow.TransientStoreError",
    SearchIndexError: "Kbflow.TransientStoreError",
    NoSuchKey: "Kbflow.TransientStoreError",
}


@task_handler("PlanIngestion")
def plan_ingestion(event: Event, context: Any) -> Event:
    """Normalise the source URI and fill in option defaults."""
    return ingest.plan_ingestion(event)


@task_handler("FetchDocument", errors=_STORE_ERRORS)
def fetch_document(event: Event, context: Any) -> Event:
    """Fetch, fingerprint (SHA-256) and check the manifest: ``status`` new|changed|unchanged."""
    return ingest.fetch_document(event, current())


@task_handler("ExtractPdf", errors=_STORE_ERRORS)
def extract_pdf(event: Event, context: Any) -> Event:
    """PDF text layer, OCR for pages without one."""
    return pipeline.extract_document(event, current())


@task_handler("ExtractImage", errors=_STORE_ERRORS)
def extract_image(event: Event, context: Any) -> Event:
    """OCR an image (flags low confidence for review)."""
    return pipeline.extract_document(event, current())


@task_handler("ExtractHtml", errors=_STORE_ERRORS)
def extract_html(event: Event, context: Any) -> Event:
    """Main text of an HTML page, headings kept."""
    return pipeline.extract_document(event, current())


@task_handler("ExtractDocx", errors=_STORE_ERRORS)
def extract_docx(event: Event, context: Any) -> Event:
    """Text of a DOCX (after the zip-bomb check)."""
    return pipeline.extract_document(event, current())


@task_handler("ExtractText", errors=_STORE_ERRORS)
def extract_text(event: Event, context: Any) -> Event:
    """Plain text or Markdown, with encoding detection."""
    return pipeline.extract_document(event, current())


@task_handler("CleanText")
def clean_text(event: Event, context: Any) -> Event:
    """Normalise the extracted text."""
    return pipeline.clean_document(event, current())


@task_handler("RedactPii")
def redact_pii(event: Event, context: Any) -> Event:
    """Detect or redact PII (``options.pii``); flag the doc for review when found."""
    return pipeline.redact_document(event, current())


@task_handler("ChunkText")
def chunk_text(event: Event, context: Any) -> Event:
    """Heading-aware token chunks with overlap."""
    return pipeline.chunk_document(event, current())


@task_handler("EmbedChunks", errors=_SERVICE_ERRORS)
def embed_chunks(event: Event, context: Any) -> Event:
    """Embed the chunks in batches."""
    return pipeline.embed_chunks(event, current())


@task_handler("IndexDocument", errors=_SERVICE_ERRORS)
def index_document(event: Event, context: Any) -> Event:
    """Atomically replace the document's chunks in the index."""
    return pipeline.index_document(event, current())


@task_handler("RecordManifest")
def record_manifest(event: Event, context: Any) -> Event:
    """Record the indexed document in the manifest."""
    return ingest.record_manifest(event, current())


@task_handler("QuarantineDocument")
def quarantine_document(event: Event, context: Any) -> Event:
    """Keep the original aside and record error, cause and stage."""
    return ingest.quarantine_document(event, current())


@task_handler("SummariseIngestion", errors=_SERVICE_ERRORS)
def summarise_ingestion(event: Event, context: Any) -> Event:
    """Count the run and remove documents that vanished from the source."""
    return summary.summarise_ingestion(event, current())
