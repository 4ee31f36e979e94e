"""The local hybrid index (SQLite FTS5 + sqlite-vec), fusion and the known-item check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters.index import (
    SEARCH_MODES,
    ChunkRecord,
    Fusion,
    Hit,
    Index,
    IndexedDocument,
    LocalIndex,
    SearchIndexError,
    SearchMode,
    adaptive_alpha,
    dedupe_hits,
    fts_query,
    fuse,
    lexical_coverage,
    phrase_boost,
    search_query,
)
from kbflow.tasks.core.evaluation import evaluate_known_items, sample_queries

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"
DIM = 8


def _vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i in hot:
        v[i] = 1.0
    return v / np.linalg.norm(v)


def _doc(doc_id: str, **kw: Any) -> IndexedDocument:
    return IndexedDocument(doc_id=doc_id, key=f"docs/{doc_id}.txt", **kw)


@pytest.fixture()
def index(tmp_path: Path) -> Any:
    ix = LocalIndex(tmp_path / "index.sqlite3", dimension=DIM, model_id="test-model")
    ix.upsert(
        _doc("apple", sha256="s1", metadata={"run": "r1"}),
        [
            ChunkRecord(0, "Apples grow on trees in the orchard."),
            ChunkRecord(1, "Cider is pressed from apples in autumn.", heading="Cider"),
        ],
        np.vstack([_vec(0), _vec(0, 1)]),
    )
    ix.upsert(
        _doc("rust"),
        [ChunkRecord(0, "Rust is a systems programming language.")],
        np.vstack([_vec(2)]),
    )
    ix.upsert(
        _doc("sqlite"),
        [ChunkRecord(0, "SQLite stores a whole database in one file.")],
        np.vstack([_vec(3)]),
    )
    yield ix
    ix.close()


def test_local_index_satisfies_protocol(index: LocalIndex) -> None:
    assert isinstance(index, Index)


def test_stats_and_get_document(index: LocalIndex) -> None:
    assert index.stats() == {"documents": 3, "chunks": 4}
    doc = index.get_document("apple")
    assert (
        doc is not None
        and doc.key == "docs/apple.txt"
        and doc.sha256 == "s1"
        and doc.metadata == {"run": "r1"}
    )
    assert index.get_document("nope") is None
    assert [c.heading for c in index.chunks("apple")] == ["", "Cider"]


def test_lexical_search_uses_bm25_and_stemming(index: LocalIndex) -> None:
    hits = index.search("pressing apple", k=5, mode="lexical")
    assert [h.doc_id for h in hits] == ["apple"]
    assert hits[0].key == "docs/apple.txt" and hits[0].score > 0
    all_chunks = index.search("apples", k=5, mode="lexical", dedupe=False)
    assert sorted(h.chunk_index for h in all_chunks) == [0, 1]


def test_vector_search_orders_by_cosine(index: LocalIndex) -> None:
    hits = index.search("", _vec(3), k=3, mode="vector")
    assert hits[0].doc_id == "sqlite" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 3 and len({h.doc_id for h in hits}) == 3
    chunk_hits = index.search("", _vec(0), k=10, mode="vector", dedupe=False)
    assert len(chunk_hits) == 4 and (chunk_hits[0].doc_id, chunk_hits[0].chunk_index) == (
        "apple",
        0,
    )


def test_hybrid_combines_both_sides(index: LocalIndex) -> None:
    # Lexically only "rust" matches; by vector only "sqlite" is close: both must come back.
    hits = index.search("programming language", _vec(3), k=5, mode="hybrid")
    assert {h.doc_id for h in hits[:2]} == {"rust", "sqlite"}
    index.fusion = "rrf"
    assert {h.doc_id for h in index.search("programming language", _vec(3), k=2)} == {
        "rust",
        "sqlite",
    }


class _CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Any) -> np.ndarray:
        self.calls.append(list(texts))
        return np.vstack([_vec(3)] * len(texts))


def test_search_query_embeds_only_when_needed(index: LocalIndex) -> None:
    embedder = _CountingEmbedder()
    assert search_query(index, embedder, "cider", k=3, mode="lexical")[0].doc_id == "apple"
    assert embedder.calls == []
    assert search_query(index, embedder, "whole database", k=1, mode="vector")[0].doc_id == "sqlite"
    assert search_query(index, embedder, "cider", k=2)[0].doc_id == "apple"
    assert embedder.calls == [["whole database"], ["cider"]]


def test_search_argument_checks(index: LocalIndex) -> None:
    with pytest.raises(ConfigurationError, match="search mode"):
        index.search("x", _vec(0), mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="query vector"):
        index.search("x", None, mode="vector")
    with pytest.raises(ConfigurationError, match="dimensions"):
        index.search("x", np.ones(3), mode="hybrid")
    assert index.search("apples", _vec(0), k=0) == []


AWKWARD = [
    '"',
    '""',
    "'",
    "AND",
    "apples AND",
    "OR OR",
    "NOT",
    "NEAR(apples",
    "apples*",
    "*",
    "^apples",
    "-apples",
    "text:apples",
    "{text heading}: apples",
    "(apples",
    "apples)",
    "a + b",
    "",
    "   ",
    "\u00fcber \u00e9t\u00e9",
    "\U0001f34e apples \U0001f34e",
    "NULL",
    "\x00",
    "apples" * 2000,
    " ".join(["apples"] * 500),
    "c'est \"l'apple\" -- DROP TABLE chunks;",
]


@pytest.mark.parametrize("query", AWKWARD)
def test_awkward_queries_never_raise(index: LocalIndex, query: str) -> None:
    modes: tuple[SearchMode, ...] = ("lexical", "hybrid")
    for mode in modes:
        hits = index.search(query, _vec(0), k=3, mode=mode)
        assert isinstance(hits, list)
    assert index.stats()["chunks"] == 4


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ix = LocalIndex(tmp_path_factory.mktemp("prop") / "index.sqlite3", dimension=DIM)
    ix.upsert(
        _doc("a"),
        [ChunkRecord(0, "Ünïcode text, quotes \" and 'operators' AND OR NOT")],
        np.vstack([_vec(0)]),
    )
    yield ix
    ix.close()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_query_text_is_safe(shared_index: LocalIndex, text: str) -> None:
    hits = shared_index.search(text, _vec(1), k=3, mode="hybrid")
    assert all(h.doc_id == "a" for h in hits)
    match = fts_query(text)
    assert match is None or all(part.startswith('"') for part in match.split(" OR "))


def test_fts_query_quotes_every_term() -> None:
    assert (
        fts_query('He said "NEAR(x)" AND y*') == '"he" OR "said" OR "near" OR "x" OR "and" OR "y"'
    )
    assert fts_query("  -- ** ") is None
    assert fts_query("a a A b") == '"a" OR "b"'
    assert str(fts_query(" ".join(f"w{i}" for i in range(100)))).count(" OR ") == 63


def test_upsert_replaces_old_chunks(index: LocalIndex) -> None:
    index.upsert(
        _doc("apple", sha256="s2"),
        [ChunkRecord(0, "Pears are sweeter than quinces.")],
        np.vstack([_vec(5)]),
    )
    assert index.stats() == {"documents": 3, "chunks": 3}
    assert index.search("orchard cider", k=5, mode="lexical") == []
    assert index.search("quinces", k=5, mode="lexical")[0].doc_id == "apple"
    vector_hits = index.search("", _vec(0), k=10, mode="vector", dedupe=False)
    assert all(h.doc_id != "apple" or h.chunk_index == 0 for h in vector_hits)
    assert index.search("", _vec(5), k=1, mode="vector")[0].doc_id == "apple"
    doc = index.get_document("apple")
    assert doc is not None and doc.sha256 == "s2"


def test_failed_upsert_leaves_old_version_intact(index: LocalIndex) -> None:
    # The duplicate chunk_index fails on the second insert, after the old chunks were deleted
    # inside the transaction: the rollback must bring them all back.
    broken = [ChunkRecord(0, "new text zebra"), ChunkRecord(0, "duplicate index zebra")]
    with pytest.raises(SearchIndexError, match="UNIQUE"):
        index.upsert(_doc("apple", sha256="bad"), broken, np.vstack([_vec(6), _vec(7)]))
    assert index.stats() == {"documents": 3, "chunks": 4}
    doc = index.get_document("apple")
    assert doc is not None and doc.sha256 == "s1"
    assert index.search("zebra", k=5, mode="lexical") == []
    assert index.search("orchard", k=5, mode="lexical")[0].doc_id == "apple"
    assert index.search("", _vec(0), k=1, mode="vector")[0].doc_id == "apple"
    assert index.verify() == []
    # ... and the index still accepts writes afterwards.
    index.upsert(_doc("zebra"), [ChunkRecord(0, "zebra")], np.vstack([_vec(7)]))
    assert index.search("zebra", k=5, mode="lexical")[0].doc_id == "zebra"


def test_bad_vectors_are_refused_before_writing(index: LocalIndex) -> None:
    with pytest.raises(ConfigurationError, match="matrix"):
        index.upsert(_doc("x"), [ChunkRecord(0, "a"), ChunkRecord(1, "b")], np.vstack([_vec(0)]))
    with pytest.raises(ConfigurationError, match="NaN"):
        index.upsert(_doc("x"), [ChunkRecord(0, "a")], np.full((1, DIM), np.nan))
    assert index.get_document("x") is None


def test_delete(index: LocalIndex) -> None:
    assert index.delete("apple") is True
    assert index.delete("apple") is False
    assert index.stats() == {"documents": 2, "chunks": 2}
    assert index.search("apples", k=5, mode="lexical") == []
    assert all(
        h.doc_id != "apple" for h in index.search("", _vec(0), k=10, mode="vector", dedupe=False)
    )


def test_document_without_chunks(index: LocalIndex) -> None:
    index.upsert(_doc("empty"), [], np.zeros((0, DIM)))
    assert index.get_document("empty") is not None
    assert index.stats() == {"documents": 4, "chunks": 4}


def test_reopen_checks_dimension_and_model(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite3"
    with LocalIndex(path, dimension=DIM, model_id="m1") as ix:
        ix.upsert(_doc("a"), [ChunkRecord(0, "persisted text")], np.vstack([_vec(1)]))
    with LocalIndex(path) as again:  # dimension and model come from the file
        assert again.dimension == DIM and again.model_id == "m1"
        assert again.search("persisted", _vec(1), k=1)[0].doc_id == "a"
    with pytest.raises(ConfigurationError, match="dimension"):
        LocalIndex(path, dimension=4)
    with pytest.raises(ConfigurationError, match="model_id"):
        LocalIndex(path, model_id="other-model")


def test_dimension_is_learnt_from_the_first_upsert(tmp_path: Path) -> None:
    with LocalIndex(tmp_path / "i.sqlite3") as ix:
        assert ix.search("anything", _vec(0), k=3) == []
        ix.upsert(_doc("a"), [ChunkRecord(0, "first")], np.vstack([_vec(2)]))
        assert ix.search("", _vec(2), k=1, mode="vector")[0].doc_id == "a"
        with pytest.raises(ConfigurationError):
            ix.upsert(_doc("b"), [ChunkRecord(0, "x")], np.ones((1, 3)))


def test_verify_reports_inconsistencies(index: LocalIndex) -> None:
    assert index.verify() == []
    with index._write() as conn:
        conn.execute("DELETE FROM chunks_vec WHERE rowid = (SELECT min(id) FROM chunks)")
        conn.execute("UPDATE documents SET chunks = 9 WHERE doc_id = 'rust'")
    problems = index.verify()
    assert any("without one" in p for p in problems)
    assert any("chunk count" in p for p in problems)


def test_dimension_learnt_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite3"
    with LocalIndex(path) as first, LocalIndex(path) as second:
        broken = [ChunkRecord(0, "a"), ChunkRecord(0, "dup")]
        with pytest.raises(SearchIndexError):
            second.upsert(_doc("bad"), broken, np.ones((2, 5)))
        assert second.dimension is None  # the failed transaction taught nothing
        second.upsert(_doc("a"), [ChunkRecord(0, "learnt elsewhere")], np.vstack([_vec(4)]))
        assert first.search("", _vec(4), k=1, mode="vector")[0].doc_id == "a"
        assert first.dimension == DIM
        with pytest.raises(ConfigurationError):
            first.upsert(_doc("b"), [ChunkRecord(0, "x")], np.ones((1, 5)))


def test_a_forked_child_opens_its_own_connection(
    index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent_conn = index._connection()
    monkeypatch.setattr(os, "getpid", lambda: -42)  # what a child process after fork() sees
    assert index.search("orchard", k=1, mode="lexical")[0].doc_id == "apple"
    assert index._connection() is not parent_conn
    assert index._inherited == [parent_conn]
    index.close()  # closes the child's connection, never the parent's
    assert parent_conn.execute("SELECT 1").fetchone() == (1,)
    parent_conn.close()


def test_file_uses_wal(index: LocalIndex) -> None:
    with index._read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_in_process_readers_never_hide_later_writes(index: LocalIndex, tmp_path: Path) -> None:
    """A second LocalIndex on the file (opened, read, closed) while this one keeps writing.

    With a second SQLite library in the process (the standard ``sqlite3`` next to pysqlite3),
    closing the reader deleted the WAL under the writer and later writes vanished for every new
    reader; this is the pattern the tests' and the benchmark's index readers use.
    """
    for version in range(20):
        text = f"Apples, version {version}."
        index.upsert(_doc("apple"), [ChunkRecord(0, text)], np.vstack([_vec(0)]))
        reader = LocalIndex(tmp_path / "index.sqlite3")
        try:
            chunks = [t for key, _, t in reader.export_chunks() if key == "docs/apple.txt"]
        finally:
            reader.close()
        assert chunks == [text]
    assert (tmp_path / "index.sqlite3-wal").exists()


def test_export_chunks_lists_every_chunk_in_order(index: LocalIndex) -> None:
    assert index.export_chunks()[:2] == [
        ("docs/apple.txt", 0, "Apples grow on trees in the orchard."),
        ("docs/apple.txt", 1, "Cider is pressed from apples in autumn."),
    ]
    assert len(index.export_chunks()) == index.stats()["chunks"]


def test_nothing_opens_the_index_with_the_standard_sqlite3() -> None:
    """Project code reads index.sqlite3 only through LocalIndex (one SQLite library)."""
    root = Path(__file__).resolve().parents[3]
    offenders = []
    for folder in ("sdk", "tasks", "runtime", "workflows", "deploy", "benchmarks", "tests"):
        for path in (root / folder).rglob("*.py"):
            if path == Path(__file__).resolve():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if "sqlite3.connect" in line and "index.sqlite3" in line:
                    offenders.append(f"{path.relative_to(root)}: {line.strip()}")
    assert offenders == []


_WRITER = """
import sys, numpy as np
from kbflow.tasks.adapters.index import LocalIndex, IndexedDocument, ChunkRecord
path, name = sys.argv[1], sys.argv[2]
ix = LocalIndex(path, dimension=8)
rng = np.random.default_rng(abs(hash(name)) % 1000)
for i in range(25):
    n = 1 + i % 4
    ix.upsert(IndexedDocument(f"{name}-{i}", f"{name}/{i}.txt"),
              [ChunkRecord(j, f"{name} document {i} chunk {j}") for j in range(n)],
              rng.random((n, 8)))
    ix.upsert(IndexedDocument("shared", "shared.txt"),
              [ChunkRecord(j, f"shared by {name} version {i} chunk {j}") for j in range(n)],
              rng.random((n, 8)))
    if i % 5 == 4:
        ix.delete(f"{name}-{i - 1}")
