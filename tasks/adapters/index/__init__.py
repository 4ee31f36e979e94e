"""Hybrid (lexical + vector) search indexes behind one :class:`Index` protocol.

- :class:`LocalIndex`: one SQLite file, FTS5 BM25 + sqlite-vec cosine k-NN (the embedded default).
- :class:`OpenSearchIndex`: an OpenSearch (or Amazon OpenSearch Service) domain over its REST API.
- :class:`KendraIndex`: an Amazon Kendra index (BatchPutDocument / BatchDeleteDocument / Retrieve).

Hybrid search fuses the lexical and vector candidate lists with :func:`fuse`.
"""

from __future__ import annotations

from ._base import (
    SEARCH_MODES,
    ChunkRecord,
    Fusion,
    Hit,
    Index,
    IndexedDocument,
    SearchIndexError,
    SearchMode,
    adaptive_alpha,
    dedupe_hits,
    fuse,
    lexical_coverage,
    phrase_boost,
    search_query,
)
from ._kendra import KendraIndex
from ._local import LocalIndex, fts_query
from ._opensearch import OpenSearchIndex, SigV4Auth

__all__ = [
    "SEARCH_MODES",
    "ChunkRecord",
    "Fusion",
    "Hit",
    "Index",
    "IndexedDocument",
    "KendraIndex",
    "LocalIndex",
    "OpenSearchIndex",
    "SearchIndexError",
    "SearchMode",
    "SigV4Auth",
    "adaptive_alpha",
    "dedupe_hits",
    "fts_query",
    "fuse",
    "lexical_coverage",
    "phrase_boost",
    "search_query",
]
