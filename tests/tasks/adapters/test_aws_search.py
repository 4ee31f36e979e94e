"""AWS search adapters: OpenSearch over httpx (MockTransport) and Kendra (botocore Stubber)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
from botocore.credentials import Credentials
from botocore.stub import ANY, Stubber
from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters.index import (
    ChunkRecord,
    Index,
    IndexedDocument,
    KendraIndex,
    OpenSearchIndex,
    SearchIndexError,
    SigV4Auth,
)

ENDPOINT = "https://search-kb.us-east-1.es.amazonaws.com"
DOC = IndexedDocument(
    doc_id="d1", key="guides/setup.md", sha256="abc", title="Setup", metadata={"run": "r1"}
)
CHUNKS = [
    ChunkRecord(0, "Install the package."),
    ChunkRecord(1, "Run the ingest command.", heading="Usage"),
]
VECTORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)


class Recorder:
    """An httpx MockTransport handler that records requests and replies from a route table."""

    def __init__(
        self, routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]]
    ) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(
                404, json={"error": f"no route {request.method} {request.url.path}"}
            )
        return handler(request)

    def bodies(self, method: str, path: str) -> list[bytes]:
        return [r.content for r in self.requests if r.method == method and r.url.path == path]


def _ok(payload: dict[str, Any], status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=payload)


def _opensearch(
    routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]], **kw: Any
) -> tuple[OpenSearchIndex, Recorder]:
    recorder = Recorder(routes)
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "session-token"), "us-east-1", "es")
    client = httpx.Client(base_url=ENDPOINT, transport=httpx.MockTransport(recorder), auth=auth)
    return OpenSearchIndex(client, dimension=3, index="kb", **kw), recorder


def _ndjson(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines() if line]


def _search_response(*hits: tuple[str, int, float, str]) -> dict[str, Any]:
    return {
        "hits": {
            "hits": [
                {
                    "_id": f"{doc}:g:{chunk}",
                    "_score": score,
                    "_source": {
                        "doc_id": doc,
                        "key": f"{doc}.md",
                        "chunk_index": chunk,
                        "text": text,
                    },
                }
                for doc, chunk, score, text in hits
            ]
        }
    }


def test_requests_are_sigv4_signed() -> None:
    index, rec = _opensearch(
        {
            ("GET", "/kb-documents/_count"): _ok({"count": 2}),
            ("GET", "/kb/_count"): _ok({"count": 5}),
        }
    )
    assert index.stats() == {"documents": 2, "chunks": 5}
    auth = rec.requests[0].headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/es/aws4_request" in auth and "SignedHeaders=" in auth
    assert rec.requests[0].headers["X-Amz-Security-Token"] == "session-token"
    assert len(rec.requests[0].headers["x-amz-content-sha256"]) == 64


def test_create_indices_only_when_missing() -> None:
    index, rec = _opensearch(
        {
            ("HEAD", "/kb"): lambda r: httpx.Response(404),
            ("HEAD", "/kb-documents"): lambda r: httpx.Response(200),
            ("PUT", "/kb"): _ok({"acknowledged": True}),
        }
    )
    index.create_indices()
    (body,) = rec.bodies("PUT", "/kb")
    mapping = json.loads(body)
    assert mapping["settings"]["index"]["knn"] is True
    vector = mapping["mappings"]["properties"]["embedding"]
    assert vector["type"] == "knn_vector" and vector["dimension"] == 3
    assert vector["method"]["space_type"] == "cosinesimil"
    assert rec.bodies("PUT", "/kb-documents") == []


def _bulk_router(
    store: dict[str, dict[str, Any]], fail_index: bool = False
) -> Callable[[httpx.Request], httpx.Response]:
    """A tiny in-memory ``_bulk``: index/delete actions on ``store`` (404 for missing deletes)."""

    def handle(request: httpx.Request) -> httpx.Response:
        lines, items, errors = _ndjson(request.content), [], False
        while lines:
            action = lines.pop(0)
            if "index" in action:
                body, meta = lines.pop(0), action["index"]
                if fail_index and body["chunk_index"] == 1:
                    errors = True
                    items.append(
                        {
                            "index": {
                                "_id": meta["_id"],
                                "status": 400,
                                "error": {"type": "mapper_parsing_exception"},
                            }
                        }
                    )
                    continue
                store[meta["_id"]] = body
                items.append({"index": {"_id": meta["_id"], "status": 201}})
            else:
                found = store.pop(action["delete"]["_id"], None) is not None
                items.append(
                    {"delete": {"_id": action["delete"]["_id"], "status": 200 if found else 404}}
                )
                errors = errors or not found
        return httpx.Response(200, json={"errors": errors, "items": items})

    return handle


def _records(records: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Any]:
    def get(request: httpx.Request) -> httpx.Response:
        doc_id = request.url.path.rsplit("/", 1)[1]
        if doc_id in records:
            return httpx.Response(200, json={"found": True, "_source": records[doc_id]})
        return httpx.Response(404, json={"found": False})

    def put(request: httpx.Request) -> httpx.Response:
        records[request.url.path.rsplit("/", 1)[1]] = json.loads(request.content)
        return httpx.Response(200, json={"result": "updated"})

    def delete(request: httpx.Request) -> httpx.Response:
        found = records.pop(request.url.path.rsplit("/", 1)[1], None) is not None
        return httpx.Response(
            200 if found else 404, json={"result": "deleted" if found else "not_found"}
        )

    return {
        (m, "/kb-documents/_doc/d1"): f for m, f in (("GET", get), ("PUT", put), ("DELETE", delete))
    }


def test_upsert_writes_new_generation_then_drops_old() -> None:
    chunks: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    index, rec = _opensearch({("POST", "/_bulk"): _bulk_router(chunks), **_records(records)})
    index.upsert(DOC, CHUNKS, VECTORS)
    first = dict(chunks)
    assert len(first) == 2 and records["d1"]["chunk_ids"] == sorted(first, key=lambda i: i[-1])
    bulk = rec.requests[1]
    assert bulk.headers["Content-Type"] == "application/x-ndjson"
    assert bulk.url.params["refresh"] == "wait_for"
    lines = _ndjson(bulk.content)
    generation = lines[1]["generation"]
    assert lines[0] == {"index": {"_index": "kb", "_id": f"d1:{generation}:0"}}
    assert lines[3]["embedding"] == [0.0, 1.0, 0.0] and lines[3]["heading"] == "Usage"
    assert records["d1"]["metadata"] == {"run": "r1"} and records["d1"]["chunks"] == 2

    rec.requests.clear()
    index.upsert(DOC, [ChunkRecord(0, "Only one chunk now.")], VECTORS[:1])
    assert [(r.method, r.url.path) for r in rec.requests] == [
        ("GET", "/kb-documents/_doc/d1"),
        ("POST", "/_bulk"),  # the new generation
        ("PUT", "/kb-documents/_doc/d1"),  # record: new ids, old ids marked stale
        ("POST", "/_bulk"),  # old chunks deleted by id (no _delete_by_query)
        ("PUT", "/kb-documents/_doc/d1"),  # nothing stale any more
    ]
    assert set(json.loads(rec.requests[2].content)["stale_ids"]) == set(first)
    assert list(chunks) == records["d1"]["chunk_ids"] and records["d1"]["stale_ids"] == []
    assert chunks[records["d1"]["chunk_ids"][0]]["text"] == "Only one chunk now."


def test_failed_bulk_removes_partial_generation_and_keeps_old() -> None:
    chunks: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    index, _ = _opensearch({("POST", "/_bulk"): _bulk_router(chunks), **_records(records)})
    index.upsert(DOC, CHUNKS[:1], VECTORS[:1])
    before_chunks, before_record = dict(chunks), dict(records["d1"])
    failing, rec = _opensearch(
        {("POST", "/_bulk"): _bulk_router(chunks, fail_index=True), **_records(records)}
    )
    with pytest.raises(SearchIndexError, match="mapper_parsing_exception"):
        failing.upsert(DOC, CHUNKS, VECTORS)
    assert chunks == before_chunks and records["d1"] == before_record
    assert [r.method for r in rec.requests] == ["GET", "POST", "POST"]  # no record update


def test_a_failed_old_chunk_delete_is_retried_from_the_record() -> None:
    chunks: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    index, _ = _opensearch({("POST", "/_bulk"): _bulk_router(chunks), **_records(records)})
    index.upsert(DOC, CHUNKS, VECTORS)
    old_ids = list(records["d1"]["chunk_ids"])

    def refuse_deletes(request: httpx.Request) -> httpx.Response:
        if b'"delete"' in request.content:
            return httpx.Response(503, json={"error": "busy"})
        return _bulk_router(chunks)(request)

    flaky, _ = _opensearch({("POST", "/_bulk"): refuse_deletes, **_records(records)})
    with pytest.raises(SearchIndexError) as info:
        flaky.upsert(DOC, CHUNKS[:1], VECTORS[:1])
    assert info.value.transient and set(records["d1"]["stale_ids"]) == set(old_ids)
    index.upsert(DOC, CHUNKS[:1], VECTORS[:1])  # the retry
    assert set(chunks) == set(records["d1"]["chunk_ids"]) and len(chunks) == 1


def test_upsert_refuses_wrong_vectors() -> None:
    index, rec = _opensearch({})
    with pytest.raises(ConfigurationError):
        index.upsert(DOC, CHUNKS, np.ones((2, 4)))
    assert rec.requests == []


def test_lexical_and_vector_search_bodies() -> None:
    response = _search_response(
        ("d1", 1, 7.5, "Run the ingest command."),
        ("d1", 0, 3.0, "Install"),
        ("d2", 0, 2.0, "Other"),
    )
    index, rec = _opensearch({("POST", "/kb/_search"): _ok(response)})
    hits = index.search('ingest "command', k=2, mode="lexical")
    assert [(h.doc_id, h.chunk_index, h.key) for h in hits] == [
        ("d1", 1, "d1.md"),
        ("d2", 0, "d2.md"),
    ]
    body = json.loads(rec.requests[0].content)
    assert body["query"]["multi_match"]["query"] == 'ingest "command'
    assert body["size"] == 50
    index.search("q", [0.0, 0.0, 1.0], k=3, mode="vector", dedupe=False)
    knn = json.loads(rec.requests[1].content)["query"]["knn"]["embedding"]
    assert knn == {"vector": [0.0, 0.0, 1.0], "k": 50}
    with pytest.raises(ConfigurationError):
        index.search("q", [1.0, 0.0], mode="vector")


def test_hybrid_is_one_msearch_fused_client_side() -> None:
    lexical = _search_response(
        ("d1", 0, 9.0, "ingest command"), ("d2", 0, 8.0, "ingest"), ("d3", 0, 1.0, "x")
    )
    vector = _search_response(("d3", 0, 0.95, "x"), ("d2", 0, 0.9, "ingest"), ("d4", 0, 0.1, "y"))
    index, rec = _opensearch({("POST", "/_msearch"): _ok({"responses": [lexical, vector]})})
    hits = index.search("ingest command", [1.0, 0.0, 0.0], k=4)
    lines = _ndjson(rec.requests[0].content)
    assert [line.get("index") for line in lines[::2]] == ["kb", "kb"]
    assert "multi_match" in lines[1]["query"] and "knn" in lines[3]["query"]
    assert [h.doc_id for h in hits] == [
        "d1",
        "d2",
        "d3",
        "d4",
    ]  # full lexical coverage: BM25 order first


def test_msearch_error_is_raised() -> None:
    index, _ = _opensearch(
        {("POST", "/_msearch"): _ok({"responses": [{"error": {"type": "x"}}, {}]})}
    )
    with pytest.raises(SearchIndexError, match="_msearch"):
        index.search("q", [1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (503, True), (400, False), (403, False)]
)
def test_http_errors_are_typed(status: int, transient: bool) -> None:
    index, _ = _opensearch({("POST", "/kb/_search"): _ok({"error": "nope"}, status)})
    with pytest.raises(SearchIndexError) as info:
        index.search("q", mode="lexical")
    assert info.value.transient is transient and str(status) in str(info.value)


def test_network_error_is_transient() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(base_url=ENDPOINT, transport=httpx.MockTransport(boom))
    with pytest.raises(SearchIndexError) as info:
        OpenSearchIndex(client, dimension=3).stats()
    assert info.value.transient


def test_get_document_and_delete() -> None:
    chunks: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    index, _ = _opensearch({("POST", "/_bulk"): _bulk_router(chunks), **_records(records)})
    index.upsert(DOC, CHUNKS, VECTORS)
    doc = index.get_document("d1")
    assert doc == IndexedDocument("d1", "guides/setup.md", "abc", "", "Setup")
    assert doc is not None and doc.metadata == {"run": "r1"}
    assert index.delete("d1") is True
    assert chunks == {} and records == {}
    assert index.get_document("d1") is None and index.delete("d1") is False
    assert isinstance(index, Index)


def test_writes_without_refresh_for_serverless() -> None:
    chunks: dict[str, dict[str, Any]] = {}
    index, rec = _opensearch(
        {("POST", "/_bulk"): _bulk_router(chunks), **_records({})}, refresh=None
    )
    index.upsert(DOC, CHUNKS, VECTORS)
    assert all("refresh" not in r.url.params for r in rec.requests)


# -- Kendra ---------------------------------------------------------------------------------

INDEX_ID = "0123abcd-0123-4567-89ab-0123456789ab"


@pytest.fixture()
def kendra() -> Any:
    return boto3.client(
        "kendra", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_kendra_upsert_puts_one_document(kendra: Any) -> None:
    expected = {
        "IndexId": INDEX_ID,
        "Documents": [
            {
                "Id": "d1",
                "Title": "Setup",
                "Blob": b"Install the package.\n\nRun the ingest command.",
                "ContentType": "PLAIN_TEXT",
                "Attributes": [{"Key": "_source_uri", "Value": {"StringValue": "guides/setup.md"}}],
            }
        ],
    }
    with Stubber(kendra) as stub:
        stub.add_response("batch_put_document", {"FailedDocuments": []}, expected)
        KendraIndex(kendra, index_id=INDEX_ID).upsert(DOC, list(reversed(CHUNKS)), VECTORS)
        stub.assert_no_pending_responses()


def test_kendra_refusal_raises(kendra: Any) -> None:
    failed = {
        "FailedDocuments": [{"Id": "d1", "ErrorCode": "InvalidRequest", "ErrorMessage": "too big"}]
    }
    with Stubber(kendra) as stub:
        stub.add_response("batch_put_document", failed, {"IndexId": INDEX_ID, "Documents": ANY})
        with pytest.raises(SearchIndexError, match="too big"):
            KendraIndex(kendra, index_id=INDEX_ID).upsert(DOC, CHUNKS, None)


def test_kendra_throttling_is_transient(kendra: Any) -> None:
    with Stubber(kendra) as stub:
        stub.add_client_error(
            "retrieve", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(SearchIndexError) as info:
            KendraIndex(kendra, index_id=INDEX_ID).search("setup")
    assert info.value.transient


def test_kendra_retrieve_maps_passages_to_hits(kendra: Any) -> None:
    items = [
        {
            "Id": "p1",
            "DocumentId": "d1",
            "DocumentTitle": "Setup",
            "Content": "Install the package.",
            "DocumentURI": "guides/setup.md",
            "ScoreAttributes": {"ScoreConfidence": "HIGH"},
        },
        {
            "Id": "p2",
            "DocumentId": "d1",
            "DocumentTitle": "Setup",
            "Content": "Run the ingest command.",
            "DocumentURI": "guides/setup.md",
            "ScoreAttributes": {"ScoreConfidence": "HIGH"},
        },
        {
            "Id": "p3",
            "DocumentId": "d2",
            "DocumentTitle": "FAQ",
            "Content": "Questions.",
            "ScoreAttributes": {"ScoreConfidence": "LOW"},
        },
    ]
    long_query = "install " * 300
    with Stubber(kendra) as stub:
        stub.add_response(
            "retrieve",
            {"QueryId": "q", "ResultItems": items},
            {"IndexId": INDEX_ID, "QueryText": long_query.strip()[:1000], "PageSize": 6},
        )
        hits = KendraIndex(kendra, index_id=INDEX_ID).search(long_query, k=2, mode="lexical")
    assert [(h.doc_id, h.key, h.chunk_index, h.text) for h in hits] == [
        ("d1", "guides/setup.md", -1, "Install the package."),
        ("d2", "FAQ", -1, "Questions."),
    ]
    assert hits[0].score > hits[1].score
    assert KendraIndex(kendra, index_id=INDEX_ID).search("   ") == []


def test_kendra_delete_stats_and_get_document(kendra: Any) -> None:
    index = KendraIndex(kendra, index_id=INDEX_ID)
    status = {
        "DocumentStatusList": [{"DocumentId": "d1", "DocumentStatus": "INDEXED"}],
        "Errors": [],
    }
    with Stubber(kendra) as stub:
        stub.add_response(
            "batch_get_document_status",
            status,
            {"IndexId": INDEX_ID, "DocumentInfoList": [{"DocumentId": "d1"}]},
        )
        stub.add_response(
            "batch_delete_document",
            {"FailedDocuments": []},
            {"IndexId": INDEX_ID, "DocumentIdList": ["d1"]},
        )
        stub.add_response(
            "describe_index",
            {
                "IndexStatistics": {
                    "FaqStatistics": {"IndexedQuestionAnswersCount": 0},
                    "TextDocumentStatistics": {
                        "IndexedTextDocumentsCount": 7,
                        "IndexedTextBytes": 100,
                    },
                }
            },
            {"Id": INDEX_ID},
        )
        stub.add_response(
            "batch_get_document_status",
            {"DocumentStatusList": [{"DocumentId": "d9", "DocumentStatus": "NOT_FOUND"}]},
            {"IndexId": INDEX_ID, "DocumentInfoList": [{"DocumentId": "d9"}]},
        )
        assert index.delete("d1") is True
        assert index.stats() == {"documents": 7, "chunks": 7}
        assert index.get_document("d9") is None
        stub.assert_no_pending_responses()
    assert isinstance(index, Index)


def test_kendra_upsert_without_chunks_deletes(kendra: Any) -> None:
    with Stubber(kendra) as stub:
        stub.add_response(
            "batch_get_document_status",
            {"DocumentStatusList": []},
            {"IndexId": INDEX_ID, "DocumentInfoList": [{"DocumentId": "d1"}]},
        )
        stub.add_response(
            "batch_delete_document",
            {"FailedDocuments": []},
            {"IndexId": INDEX_ID, "DocumentIdList": ["d1"]},
        )
        KendraIndex(kendra, index_id=INDEX_ID).upsert(DOC, [], None)
        stub.assert_no_pending_responses()


def test_from_env_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("KBFLOW_OPENSEARCH_ENDPOINT", raising=False)
    monkeypatch.delenv("KBFLOW_KENDRA_INDEX_ID", raising=False)
    with pytest.raises(ConfigurationError, match="KBFLOW_OPENSEARCH_ENDPOINT"):
        OpenSearchIndex.from_env()
    with pytest.raises(ConfigurationError, match="KBFLOW_KENDRA_INDEX_ID"):
        KendraIndex.from_env()
    monkeypatch.setenv("KBFLOW_OPENSEARCH_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("KBFLOW_OPENSEARCH_INDEX", "docs")
    monkeypatch.setenv("KBFLOW_BEDROCK_EMBED_DIMENSIONS", "512")
    monkeypatch.setenv("KBFLOW_KENDRA_INDEX_ID", INDEX_ID)
    opensearch = OpenSearchIndex.from_env()
    assert (opensearch.index, opensearch.documents_index, opensearch.dimension) == (
        "docs",
        "docs-documents",
        512,
    )
    opensearch.close()
    assert KendraIndex.from_env().index_id == INDEX_ID


def test_adapters_import_without_numpy() -> None:
    # The Lambda package leaves numpy out (deploy/package.py): handlers import these modules for
    # their error types, so importing them must not need numpy.
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from kbflow.tasks.adapters.index import KendraIndex, SearchIndexError, fuse, Hit\n"
        "from kbflow.tasks.adapters.embedder import BedrockEmbedder, EmbeddingError\n"
        "print(fuse([Hit('k', 'd', 0, 1.0, 't')], [], k=1)[0].doc_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "d"