ix.close()
"""


def test_concurrent_writers_from_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    LocalIndex(path, dimension=DIM).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name], stderr=subprocess.PIPE)
        for name in ("alpha", "beta")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with LocalIndex(path) as ix:
        # 25 docs each, 5 deleted each, plus the one shared document.
        assert ix.stats()["documents"] == 2 * 20 + 1
        shared = ix.chunks("shared")
        assert [c.chunk_index for c in shared] == list(range(len(shared)))
        assert (
            len({c.text.split(" version ")[0] for c in shared}) == 1
        )  # one writer's version, whole
        expected_chunks = 2 * sum(1 + i % 4 for i in range(25) if i % 5 != 3) + len(shared)
        assert ix.stats()["chunks"] == expected_chunks
        assert len(ix.search("shared", k=10, mode="lexical", dedupe=False)) == len(shared)
        assert ix.verify() == []


_CRASHER = """
import os, signal, sys, numpy as np
from kbflow.tasks.adapters.index import LocalIndex, IndexedDocument, ChunkRecord

class Crashing(LocalIndex):
    def _replace(self, conn, doc, chunks, matrix):
        super()._replace(conn, doc, chunks, matrix)  # old chunks deleted, new ones written ...
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before COMMIT

ix = Crashing(sys.argv[1])
ix.upsert(IndexedDocument("apple", "docs/apple.txt", sha256="crash"),
          [ChunkRecord(i, f"half written zebra {i}") for i in range(50)], np.ones((50, 8)))
