"""Known-item retrieval evaluation: sample queries from documents and score rankings (MRR@k).

A known-item query is a span of words sampled from one document; the search "finds" it when that
document appears in the top ``k``. The mean reciprocal rank over all queries (0 when the document
is not in the top ``k``) is the MRR@k that ``benchmarks/ingest.py`` reports for each search mode.
Pure functions: no I/O, deterministic for a given seed.

Real corpora repeat text (the same manual as HTML and as plain text, shared licence paragraphs),
so a span's words can occur in the same order in several documents, and no ranking can tell
which one it was sampled from. :func:`span_matches` lists, for each query, every document
holding its words in that order; pass it as ``acceptable`` to count any of them as found (and
report both figures).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from kbflow.errors import ConfigurationError

__all__ = [
    "KnownItemResult",
    "evaluate_known_items",
    "mrr_at_k",
    "reciprocal_rank",
    "sample_queries",
    "span_matches",
]

_WORD: Final = re.compile(r"\S+")
_WORDY: Final = re.compile(r"\w", re.UNICODE)
_TERM: Final = re.compile(r"\w+", re.UNICODE)


Truth = str | Collection[str]
"""The expected key, or a collection of keys any of which counts as found."""


def reciprocal_rank(ranked: Sequence[str], truth: Truth, k: int = 10) -> float:
    """``1 / rank`` of the first correct key within the first ``k`` of ``ranked``, else 0.

    Args:
        ranked: result keys, best first (duplicates count at their first position).
        truth: the key that should be found, or a collection of acceptable keys.
        k: cut-off.

    Returns:
        A value in ``[0, 1]``.
    """
    accept = {truth} if isinstance(truth, str) else set(truth)
    for position, key in enumerate(ranked[:k], start=1):
        if key in accept:
            return 1.0 / position
    return 0.0


def mrr_at_k(
    ranked_keys_per_query: Sequence[Sequence[str]], truth: Sequence[Truth], k: int = 10
) -> float:
    """Mean reciprocal rank at ``k`` over queries.

    Args:
        ranked_keys_per_query: for each query, the result keys best first.
        truth: for each query, the expected key or acceptable keys (same order and length).
        k: cut-off (10 for MRR@10).

    Returns:
        The mean of :func:`reciprocal_rank` over the queries (0.0 for no queries).

    Raises:
        ConfigurationError: the two sequences differ in length or ``k`` < 1.
    """
    if len(ranked_keys_per_query) != len(truth):
        raise ConfigurationError(
            f"{len(ranked_keys_per_query)} rankings but {len(truth)} expected keys; "
            "they must pair up"
        )
    if k < 1:
        raise ConfigurationError(f"k must be >= 1, got {k}")
    if not truth:
        return 0.0
    return sum(
        reciprocal_rank(r, t, k) for r, t in zip(ranked_keys_per_query, truth, strict=True)
    ) / len(truth)


def sample_queries(docs: Mapping[str, str], words: int = 12, seed: int = 0) -> dict[str, str]:
    """Sample one span of ``words`` consecutive words from each document.

    A word is a whitespace-separated token with at least one word character; the span runs from
    a uniformly chosen word (seeded, so a benchmark is repeatable) through the ``words``-th word,
    verbatim, with the punctuation-only tokens between them (a dotted table-of-contents leader is
    never a query on its own). Documents with fewer words give all of them; documents with no
    words are skipped.

    Args:
        docs: document key -> text.
        words: span length in words.
        seed: random seed; the draw for a key does not depend on the other keys.

    Returns:
        document key -> query text (tokens joined by single spaces), in ``docs`` order.

    Raises:
        ConfigurationError: ``words`` < 1.
    """
    if words < 1:
        raise ConfigurationError(f"words must be >= 1, got {words}")
    queries: dict[str, str] = {}
    for key, text in docs.items():
        tokens = _WORD.findall(text)
        wordy = [i for i, token in enumerate(tokens) if _WORDY.search(token)]
        if not wordy:
            continue
        rng = random.Random(f"{seed}:{key}")
        first = rng.randrange(len(wordy) - words + 1) if len(wordy) > words else 0
        last = wordy[min(first + words, len(wordy)) - 1]
        queries[key] = " ".join(tokens[wordy[first] : last + 1])
    return queries


@dataclass(frozen=True, slots=True)
class KnownItemResult:
    """The outcome of a known-item run."""

    mrr: float
    """MRR@k over all queries."""
    found: int
    """Queries whose document was in the top ``k``."""
    queries: int
    """Number of queries."""
    k: int
    """The cut-off."""

    @property
    def recall(self) -> float:
        """Share of queries whose document was in the top ``k``."""
        return self.found / self.queries if self.queries else 0.0


def _word_sequence(text: str) -> str:
    return " " + " ".join(t.lower() for t in _TERM.findall(text)) + " "


def span_matches(docs: Mapping[str, str], queries: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """For each query, the documents that hold the query's words in the same order.

    Case and punctuation are ignored (``Holds a password.`` in a text file and ``| Holds a
    password |`` from an HTML table are the same passage to any word-based search), so each
    set contains at least the query's own document.

    Args:
        docs: document key -> text (the texts the queries were sampled from).
        queries: expected key -> query text.

    Returns:
        expected key -> every key that counts as a correct answer.
    """
    flat = {key: _word_sequence(text) for key, text in docs.items()}
    out: dict[str, frozenset[str]] = {}
    for key, query in queries.items():
        needle = _word_sequence(query)
        found = {other for other, text in flat.items() if needle.strip() and needle in text}
        out[key] = frozenset({key} | found)
    return out


def evaluate_known_items(
    search: Callable[[str], Sequence[str]],
    queries: Mapping[str, str],
    k: int = 10,
    *,
    acceptable: Mapping[str, Collection[str]] | None = None,
) -> KnownItemResult:
    """Run each query through ``search`` and score it against the document it came from.

    Args:
        search: query text -> result keys, best first.
        queries: expected key -> query text (as :func:`sample_queries` returns).
        k: cut-off.
        acceptable: expected key -> keys that also count as found (see :func:`span_matches`).

    Returns:
        MRR@k and recall@k.
    """
    keys = list(queries)
    truth: list[Truth] = [acceptable.get(key, key) if acceptable else key for key in keys]
    ranked = [list(search(queries[key])) for key in keys]
    found = sum(1 for r, t in zip(ranked, truth, strict=True) if reciprocal_rank(r, t, k) > 0)
    return KnownItemResult(mrr=mrr_at_k(ranked, truth, k), found=found, queries=len(keys), k=k)
