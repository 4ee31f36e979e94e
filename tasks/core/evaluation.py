"""Known-item retrieval evaluation: sample queries from documents and score rankings (MRR@k).

A known-item query is a span of words sampled from one document; the search "finds" it when that
document appears in the top ``k``. The mean reciprocal rank over all queries (0 when the document
is not in the top ``k``) is the MRR@k that ``benchmarks/ingest.py`` reports for each search mode.
Pure functions: no I/O, deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from kbflow.errors import ConfigurationError

__all__ = [
    "KnownItemResult",
    "evaluate_known_items",
    "mrr_at_k",
    "reciprocal_rank",
    "sample_queries",
]

_WORD: Final = re.compile(r"\S+")
_WORDY: Final = re.compile(r"\w", re.UNICODE)


def reciprocal_rank(ranked: Sequence[str], truth: str, k: int = 10) -> float:
    """``1 / rank`` of ``truth`` within the first ``k`` of ``ranked`` (1-based), else 0.

    Args:
        ranked: result keys, best first (duplicates count at their first position).
        truth: the key that should be found.
        k: cut-off.

    Returns:
        A value in ``[0, 1]``.
    """
    for position, key in enumerate(ranked[:k], start=1):
        if key == truth:
            return 1.0 / position
    return 0.0


def mrr_at_k(
    ranked_keys_per_query: Sequence[Sequence[str]], truth: Sequence[str], k: int = 10
) -> float:
    """Mean reciprocal rank at ``k`` over queries.

    Args:
        ranked_keys_per_query: for each query, the result keys best first.
        truth: for each query, the expected key (same order and length).
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

    The span starts at a uniformly random word (seeded, so a benchmark is repeatable); documents
    shorter than ``words`` give all their words; documents with no word characters are skipped.

    Args:
        docs: document key -> text.
        words: span length.
        seed: random seed; the draw for a key does not depend on the other keys.

    Returns:
        document key -> query text, in ``docs`` order.

    Raises:
        ConfigurationError: ``words`` < 1.
    """
    if words < 1:
        raise ConfigurationError(f"words must be >= 1, got {words}")
    queries: dict[str, str] = {}
    for key, text in docs.items():
        tokens = _WORD.findall(text)
        if not any(_WORDY.search(t) for t in tokens):
            continue
        rng = random.Random(f"{seed}:{key}")
        start = rng.randrange(len(tokens) - words + 1) if len(tokens) > words else 0
        queries[key] = " ".join(tokens[start : start + words])
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


def evaluate_known_items(
    search: Callable[[str], Sequence[str]], queries: Mapping[str, str], k: int = 10
) -> KnownItemResult:
    """Run each query through ``search`` and score it against the document it came from.

    Args:
        search: query text -> result keys, best first.
        queries: expected key -> query text (as :func:`sample_queries` returns).
        k: cut-off.

    Returns:
        MRR@k and recall@k.
    """
    truth = list(queries)
    ranked = [list(search(queries[key])) for key in truth]
    found = sum(1 for r, t in zip(ranked, truth, strict=True) if t in r[:k])
    return KnownItemResult(mrr=mrr_at_k(ranked, truth, k), found=found, queries=len(truth), k=k)
