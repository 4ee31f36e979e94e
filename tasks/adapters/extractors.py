"""Extractor adapters: local libraries or Amazon Textract, behind one small protocol.

- :class:`LocalExtractor` calls :func:`kbflow.tasks.core.extract.extract` (pypdfium2,
  selectolax, python-docx, RapidOCR).
- :class:`TextractExtractor` sends images and PDFs to Amazon Textract: synchronous
  ``DetectDocumentText`` for images and for PDFs given as bytes only, asynchronous
  ``StartDocumentTextDetection`` + ``GetDocumentTextDetection`` (polled through an injected
  ``sleep``, results paged with ``NextToken``) for PDFs stored in S3, which may have many pages.
  Other media types (HTML, DOCX, text) go to a fallback extractor (local by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol, runtime_checkable

from kbflow.tasks.core import media
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    EmptyDocument,
    ExtractionFailed,
    SourceAccessDenied,
    TransientStoreError,
    UnsupportedMediaType,
)
from kbflow.tasks.core.extract import PAGE_BREAK, Extracted, Limits, sections_of

__all__ = ["Extractor", "LocalExtractor", "TextractExtractor", "text_from_blocks"]

DEFAULT_LIMITS: Final = Limits()
"""The default extraction limits."""
SYNC_MAX_BYTES: Final = 10 * 1024 * 1024
"""Textract's limit for documents passed as bytes."""


@runtime_checkable
class Extractor(Protocol):
    """Turns document bytes into text."""

    def extract(
        self,
        data: bytes,
        media_type: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        bucket: str | None = None,
        key: str | None = None,
    ) -> Extracted:
        """Extract text. ``bucket``/``key`` locate the same bytes in S3, when they are there.

        Raises:
            TaskError: the named errors of :func:`kbflow.tasks.core.extract.extract`.
        """
        ...


class LocalExtractor:
    """Extraction with local libraries (the ``local`` extra)."""

    def extract(
        self,
        data: bytes,
        media_type: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        bucket: str | None = None,
        key: str | None = None,
    ) -> Extracted:
        """See :func:`kbflow.tasks.core.extract.extract`; ``bucket``/``key`` are ignored."""
        from kbflow.tasks.core.extract import extract

        return extract(data, media_type, limits=limits)


def text_from_blocks(blocks: list[dict[str, Any]]) -> tuple[str, int, float | None]:
    """Assemble Textract ``LINE`` blocks into text.

    Args:
        blocks: Textract ``Blocks`` (any order of pages; lines keep their order within a page).

    Returns:
        ``(text with pages joined by form feeds, pages, character-weighted confidence 0..1)``.
    """
    pages: dict[int, list[str]] = {}
    weighted = chars = 0.0
    page_count = 0
    for block in blocks:
        page = int(block.get("Page", 1))
        page_count = max(page_count, page)
        if block.get("BlockType") != "LINE" or not block.get("Text"):
            continue
        text = str(block["Text"])
        pages.setdefault(page, []).append(text)
        weighted += float(block.get("Confidence", 0.0)) * len(text)
        chars += len(text)
    text = PAGE_BREAK.join("\n".join(pages.get(p, [])) for p in range(1, page_count + 1))
    return text, page_count, (weighted / chars / 100.0) if chars else None


_CODES: Final[dict[str, type[Exception]]] = {
    "UnsupportedDocumentException": UnsupportedMediaType,
    "BadDocumentException": ExtractionFailed,
    "InvalidParameterException": ExtractionFailed,
    "InvalidS3ObjectException": SourceAccessDenied,
    "AccessDeniedException": SourceAccessDenied,
    "DocumentTooLargeException": DocumentTooLarge,
    "ProvisionedThroughputExceededException": TransientStoreError,
    "ThrottlingException": TransientStoreError,
    "InternalServerError": TransientStoreError,
    "LimitExceededException": TransientStoreError,
}


class TextractExtractor:
    """Amazon Textract for images and PDFs; other types go to ``fallback``.

    Args:
        client: A boto3 Textract client.
        sleep: Called between job polls (inject a fake in tests).
        poll_interval_s: Seconds between ``GetDocumentTextDetection`` polls.
        max_wait_s: Give up (``Kbflow.TransientStoreError``) after this long.
        fallback: Extractor for non-image, non-PDF types.
    """

    def __init__(
        self,
        client: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 2.0,
        max_wait_s: float = 540.0,
        fallback: Extractor | None = None,
    ) -> None:
        self._textract = client
        self._sleep = sleep
        self._interval = poll_interval_s
        self._max_wait = max_wait_s
        self._fallback = fallback or LocalExtractor()

    def extract(
        self,
        data: bytes,
        media_type: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        bucket: str | None = None,
        key: str | None = None,
    ) -> Extracted:
        """Extract text with Textract (images, PDFs) or the fallback (other types)."""
        if media_type not in media.IMAGE_TYPES and media_type != media.PDF:
            return self._fallback.extract(data, media_type, limits=limits, bucket=bucket, key=key)
        if len(data) > limits.max_bytes:
            raise DocumentTooLarge(f"document is {len(data)} bytes (limit {limits.max_bytes})")
        if media_type == media.PDF and bucket and key:
            blocks = list(self._async_blocks(bucket, key))
        else:
            if len(data) > SYNC_MAX_BYTES:
                raise DocumentTooLarge(
                    f"{len(data)} bytes is over Textract's synchronous limit; store it in S3"
                )
            blocks = self._call("detect_document_text", Document={"Bytes": data})["Blocks"]
        return self._result(blocks, media_type, limits)

    def _result(self, blocks: list[dict[str, Any]], media_type: str, limits: Limits) -> Extracted:
        text, pages, confidence = text_from_blocks(blocks)
        if pages > limits.max_pages:
            raise DocumentTooLarge(f"{pages} pages (limit {limits.max_pages})")
        text = text.strip()
        if not text.replace(PAGE_BREAK, "").strip():
            raise EmptyDocument(f"Textract found no text in {media_type} ({pages} page(s))")
        return Extracted(
            text=text,
            media_type=media_type,
            pages=max(pages, 1),
            sections=sections_of(text),
            ocr_used=True,
            ocr_pages=max(pages, 1),
            ocr_confidence=confidence,
        )

    def _async_blocks(self, bucket: str, key: str) -> Iterator[dict[str, Any]]:
        job = self._call(
            "start_document_text_detection",
            DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}},
        )
        job_id = job["JobId"]
        response = self._wait(job_id)
        while True:
            yield from response.get("Blocks", [])
            token = response.get("NextToken")
            if not token:
                return
            response = self._call(
                "get_document_text_detection", JobId=job_id, NextToken=token, MaxResults=1000
            )

    def _wait(self, job_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            response: dict[str, Any] = self._call(
                "get_document_text_detection", JobId=job_id, MaxResults=1000
            )
            status = response.get("JobStatus")
            if status in {"SUCCEEDED", "PARTIAL_SUCCESS"}:
                return response
            if status == "FAILED":
                raise ExtractionFailed(
                    f"Textract job failed: {response.get('StatusMessage', 'no message')}"
                )
            if waited >= self._max_wait:
                raise TransientStoreError(f"Textract job {job_id} still running after {waited:g}s")
            self._sleep(self._interval)
            waited += self._interval

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return getattr(self._textract, operation)(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            error = _CODES.get(code)
            if error is None:
                raise
            raise error(f"Textract {operation}: {code}") from exc
