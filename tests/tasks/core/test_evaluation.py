"""Known-item evaluation helpers: reciprocal rank, MRR@k and query sampling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kbflow.errors import ConfigurationError
from kbflow.tasks.core.evaluation import (
    KnownItemResult,
    evaluate_known_items,
    mrr_at_k,
    reciprocal_rank,
    sample_queries,
    span_matches,
)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["a", "b", "c"], "a") == 1.0
    assert reciprocal_rank(["a", "b", "c"], "c") == pytest.approx(1 / 3)
    assert reciprocal_rank(["a", "b", "c"], "z") == 0.0
    assert reciprocal_rank([f"x{i}" for i in range(10)] + ["t"], "t", k=10) == 0.0
    assert reciprocal_rank([f"x{i}" for i in range(9)] + ["t"], "t", k=10) == pytest.approx(0.1)
    assert reciprocal_rank(["t", "t"], "t") == 1.0


def test_mrr_at_k() -> None:
    ranked = [["a", "b"], ["x", "b"], ["x", "y"], []]
    assert mrr_at_k(ranked, ["a", "b", "c", "d"]) == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert mrr_at_k(ranked, ["a", "b", "c", "d"], k=1) == pytest.approx(0.25)
    assert mrr_at_k([], []) == 0.0


def test_mrr_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="pair up"):
        mrr_at_k([["a"]], ["a", "b"])
    with pytest.raises(ConfigurationError, match="k must be"):
        mrr_at_k([["a"]], ["a"], k=0)


@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from("abcdef"), max_size=12), st.sampled_from("abcdef")),
        max_size=20,
    )
)
def test_mrr_is_a_mean_of_values_in_unit_interval(pairs: list[tuple[list[str], str]]) -> None:
    ranked, truth = [p[0] for p in pairs], [p[1] for p in pairs]
    value = mrr_at_k(ranked, truth)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(
        sum(reciprocal_rank(r, t) for r, t in pairs) / len(pairs) if pairs else 0.0
    )


def test_sample_queries_takes_consecutive_words_from_each_document() -> None:
    docs = {
        "long.txt": " ".join(f"w{i}" for i in range(100)),
        "short.txt": "only three words",
        "empty.txt": "",
        "symbols.txt": "--- *** ...",
    }
    queries = sample_queries(docs, words=12, seed=3)
    assert list(queries) == ["long.txt", "short.txt"]
    span = queries["long.txt"].split()
    assert len(span) == 12
    start = int(span[0][1:])
    assert span == [f"w{i}" for i in range(start, start + 12)]
    assert queries["short.txt"] == "only three words"


def test_a_span_counts_words_not_punctuation() -> None:
    leader = "Contents . . . . . . . . . . . . . . . . 3 Introduction . . . . . . . . . 5 Usage"
    for seed in range(20):
        query = sample_queries({"toc.pdf": leader}, words=3, seed=seed)["toc.pdf"]
        words = [t for t in query.split() if t != "."]
        assert len(words) == 3, query
        assert query.split()[0] != "." and query.split()[-1] != "."
        assert " ".join(query.split()) in " ".join(leader.split())
    assert sample_queries({"dots.txt": ". . . . --- ***"}) == {}


def test_sample_queries_is_seeded_and_independent_of_other_keys() -> None:
    docs = {f"d{i}": " ".join(f"d{i}w{j}" for j in range(200)) for i in range(20)}
    first = sample_queries(docs, seed=1)
    assert first == sample_queries(docs, seed=1)
    assert first != sample_queries(docs, seed=2)
    assert sample_queries({"d7": docs["d7"]}, seed=1)["d7"] == first["d7"]
    starts = {q.split()[0] for q in first.values()}
    assert len(starts) > 1
    with pytest.raises(ConfigurationError):
        sample_queries(docs, words=0)


def test_evaluate_known_items() -> None:
    queries = {"a": "alpha words", "b": "beta words", "c": "gamma"}
    answers = {"alpha words": ["a", "x"], "beta words": ["x", "y", "b"], "gamma": ["x"]}
    result = evaluate_known_items(lambda q: answers[q], queries, k=10)
    assert result.mrr == pytest.approx((1 + 1 / 3) / 3)
    assert (result.found, result.queries, result.k) == (2, 3, 10)
    assert result.recall == pytest.approx(2 / 3)
    assert evaluate_known_items(lambda q: answers[q], queries, k=2).found == 1
    assert KnownItemResult(mrr=0.0, found=0, queries=0, k=10).recall == 0.0


def test_reciprocal_rank_accepts_a_set_of_keys() -> None:
    assert reciprocal_rank(["x", "b", "a"], {"a", "b"}) == pytest.approx(0.5)
    assert reciprocal_rank(["x"], frozenset()) == 0.0
    assert mrr_at_k([["a"], ["x", "c"]], [{"a"}, ("b", "c")]) == pytest.approx(0.75)


def test_span_matches_finds_copies_of_the_word_sequence() -> None:
    docs = {
        "manual.html": "Install the  package\nwith apt, then run it.",
        "manual.txt": "Install the package with apt, then run it.",
        "table.html": "| Install | the | package | with | APT | then |",
        "reordered.txt": "Install with apt the package.",
        "other.txt": "Run it twice.",
    }
    queries = {"manual.html": "the package with apt", "other.txt": "Run it twice."}
    assert span_matches(docs, queries) == {
        "manual.html": frozenset({"manual.html", "manual.txt", "table.html"}),
        "other.txt": frozenset({"other.txt"}),
    }
    ranked = {
        "the package with apt": ["manual.txt", "manual.html"],
        "Run it twice.": ["x", "other.txt"],
    }
    strict = evaluate_known_items(lambda q: ranked[q], queries)
    lenient = evaluate_known_items(
        lambda q: ranked[q], queries, acceptable=span_matches(docs, queries)
    )
    assert strict.mrr == pytest.approx((0.5 + 0.5) / 2)
    assert lenient.mrr == pytest.approx((1.0 + 0.5) / 2) and lenient.found == 2


def test_span_matches_needs_whole_words() -> None:
    docs = {"a.txt": "the package manager", "b.txt": "repackage managers"}
    assert span_matches(docs, {"a.txt": "package manager"})["a.txt"] == {"a.txt"}
