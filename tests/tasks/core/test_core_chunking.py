"""chunk(): heading-aware, token-bounded, overlapping chunks with exact offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kbflow.tasks.core.chunking import Chunk, approx_tokens, chunk
from kbflow.tasks.core.errors import InvalidInput


def words(text: str) -> int:
    return len(text.split())


def sentences(prefix: str, n: int) -> str:
    return " ".join(f"{prefix} sentence {i} explains one rule of the policy." for i in range(n))


DOC = f"""# Policy

{sentences("Intro", 3)}

## Scope

{sentences("Scope", 30)}

## Exceptions

Only one short paragraph here.

# Annex

### Deep

{sentences("Annex", 2)}
"""


def test_headings_start_chunks_and_travel_as_paths() -> None:
    chunks = chunk(DOC, max_tokens=80, overlap_tokens=10, count_tokens=words)
    paths = [c.heading_path for c in chunks]
    assert paths[0] == ("Policy",)
    assert ("Policy", "Scope") in paths and ("Policy", "Exceptions") in paths
    assert paths[-1] == ("Annex", "Deep")
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert not c.text.startswith("#")  # heading lines are context, not body
        assert DOC[c.start:c.end] == c.text
        assert c.tokens == words(c.text) <= 80
    exceptions = [c for c in chunks if c.heading_path == ("Policy", "Exceptions")]
    assert [c.text for c in exceptions] == ["Only one short paragraph here."]
    assert exceptions[0].embed_text == "Policy > Exceptions\n\nOnly one short paragraph here."


def test_overlap_repeats_the_end_of_the_previous_chunk_in_a_section() -> None:
    scope = [c for c in chunk(DOC, max_tokens=60, overlap_tokens=12, count_tokens=words)
             if c.heading_path == ("Policy", "Scope")]
    assert len(scope) >= 4
    for prev, nxt in zip(scope, scope[1:], strict=False):
        assert nxt.start < prev.end  # overlaps
        shared = DOC[nxt.start:prev.end]
        assert 6 <= words(shared) <= 12  # about overlap_tokens, at least half kept
        assert shared.startswith("Scope sentence")  # snapped to a sentence start
    no_overlap = [c for c in chunk(DOC, max_tokens=60, overlap_tokens=0, count_tokens=words)
                  if c.heading_path == ("Policy", "Scope")]
    for prev, nxt in zip(no_overlap, no_overlap[1:], strict=False):
        assert nxt.start >= prev.end


def test_overlong_sentences_split_by_words() -> None:
    text = "word " * 1000
    chunks = chunk(text, max_tokens=50, overlap_tokens=5, count_tokens=words)
    assert all(c.tokens <= 50 for c in chunks)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_a_single_word_over_the_budget_is_split_by_characters() -> None:
    text = "see " + "a." * 2000 + " end"
    chunks = chunk(text, max_tokens=64, overlap_tokens=0)
    assert all(c.tokens <= 64 for c in chunks) and len(chunks) > 50
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_default_counter_and_plain_text() -> None:
    chunks = chunk(sentences("Plain", 100))
    assert len(chunks) > 1
    assert all(c.heading_path == () and c.tokens <= 256 for c in chunks)
    assert chunks[0].heading == "" and chunks[0].embed_text == chunks[0].text


def test_non_additive_counter_is_respected() -> None:
    def with_specials(text: str) -> int:  # like a tokenizer adding [CLS] and [SEP]
        return approx_tokens(text) + 2

    chunks = chunk(sentences("Special", 40), max_tokens=64, overlap_tokens=8,
                   count_tokens=with_specials)
    assert all(with_specials(c.text) <= 64 for c in chunks)


def test_approx_tokens_is_close_to_wordpiece() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("The bank must verify identity.") == 6
    assert approx_tokens("EUR 1,234.56") == 6  # EUR 1 , 234 . 56
    assert approx_tokens("internationalisation") >= 3
    assert 2 <= approx_tokens("Zürich straße") <= 6  # accents: WordPiece splits more


def test_headings_only_and_empty() -> None:
    assert chunk("") == [] and chunk("   \n\n ") == []
    only = chunk("# One\n\n## Two\n")
    assert [c.text for c in only] == ["One", "Two"]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(4, 0), (64, 33), (64, -1)])
def test_invalid_budgets(max_tokens: int, overlap: int) -> None:
    with pytest.raises(InvalidInput):
        chunk("text", max_tokens=max_tokens, overlap_tokens=overlap)


def test_chunk_to_dict() -> None:
    (c,) = chunk("# H\n\nBody.")
    assert c == Chunk(0, "Body.", ("H",), 5, 10, 2)
    assert c.to_dict() == {"index": 0, "text": "Body.", "heading_path": ["H"], "start": 5,
                           "end": 10, "tokens": 2}


_para = st.lists(st.sampled_from(["alpha", "beta.", "gamma,", "delta!", "1234", "é"]),
                 min_size=1, max_size=40).map(" ".join)
_doc = st.lists(st.one_of(_para, st.sampled_from(["# H1", "## H2", "### H3", ""])),
                max_size=30).map("\n\n".join)


@settings(max_examples=80, deadline=None)
@given(_doc, st.integers(min_value=8, max_value=64), st.data())
def test_properties(text: str, max_tokens: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=max_tokens // 2))
    chunks = chunk(text, max_tokens=max_tokens, overlap_tokens=overlap, count_tokens=words)
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.text.strip()
        assert c.tokens <= max_tokens or words(c.text) == 1
    body = "".join(ln for ln in text.split("\n") if not ln.startswith("#"))
    if body.strip():
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        heading_spans = {i for i in range(len(text)) if text.rfind("\n", 0, i + 1) < i and
                         text[text.rfind("\n", 0, i) + 1:].startswith("#")}
        missing = [i for i, ch in enumerate(text)
                   if not ch.isspace() and i not in covered and i not in heading_spans]
        assert missing == []
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