"""


def test_a_writer_killed_mid_upsert_leaves_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    with LocalIndex(path, dimension=DIM) as ix:
        ix.upsert(
            _doc("apple", sha256="s1"), [ChunkRecord(0, "orchard apples")], np.vstack([_vec(0)])
        )
    proc = subprocess.run([sys.executable, "-c", _CRASHER, str(path)], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    with LocalIndex(path) as ix:
        assert ix.verify() == []
        doc = ix.get_document("apple")
        assert doc is not None and doc.sha256 == "s1"
        assert ix.stats() == {"documents": 1, "chunks": 1}
        assert ix.search("zebra", k=5, mode="lexical") == []
        assert ix.search("orchard", _vec(0), k=1)[0].doc_id == "apple"


# -- fusion ---------------------------------------------------------------------------------


def _hits(*ids: str, scores: list[float] | None = None) -> list[Hit]:
    scores = scores or [10.0 - i for i in range(len(ids))]
    out = []
    for ident, score in zip(ids, scores, strict=True):
        doc, _, chunk = ident.partition("#")
        out.append(Hit(key=doc, doc_id=doc, chunk_index=int(chunk or 0), score=score, text=ident))
    return out


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = fuse(_hits("a", "b", "c"), _hits("c", "b", "d"), k=4, method="rrf")
    assert [h.doc_id for h in fused] == ["c", "b", "a", "d"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1].score == pytest.approx(2 / 62)


def test_convex_keeps_a_decisive_lexical_margin() -> None:
    # "a" is far ahead lexically; on the vector side a, b and c are near-ties. RRF lets b
    # (2nd + 1st) win; convex fusion keeps the decisive lexical winner on top.
    lexical = _hits("a", "b", "c", scores=[30.0, 5.0, 4.0])
    vector = _hits("b", "c", "a", "d", "e", scores=[0.71, 0.70, 0.69, 0.40, 0.30])
    assert fuse(lexical, vector, k=3, method="rrf")[0].doc_id == "b"
    assert fuse(lexical, vector, k=3, method="convex", alpha=0.5)[0].doc_id == "a"


def test_adaptive_weight_follows_lexical_coverage() -> None:
    lexical = [
        Hit("k1", "d1", 0, 9.0, "the cider press"),
        Hit("k2", "d2", 0, 8.5, "a press release"),
        Hit("k4", "d4", 0, 2.0, "pressing"),
        Hit("k5", "d5", 0, 1.0, "pressed"),
    ]
    vector = [
        Hit("k2", "d2", 0, 0.9, "a press release"),
        Hit("k1", "d1", 0, 0.2, "the cider press"),
        Hit("k3", "d3", 0, 0.1, "unrelated"),
    ]
    assert adaptive_alpha("cider press", lexical) == pytest.approx(1.0)
    assert adaptive_alpha("apple juice press", lexical) == pytest.approx(0.3 + 0.7 / 3)
    assert adaptive_alpha("nothing", []) == pytest.approx(0.3)
    # Every query word in the best chunk: BM25 order is kept; vector-only d3 comes after.
    assert [h.doc_id for h in fuse(lexical, vector, k=5, query_text="cider press")] == [
        "d1",
        "d2",
        "d4",
        "d5",
        "d3",
    ]
    # One word in three: the vector side outweighs BM25.
    assert fuse(lexical, vector, k=3, query_text="fresh apple press")[0].doc_id == "d2"


def test_fusion_dedupes_documents_and_keeps_best_chunk() -> None:
    lexical = _hits("a#2", "a#0", "b#1")
    vector = _hits("b#0", "a#5")
    fused = fuse(lexical, vector, k=5)
    assert [h.doc_id for h in fused] == ["a", "b"] or [h.doc_id for h in fused] == ["b", "a"]
    by_doc = {h.doc_id: h.chunk_index for h in fused}
    assert by_doc == {"a": 2, "b": 1}
    assert len(fuse(lexical, vector, k=10, dedupe=False)) == 5
    assert [h.doc_id for h in dedupe_hits(lexical)] == ["a", "b"]


_hit_lists = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3), st.floats(0.0, 50.0)), max_size=12
).map(
    lambda rows: [
        Hit(key=d, doc_id=d, chunk_index=c, score=s, text=f"{d} words")
        for d, c, s in sorted(rows, key=lambda r: -r[2])
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    _hit_lists, _hit_lists, st.integers(1, 10), st.sampled_from(["convex", "rrf"]), st.booleans()
)
def test_fusion_invariants(
    lexical: list[Hit], vector: list[Hit], k: int, method: Fusion, dedupe: bool
) -> None:
    fused = fuse(lexical, vector, k=k, query_text="a words", method=method, dedupe=dedupe)
    inputs = {(h.doc_id, h.chunk_index, h.text) for h in [*lexical, *vector]}
    assert len(fused) <= k
    assert all((h.doc_id, h.chunk_index, h.text) in inputs for h in fused)
    assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)
    if dedupe:
        assert len({h.doc_id for h in fused}) == len(fused)
        expected = len({h.doc_id for h in [*lexical, *vector]})
    else:
        expected = len({(h.doc_id, h.chunk_index) for h in [*lexical, *vector]})
    assert len(fused) == min(k, expected)
    if method == "convex" and lexical and dedupe and lexical_coverage("a words", lexical) == 1.0:
        # Full lexical coverage: BM25's own document order comes first, unchanged.
        bm25_order = [h.doc_id for h in dedupe_hits(lexical)]
        assert [h.doc_id for h in fused][: len(bm25_order)] == bm25_order[:k]


# -- known-item check on real text with the real embedder -----------------------------------


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalIndex, dict[str, str], Any]:
    from kbflow.tasks.adapters.embedder import LocalEmbedder

    items = json.loads(REFERENCE.read_text(encoding="utf-8"))["items"]
    ix = LocalIndex(tmp_path_factory.mktemp("ki") / "index.sqlite3", dimension=384)
    docs: dict[str, str] = {}
    for n, item in enumerate(items):
        key = f"{item['source']}#{n}"
        docs[key] = item["text"]
        words = item["text"].split()
        chunks = [
            ChunkRecord(i, " ".join(words[s : s + 60]))
            for i, s in enumerate(range(0, len(words), 60))
        ]
        ix.upsert(
            IndexedDocument(doc_id=key, key=key), chunks, np.vstack([item["vector"]] * len(chunks))
        )
    return ix, docs, LocalEmbedder(threads=2)


@pytest.mark.parametrize("words", [12, 3])
def test_hybrid_not_worse_than_its_better_half(real_index: Any, words: int) -> None:
    ix, docs, embedder = real_index
    queries = sample_queries(docs, words=words, seed=5)
    vectors = dict(zip(queries.values(), embedder.embed(list(queries.values())), strict=True))

    def mrr_of(mode: SearchMode) -> float:
        def run(q: str) -> list[str]:
            return [h.key for h in ix.search(q, vectors[q], k=10, mode=mode)]

        return evaluate_known_items(run, queries).mrr

    mrr = {mode: mrr_of(mode) for mode in SEARCH_MODES}
    assert mrr["hybrid"] >= max(mrr["lexical"], mrr["vector"]), mrr
    assert mrr["hybrid"] >= 0.5, mrr


def test_coverage_counts_every_chunk_of_the_best_document() -> None:
    # The query's words straddle two chunks of d1: d1 is fully covered, so BM25 order is kept.
    lexical = [
        Hit("k1", "d1", 0, 9.0, "the cider"),
        Hit("k2", "d2", 0, 8.0, "cider and apple"),
        Hit("k1", "d1", 1, 7.0, "press opens"),
    ]
    vector = [Hit("k2", "d2", 0, 0.9, "cider and apple"), Hit("k1", "d1", 0, 0.1, "the cider")]
    assert lexical_coverage("cider press", lexical) == pytest.approx(1.0)
    assert [h.doc_id for h in fuse(lexical, vector, k=2, query_text="cider press")] == ["d1", "d2"]
    # Words of another document do not count towards the best one's coverage.
    assert lexical_coverage("cider apple press", lexical[:2]) == pytest.approx(1 / 3)


def test_phrase_boost_prefers_the_words_in_order() -> None:
    bag = Hit("k1", "d1", 0, 6.0, "fees, and the overdraft limit, and fees")
    phrase = Hit("k2", "d2", 0, 4.0, "Overdraft fees charged monthly")
    half = Hit("k3", "d3", 0, 5.0, "monthly overdraft fees")
    ranked = phrase_boost("overdraft fees charged", [bag, half, phrase])
    assert [h.doc_id for h in ranked] == ["d2", "d3", "d1"]
    assert ranked[0].score == pytest.approx(4.0 * 2)  # both pairs: score doubled
    assert ranked[1].score == pytest.approx(5.0 * 1.5)  # one pair of two
    assert ranked[2].score == pytest.approx(6.0)
    # One-word queries and weight 0 leave BM25's order alone; negative scores never drop.
    assert phrase_boost("fees", [bag, phrase]) == [bag, phrase]
    assert phrase_boost("overdraft fees", [bag, phrase], weight=0) == [bag, phrase]
    low = Hit("k4", "d4", 0, -1.0, "overdraft fees")
    assert phrase_boost("overdraft fees", [low])[0].score == pytest.approx(0.0)


def test_lexical_search_ranks_the_phrase_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kbflow.tasks.adapters.index import _local

    ix = LocalIndex(tmp_path / "index.sqlite3", dimension=DIM)
    ix.upsert(
        _doc("bag"),
        [ChunkRecord(0, "Fees and the overdraft limit; fees on the overdraft; the fees of an "
                     "overdraft.")],
        np.vstack([_vec(0)]),
    )
    ix.upsert(
        _doc("phrase"),
        [ChunkRecord(0, "Overdraft fees are charged monthly on accounts in the red, as agreed.")],
        np.vstack([_vec(1)]),
    )
    assert [h.doc_id for h in ix.search("overdraft fees", k=2, mode="lexical")] == ["phrase", "bag"]
    monkeypatch.setattr(_local, "phrase_boost", lambda query, hits: list(hits))
    # BM25 alone prefers the chunk that repeats the words.
    assert [h.doc_id for h in ix.search("overdraft fees", k=2, mode="lexical")] == ["bag", "phrase"]
    ix.close()
