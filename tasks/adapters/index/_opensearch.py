"""OpenSearch (or Amazon OpenSearch Service / Serverless) as the hybrid index, over its REST API.

Two indices: ``<name>`` holds one document per chunk (``text``, ``heading``, a ``knn_vector``
``embedding``, ``doc_id``, ``key``, ``chunk_index``, ``generation``) and ``<name>-documents`` one
record per document. Lexical search is a BM25 ``multi_match``, vector search a ``knn`` query;
hybrid sends both in one ``_msearch`` and fuses the lists client-side with the same
:func:`~kbflow.tasks.adapters.index.fuse` as the local index, so both rank alike.

OpenSearch has no multi-document transactions, so :meth:`OpenSearchIndex.upsert` writes the new
version under a fresh ``generation`` first, then the document record (which lists the chunk ids of
the new version and of the versions still to remove), and only then deletes the older chunks by
id: a failure part-way leaves the previous version searchable (a partial new one is removed), and
a retry finds whatever is left to delete in the record. Deletes go by id through ``_bulk``, not
``_delete_by_query``, which OpenSearch Serverless does not offer. Until the old chunks are gone a
search may see both versions; document-level de-duplication hides that. Requests are signed with
SigV4 from botocore (:class:`SigV4Auth`).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Generator, Sequence
from typing import Any, Final

import httpx
from kbflow.errors import ConfigurationError

from ._base import (
    ChunkRecord,
    Fusion,
    Hit,
    IndexedDocument,
    SearchIndexError,
    SearchMode,
    as_matrix,
    as_query_vector,
    candidate_depth,
    check_mode,
    dedupe_hits,
    fuse,
)

_SOURCE_FIELDS: Final = ["doc_id", "key", "chunk_index", "text"]
_NDJSON: Final = {"Content-Type": "application/x-ndjson"}


class SigV4Auth(httpx.Auth):
    """httpx authentication that signs each request with AWS Signature Version 4 (botocore).

    Args:
        credentials: botocore credentials (refreshable ones are frozen per request).
        region: the AWS region of the domain.
        service: ``es`` for OpenSearch Service, ``aoss`` for OpenSearch Serverless.
    """

    requires_request_body = True

    def __init__(self, credentials: Any, region: str, service: str = "es") -> None:
        self._credentials = credentials
        self._region = region
        self._service = service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add ``Authorization``, ``X-Amz-Date`` (and the session token) to ``request``."""
        from botocore.auth import SigV4Auth as BotocoreSigV4
        from botocore.awsrequest import AWSRequest

        body = request.content
        headers = {
            "Content-Type": request.headers.get("Content-Type", "application/json"),
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
        }
        aws_request = AWSRequest(
            method=request.method, url=str(request.url), data=body, headers=headers
        )
        frozen = getattr(self._credentials, "get_frozen_credentials", lambda: self._credentials)()
        BotocoreSigV4(frozen, self._service, self._region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "x-amz-content-sha256"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        yield request


def _ndjson(lines: Sequence[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(line, separators=(",", ":")) for line in lines) + "\n").encode(
        "utf-8"
    )


def _hits(response: dict[str, Any]) -> list[Hit]:
    out: list[Hit] = []
    for item in response.get("hits", {}).get("hits", []):
        src = item.get("_source", {})
        out.append(
            Hit(
                key=str(src.get("key", "")),
                doc_id=str(src.get("doc_id", "")),
                chunk_index=int(src.get("chunk_index", -1)),
                score=float(item.get("_score") or 0.0),
                text=str(src.get("text", "")),
            )
        )
    return out


class OpenSearchIndex:
    """Hybrid search on an OpenSearch domain (see the module docstring).

    Args:
        client: an ``httpx.Client`` whose ``base_url`` is the domain endpoint (with
            :class:`SigV4Auth` for AWS).
        dimension: vector length of the ``knn_vector`` field.
        index: name of the chunk index (the document index is ``<index>-documents``).
        fusion: ``convex`` or ``rrf``.
        alpha: fixed lexical weight for convex fusion; None adapts it per query.
        refresh: the ``refresh`` parameter of writes (``wait_for`` makes them searchable before
            the call returns); None leaves it out (OpenSearch Serverless refreshes on its own).
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        dimension: int,
        index: str = "kbflow-chunks",
        fusion: Fusion = "convex",
        alpha: float | None = None,
        refresh: str | None = "wait_for",
    ) -> None:
        self._http = client
        self.refresh = refresh
        self.dimension = dimension
        self.index = index
        self.documents_index = f"{index}-documents"
        self.fusion: Fusion = fusion
        self.alpha = alpha

    @classmethod
    def from_env(cls, *, dimension: int | None = None) -> OpenSearchIndex:
        """Build from the environment, signing with boto3's default credentials.

        Reads ``KBFLOW_OPENSEARCH_ENDPOINT`` (required), ``KBFLOW_OPENSEARCH_INDEX``,
        ``KBFLOW_OPENSEARCH_SERVICE`` (``es`` or ``aoss``) and ``AWS_REGION``; the dimension
        defaults to ``KBFLOW_BEDROCK_EMBED_DIMENSIONS`` or 1024 (Titan v2).
        """
        import boto3

        endpoint = os.environ.get("KBFLOW_OPENSEARCH_ENDPOINT")
        if not endpoint:
            raise ConfigurationError("KBFLOW_OPENSEARCH_ENDPOINT is not set")
        session = boto3.Session()
        region = session.region_name or os.environ.get("AWS_REGION", "us-east-1")
        service = os.environ.get("KBFLOW_OPENSEARCH_SERVICE", "es")
        auth = SigV4Auth(session.get_credentials(), region, service)
        dim = dimension or int(os.environ.get("KBFLOW_BEDROCK_EMBED_DIMENSIONS", "1024"))
        return cls(
            httpx.Client(base_url=endpoint, auth=auth, timeout=30.0),
            dimension=dim,
            index=os.environ.get("KBFLOW_OPENSEARCH_INDEX", "kbflow-chunks"),
        )

    # -- HTTP -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        params: dict[str, str] | None = None,
        allow: tuple[int, ...] = (),
    ) -> dict[str, Any]:
        content = (
            raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
        )
        headers = _NDJSON if raw is not None else {"Content-Type": "application/json"}
        try:
            response = self._http.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise SearchIndexError(f"OpenSearch {method} {path}: {exc}", transient=True) from exc
        if response.status_code >= 400 and response.status_code not in allow:
            transient = response.status_code == 429 or response.status_code >= 500
            raise SearchIndexError(
                f"OpenSearch {method} {path}: HTTP {response.status_code}: {response.text[:300]}",
                transient=transient,
            )
        data: dict[str, Any] = response.json() if response.content else {}
        data.setdefault("_status", response.status_code)
        return data

    def create_indices(self) -> None:
        """Create the chunk and document indices if they do not exist."""
        chunk_mapping = {
            "settings": {"index": {"knn": True}},
            "mappings": {
                "properties": {
                    "doc_id": {"type": "keyword"},
                    "key": {"type": "keyword"},
                    "generation": {"type": "keyword"},
                    "chunk_index": {"type": "integer"},
                    "text": {"type": "text"},
                    "heading": {"type": "text"},
                    "embedding": {
                        "type": "knn_vector",
                        "dimension": self.dimension,
                        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                    },
                }
            },
        }
        docs_mapping = {
            "mappings": {
                "properties": {
                    "doc_id": {"type": "keyword"},
                    "key": {"type": "keyword"},
                    "generation": {"type": "keyword"},
                    "metadata": {"type": "object", "enabled": False},
                }
            }
        }
        for name, mapping in ((self.index, chunk_mapping), (self.documents_index, docs_mapping)):
            if self._call("HEAD", f"/{name}", allow=(404,))["_status"] == 404:
                self._call("PUT", f"/{name}", body=mapping)

    # -- writes -----------------------------------------------------------------------------

    def _params(self) -> dict[str, str]:
        return {"refresh": self.refresh} if self.refresh else {}

    def _record(self, doc_id: str) -> dict[str, Any] | None:
        result = self._call("GET", f"/{self.documents_index}/_doc/{doc_id}", allow=(404,))
        source: dict[str, Any] | None = result.get("_source") if result.get("found") else None
        return source

    def _bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/_bulk", raw=_ndjson(lines), params=self._params())

    def _delete_ids(self, ids: Sequence[str]) -> None:
        """Delete chunks by id with one ``_bulk``; ids already gone (404) are fine."""
        if not ids:
            return
        result = self._bulk([{"delete": {"_index": self.index, "_id": i}} for i in ids])
        if result.get("errors") and _first_bulk_error(result, ignore_missing=True):
            raise SearchIndexError(
                f"OpenSearch could not delete old chunks: {_first_bulk_error(result)}",
                transient=True,
            )

    def _chunk_lines(
        self, doc: IndexedDocument, chunks: Sequence[ChunkRecord], matrix: Any, ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for chunk, vector, chunk_id in zip(chunks, matrix, ids, strict=True):
            lines.append({"index": {"_index": self.index, "_id": chunk_id}})
            lines.append(
                {
                    "doc_id": doc.doc_id,
                    "key": doc.key,
                    "generation": chunk_id.split(":")[1],
                    "chunk_index": chunk.chunk_index,
                    "text": chunk.text,
                    "heading": chunk.heading,
                    "embedding": [float(x) for x in vector],
                }
            )
        return lines

    def upsert(self, doc: IndexedDocument, chunks: Sequence[ChunkRecord], vectors: Any) -> None:
        """Write a new generation of ``doc``'s chunks, then drop the old ones (see module doc)."""
        matrix = as_matrix(vectors, rows=len(chunks), dimension=self.dimension)
        old = self._record(doc.doc_id) or {}
        generation = uuid.uuid4().hex
        ids = [f"{doc.doc_id}:{generation}:{c.chunk_index}" for c in chunks]
        if ids:
            result = self._bulk(self._chunk_lines(doc, chunks, matrix, ids))
            if result.get("errors"):
                self._delete_ids(ids)  # remove the partial new generation; the old one stays
                raise SearchIndexError(
                    f"OpenSearch bulk write of {doc.doc_id} failed: {_first_bulk_error(result)}"
                )
        # The record names the chunks to drop, so a retry after a failed delete still finds them.
        stale = [i for i in [*old.get("chunk_ids", []), *old.get("stale_ids", [])] if i not in ids]
        record = {
            "doc_id": doc.doc_id,
            "key": doc.key,
            "sha256": doc.sha256,
            "media_type": doc.media_type,
            "title": doc.title,
            "metadata": dict(doc.metadata),
            "chunks": len(chunks),
            "generation": generation,
            "chunk_ids": ids,
            "stale_ids": stale,
        }
        path = f"/{self.documents_index}/_doc/{doc.doc_id}"
        self._call("PUT", path, body=record, params=self._params())
        if stale:
            self._delete_ids(stale)
            self._call("PUT", path, body={**record, "stale_ids": []}, params=self._params())

    def delete(self, doc_id: str) -> bool:
        """Remove a document's chunks and record; return whether the record existed."""
        record = self._record(doc_id)
        if record is None:
            return False
        self._delete_ids([*record.get("chunk_ids", []), *record.get("stale_ids", [])])
        self._call(
            "DELETE",
            f"/{self.documents_index}/_doc/{doc_id}",
            params=self._params(),
            allow=(404,),
        )
        return True

    # -- reads ------------------------------------------------------------------------------

    def _lexical_body(self, text: str, depth: int) -> dict[str, Any]:
        return {
            "size": depth,
            "_source": _SOURCE_FIELDS,
            "query": {"multi_match": {"query": text, "fields": ["text", "heading^0.5"]}},
        }

    def _vector_body(self, vector: Any, depth: int) -> dict[str, Any]:
        return {
            "size": depth,
            "_source": _SOURCE_FIELDS,
            "query": {"knn": {"embedding": {"vector": [float(x) for x in vector], "k": depth}}},
        }

    def search(
        self,
        query_text: str,
        query_vector: Any | None = None,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        dedupe: bool = True,
    ) -> list[Hit]:
        """Search (see :meth:`Index.search`); hybrid is one ``_msearch`` fused client-side."""
        mode = check_mode(mode)
        if k <= 0 or (mode == "lexical" and not query_text.strip()):
            return []
        depth = candidate_depth(k)
        if mode == "lexical":
            hits = _hits(
                self._call(
                    "POST", f"/{self.index}/_search", body=self._lexical_body(query_text, depth)
                )
            )
            return (dedupe_hits(hits) if dedupe else hits)[:k]
        vector = as_query_vector(query_vector, dimension=self.dimension)
        if mode == "vector":
            hits = _hits(
                self._call("POST", f"/{self.index}/_search", body=self._vector_body(vector, depth))
            )
            return (dedupe_hits(hits) if dedupe else hits)[:k]
        lines = [
            {"index": self.index},
            self._lexical_body(query_text, depth),
            {"index": self.index},
            self._vector_body(vector, depth),
        ]
        responses = self._call("POST", "/_msearch", raw=_ndjson(lines)).get("responses", [])
        if len(responses) != 2 or any("error" in r for r in responses):
            raise SearchIndexError(f"OpenSearch _msearch failed: {json.dumps(responses)[:300]}")
        return fuse(
            _hits(responses[0]),
            _hits(responses[1]),
            k=k,
            query_text=query_text,
            method=self.fusion,
            alpha=self.alpha,
            dedupe=dedupe,
        )

    def stats(self) -> dict[str, int]:
        """``{"documents": n, "chunks": m}`` from ``_count``."""
        docs = self._call("GET", f"/{self.documents_index}/_count")
        chunks = self._call("GET", f"/{self.index}/_count")
        return {"documents": int(docs.get("count", 0)), "chunks": int(chunks.get("count", 0))}

    def get_document(self, doc_id: str) -> IndexedDocument | None:
        """The document record, or None."""
        result = self._call("GET", f"/{self.documents_index}/_doc/{doc_id}", allow=(404,))
        if not result.get("found"):
            return None
        src = result.get("_source", {})
        return IndexedDocument(
            doc_id=src.get("doc_id", doc_id),
            key=src.get("key", ""),
            sha256=src.get("sha256", ""),
            media_type=src.get("media_type", ""),
            title=src.get("title", ""),
            metadata=src.get("metadata") or {},
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


def _first_bulk_error(result: dict[str, Any], *, ignore_missing: bool = False) -> str:
    """The first failed item of a ``_bulk`` response ("" if none; 404s skipped if asked)."""
    for item in result.get("items", []):
        for action in item.values():
            if not isinstance(action, dict) or action.get("status", 200) < 300:
                continue
            if ignore_missing and action.get("status") == 404:
                continue
            return json.dumps(action.get("error", action))[:300]
    return ""
