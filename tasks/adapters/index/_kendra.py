"""Amazon Kendra as the index: BatchPutDocument / BatchDeleteDocument / Retrieve (boto3).

Kendra does its own passage extraction, ranking and semantic matching, so kbflow hands it one
Kendra document per kbflow document (``Id`` = ``doc_id``, the chunks joined by blank lines,
``_source_uri`` = the key) and ignores the vectors. Replacing a document is one
``BatchPutDocument`` of the same ``Id``, which Kendra applies atomically. ``Retrieve`` returns
passages Kendra chose, so hits carry ``chunk_index = -1``; their score comes from Kendra's
``ScoreConfidence`` band, made strictly decreasing by rank. The ``mode`` argument is accepted for
interface parity and does not change the request (Kendra always ranks with its own hybrid model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Final

from kbflow.errors import ConfigurationError

from ._base import (
    ChunkRecord,
    Hit,
    IndexedDocument,
    SearchIndexError,
    SearchMode,
    check_mode,
    dedupe_hits,
)

_CONFIDENCE: Final = {
    "VERY_HIGH": 4.0,
    "HIGH": 3.0,
    "MEDIUM": 2.0,
    "LOW": 1.0,
    "NOT_AVAILABLE": 0.0,
}
_PRESENT: Final = frozenset({"INDEXED", "UPDATED", "PROCESSING"})
_TRANSIENT: Final = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"}
)
MAX_QUERY_CHARS: Final = 1000
"""Retrieve's limit on ``QueryText`` length (longer queries are cut)."""
MAX_PAGE_SIZE: Final = 100


def _error(action: str, exc: Exception) -> SearchIndexError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    return SearchIndexError(f"Kendra {action} failed: {code}", transient=code in _TRANSIENT)


class KendraIndex:
    """An Amazon Kendra index behind the :class:`Index` protocol (see the module docstring).

    Args:
        client: a boto3 ``kendra`` client.
        index_id: the Kendra index id.
        role_arn: IAM role Kendra assumes to read S3 (only needed for S3-referenced documents).
    """

    def __init__(self, client: Any, *, index_id: str, role_arn: str | None = None) -> None:
        self._client = client
        self.index_id = index_id
        self.role_arn = role_arn

    @classmethod
    def from_env(cls) -> KendraIndex:
        """Build from ``KBFLOW_KENDRA_INDEX_ID`` (and optional ``KBFLOW_KENDRA_ROLE_ARN``)."""
        import boto3

        if not os.environ.get("KBFLOW_KENDRA_INDEX_ID"):
            raise ConfigurationError("KBFLOW_KENDRA_INDEX_ID is not set")
        return cls(
            boto3.client("kendra"),
            index_id=os.environ["KBFLOW_KENDRA_INDEX_ID"],
            role_arn=os.environ.get("KBFLOW_KENDRA_ROLE_ARN"),
        )

    def _call(self, action: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, action)(**params)  # type: ignore[no-any-return]
        except ClientError as exc:
            raise _error(action, exc) from exc
        except BotoCoreError as exc:
            raise SearchIndexError(f"Kendra {action} failed: {exc}", transient=True) from exc

    def upsert(
        self, doc: IndexedDocument, chunks: Sequence[ChunkRecord], vectors: Any = None
    ) -> None:
        """Put the document (all chunks joined) under ``Id = doc_id``; ``vectors`` are ignored."""
        if not chunks:
            self.delete(doc.doc_id)
            return
        body = "\n\n".join(c.text for c in sorted(chunks, key=lambda c: c.chunk_index))
        document = {
            "Id": doc.doc_id,
            "Title": doc.title or doc.key,
            "Blob": body.encode("utf-8"),
            "ContentType": "PLAIN_TEXT",
            "Attributes": [{"Key": "_source_uri", "Value": {"StringValue": doc.key}}],
        }
        params: dict[str, Any] = {"IndexId": self.index_id, "Documents": [document]}
        if self.role_arn:
            params["RoleArn"] = self.role_arn
        failed = self._call("batch_put_document", **params).get("FailedDocuments", [])
        if failed:
            first = failed[0]
            raise SearchIndexError(
                f"Kendra refused {doc.doc_id}: "
                f"{first.get('ErrorCode')}: {first.get('ErrorMessage')}",
                transient=first.get("ErrorCode") == "InternalError",
            )

    def delete(self, doc_id: str) -> bool:
        """Delete the Kendra document; return whether Kendra knew it before."""
        existed = self.get_document(doc_id) is not None
        failed = self._call(
            "batch_delete_document", IndexId=self.index_id, DocumentIdList=[doc_id]
        ).get("FailedDocuments", [])
        if failed:
            raise SearchIndexError(
                f"Kendra could not delete {doc_id}: {failed[0].get('ErrorMessage')}"
            )
        return existed

    def search(
        self,
        query_text: str,
        query_vector: Any | None = None,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        dedupe: bool = True,
    ) -> list[Hit]:
        """Retrieve passages for ``query_text`` (``query_vector`` and ``mode`` do not apply)."""
        check_mode(mode)
        text = query_text.strip()[:MAX_QUERY_CHARS]
        if k <= 0 or not text:
            return []
        page = min(MAX_PAGE_SIZE, max(k, 3 * k if dedupe else k))
        items = self._call("retrieve", IndexId=self.index_id, QueryText=text, PageSize=page).get(
            "ResultItems", []
        )
        hits = [self._hit(item, rank) for rank, item in enumerate(items)]
        return (dedupe_hits(hits) if dedupe else hits)[:k]

    @staticmethod
    def _hit(item: dict[str, Any], rank: int) -> Hit:
        band = _CONFIDENCE.get(item.get("ScoreAttributes", {}).get("ScoreConfidence", ""), 0.0)
        return Hit(
            key=item.get("DocumentURI") or item.get("DocumentTitle", ""),
            doc_id=item.get("DocumentId", ""),
            chunk_index=-1,
            score=band + 1.0 / (2 + rank),  # keeps Kendra's order within a confidence band
            text=item.get("Content", ""),
        )

    def stats(self) -> dict[str, int]:
        """Indexed text documents per ``DescribeIndex`` (Kendra has no chunk count: same number)."""
        described = self._call("describe_index", Id=self.index_id)
        count = int(
            described.get("IndexStatistics", {})
            .get("TextDocumentStatistics", {})
            .get("IndexedTextDocumentsCount", 0)
        )
        return {"documents": count, "chunks": count}

    def get_document(self, doc_id: str) -> IndexedDocument | None:
        """A minimal record (``doc_id``; Kendra's status in ``metadata``) if Kendra has it.

        Kendra keeps no kbflow metadata it can return by id, so ``key`` is empty; the manifest is
        the place to look documents up by id.
        """
        result = self._call(
            "batch_get_document_status",
            IndexId=self.index_id,
            DocumentInfoList=[{"DocumentId": doc_id}],
        )
        for status in result.get("DocumentStatusList", []):
            if status.get("DocumentId") == doc_id and status.get("DocumentStatus") in _PRESENT:
                return IndexedDocument(
                    doc_id=doc_id, key="", metadata={"kendra_status": status["DocumentStatus"]}
                )
        return None

    def close(self) -> None:
        """Nothing to release (the boto3 client is shared)."""
