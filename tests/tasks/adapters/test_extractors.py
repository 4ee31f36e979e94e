"""Extractor adapters: local extraction and Amazon Textract request/response shapes (Stubber)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from kbflow.tasks.adapters.extractors import (
    Extractor,
    LocalExtractor,
    TextractExtractor,
    text_from_blocks,
)
from kbflow.tasks.core import media
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    EmptyDocument,
    ExtractionFailed,
    TransientStoreError,
    UnsupportedMediaType,
)
from kbflow.tasks.core.extract import Limits

PDF = b"%PDF-1.7 fake bytes, Textract is stubbed"
PNG = b"\x89PNG\r\n\x1a\n fake image"


def _line(text: str, page: int = 1, confidence: float = 99.0) -> dict[str, Any]:
    return {"BlockType": "LINE", "Text": text, "Page": page, "Confidence": confidence}


def _page(page: int) -> dict[str, Any]:
    return {"BlockType": "PAGE", "Page": page}


@pytest.fixture
def textract() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "textract", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_blocks_to_text_keeps_pages_and_weights_confidence() -> None:
    text, pages, confidence = text_from_blocks(
        [
            _page(1),
            _line("Hello", 1, 90.0),
            _line("World!", 1, 100.0),
            _page(2),
            _line("Two", 2, 50.0),
        ]
    )
    assert text == "Hello\nWorld!\fTwo"
    assert pages == 2
    assert confidence == pytest.approx((90 * 5 + 100 * 6 + 50 * 3) / 14 / 100)


def test_sync_detect_for_images(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response(
        "detect_document_text",
        {
            "Blocks": [_page(1), _line("INVOICE 42", confidence=80.0)],
            "DocumentMetadata": {"Pages": 1},
        },
        {"Document": {"Bytes": PNG}},
    )
    result = TextractExtractor(client).extract(PNG, media.PNG)
    assert isinstance(TextractExtractor(client), Extractor)
    assert result.text == "INVOICE 42" and result.ocr_used
    assert result.ocr_confidence == pytest.approx(0.8)


def test_async_job_with_polling_and_next_token(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    sleeps: list[float] = []
    location = {"S3Object": {"Bucket": "docs", "Name": "big.pdf"}}
    stubber.add_response(
        "start_document_text_detection", {"JobId": "job-1"}, {"DocumentLocation": location}
    )
    stubber.add_response(
        "get_document_text_detection",
        {"JobStatus": "IN_PROGRESS"},
        {"JobId": "job-1", "MaxResults": 1000},
    )
    stubber.add_response(
        "get_document_text_detection",
        {
            "JobStatus": "SUCCEEDED",
            "NextToken": "t2",
            "DocumentMetadata": {"Pages": 2},
            "Blocks": [_page(1), _line("# Report"), _line("page one")],
        },
        {"JobId": "job-1", "MaxResults": 1000},
    )
    stubber.add_response(
        "get_document_text_detection",
        {"JobStatus": "SUCCEEDED", "Blocks": [_page(2), _line("page two", 2)]},
        {"JobId": "job-1", "MaxResults": 1000, "NextToken": "t2"},
    )
    result = TextractExtractor(client, sleep=sleeps.append, poll_interval_s=3).extract(
        PDF, media.PDF, bucket="docs", key="big.pdf"
    )
    assert result.text == "# Report\npage one\fpage two"
    assert result.pages == 2 and result.headings == ("Report",)
    assert sleeps == [3]


def test_failed_job_is_extraction_failed(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response("start_document_text_detection", {"JobId": "j"})
    stubber.add_response(
        "get_document_text_detection", {"JobStatus": "FAILED", "StatusMessage": "corrupt PDF"}
    )
    with pytest.raises(ExtractionFailed, match="corrupt PDF"):
        TextractExtractor(client).extract(PDF, media.PDF, bucket="docs", key="k.pdf")


def test_job_that_never_finishes_is_transient(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response("start_document_text_detection", {"JobId": "j"})
    for _ in range(3):
        stubber.add_response("get_document_text_detection", {"JobStatus": "IN_PROGRESS"})
    extractor = TextractExtractor(client, sleep=lambda s: None, poll_interval_s=1, max_wait_s=2)
    with pytest.raises(TransientStoreError, match="still running"):
        extractor.extract(PDF, media.PDF, bucket="docs", key="k.pdf")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("UnsupportedDocumentException", UnsupportedMediaType),
        ("BadDocumentException", ExtractionFailed),
        ("ProvisionedThroughputExceededException", TransientStoreError),
        ("DocumentTooLargeException", DocumentTooLarge),
    ],
)
def test_service_errors_map_to_named_errors(
    textract: tuple[Any, Stubber], code: str, error: type[Exception]
) -> None:
    client, stubber = textract
    stubber.add_client_error("detect_document_text", service_error_code=code)
    with pytest.raises(error):
        TextractExtractor(client).extract(PNG, media.PNG)


def test_no_text_is_empty_document(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response("detect_document_text", {"Blocks": [_page(1)]})
    with pytest.raises(EmptyDocument):
        TextractExtractor(client).extract(PNG, media.PNG)


def test_limits_checked_before_calling_textract(textract: tuple[Any, Stubber]) -> None:
    client, _ = textract
    with pytest.raises(DocumentTooLarge):
        TextractExtractor(client).extract(PNG * 10, media.PNG, limits=Limits(max_bytes=20))


def test_other_types_go_to_the_fallback(textract: tuple[Any, Stubber]) -> None:
    client, _ = textract
    result = TextractExtractor(client).extract(b"# Title\n\nplain words here", media.MARKDOWN)
    assert "plain words here" in result.text and not result.ocr_used


def test_local_extractor_uses_core_extract() -> None:
    result = LocalExtractor().extract("Grüße aus Köln\n".encode("latin-1"), media.PLAIN)
    assert "Grüße aus Köln" in result.text
    with pytest.raises(UnsupportedMediaType):
        LocalExtractor().extract(b"PK\x03\x04zip", "application/zip")
