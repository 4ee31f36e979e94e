"""`kbflow search`: JSON lines per query, --queries FILE, modes, human table, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mainjob_helpers import kbflow

Ingested = tuple[Path, Path, dict[str, Any]]


def _json_lines(result: Any) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "vector"])
def test_each_mode_finds_the_document(ingested: Ingested, mode: str) -> None:
    _, store, _ = ingested
    result = kbflow("search", "how", "long", "must", "passwords", "be", "--store", str(store),
                    "--mode", mode, "-k", "2", "--json")
    [line] = _json_lines(result)
    assert line["query"] == "how long must passwords be"
    assert 1 <= len(line["hits"]) <= 2
    top = line["hits"][0]
    assert set(top) == {"key", "score", "text"}
    assert top["key"] == "security/password-policy.md"
    assert "fourteen characters" in top["text"]
    scores = [h["score"] for h in line["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_queries_file_gives_one_line_per_query(ingested: Ingested, tmp_path: Path) -> None:
    _, store, _ = ingested
    queries = tmp_path / "queries.txt"
    queries.write_text("liquid assets buffer\n\nbranch saturday opening\n")
    lines = _json_lines(kbflow("search", "--queries", str(queries), "--store", str(store),
                               "--json", "-k", "1"))
    assert [line["query"] for line in lines] == ["liquid assets buffer", "branch saturday opening"]
    assert [line["hits"][0]["key"] for line in lines] == [
        "treasury/liquidity.txt", "branches/opening-hours.html"]


def test_human_output_is_a_table_with_snippets(ingested: Ingested) -> None:
    _, store, _ = ingested
    result = kbflow("search", "stressed outflows", "--store", str(store), "-k", "3")
    assert result.returncode == 0, result.stderr
    assert "'stressed outflows' (hybrid" in result.stdout
    assert "treasury/liquidity.txt" in result.stdout
    assert "snippet" in result.stdout and "Quarterly liquidity" in result.stdout


def test_operators_and_quotes_in_queries_are_safe(ingested: Ingested) -> None:
    _, store, _ = ingested
    [line] = _json_lines(kbflow("search", '"passwords" AND NOT (', "--store", str(store),
                                "--json", "--mode", "lexical"))
    assert line["hits"] and line["hits"][0]["key"] == "security/password-policy.md"


def test_search_without_an_index_explains(tmp_path: Path) -> None:
    result = kbflow("search", "anything", "--store", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "no search index" in result.stderr and "kbflow ingest" in result.stderr


def test_search_needs_a_query(tmp_path: Path) -> None:
    result = kbflow("search", "--store", str(tmp_path))
    assert result.returncode == 2 and "QUERY" in result.stderr
