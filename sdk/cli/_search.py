"""``kbflow search QUERY...``: hybrid, lexical or vector search over the store's index."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
from kbflow.cli._ingest import quiet_logs, store_option

__all__ = ["Searcher", "search", "snippet"]

_SPACE = re.compile(r"\s+")


def snippet(text: str, width: int = 160) -> str:
    """One line of at most ``width`` characters (whitespace collapsed, ``…`` when cut)."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


class Searcher:
    """Queries the search index of one store folder (no engine needed).

    Args:
        store: the store folder an ingestion wrote.
        adapters: an adapter bundle to use instead (tests: a fake embedder).
    """

    def __init__(self, store: Path, adapters: Any = None) -> None:
        if adapters is None:
            from kbflow.tasks.adapters.config import local_adapters

            if not (store / "index.sqlite3").exists():
                raise click.ClickException(
                    f"no search index in {store}: run `kbflow ingest SOURCE --store {store}` first"
                )
            adapters = local_adapters(store)
        self.adapters = adapters

    def search(self, query: str, *, k: int = 10, mode: str = "hybrid") -> list[dict[str, Any]]:
        """The ``k`` best documents for ``query``: ``[{"key", "score", "text"}]``, best first."""
        vector = None
        if mode != "lexical":
            vector = self.adapters.embedder.embed([query])[0]
        hits = self.adapters.index.search(query, vector, k=k, mode=mode)
        return [{"key": h.key, "score": round(float(h.score), 6), "text": h.text} for h in hits]


def _queries(words: Sequence[str], queries_file: Path | None) -> Iterator[str]:
    if words:
        yield " ".join(words)
    if queries_file is not None:
        with queries_file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield line.strip()


@click.command()
@click.argument("query", nargs=-1)
@store_option
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many documents to return per query.")
@click.option("--mode", type=click.Choice(["hybrid", "lexical", "vector"]), default="hybrid",
              show_default=True,
              help="hybrid fuses BM25 (lexical) and embedding (vector) rankings.")
@click.option("--queries", "queries_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="A file with one query per line.")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON line per query: {"query", "hits": [{"key", "score", "text"}]}.')
def search(query: tuple[str, ...], store: Path, k: int, mode: str, queries_file: Path | None,
           as_json: bool) -> None:
    """Search the documents `kbflow ingest` indexed in STORE.

    QUERY words form one query; --queries FILE adds one query per line. Each hit is a
    document (its best chunk): key (the object key; for a folder source, its path without the
    leading /), score (higher is better; BM25, cosine or the fused score by mode) and text.

    Example: kbflow search "overdraft fees" -k 5 --json
    """
    if not query and queries_file is None:
        raise click.UsageError("give a QUERY or --queries FILE")
    quiet_logs()
    searcher = Searcher(store)
    for text in _queries(query, queries_file):
        hits = searcher.search(text, k=k, mode=mode)
        if as_json:
            click.echo(json.dumps({"query": text, "hits": hits}))
        else:
            _print_hits(text, hits, mode)


def _print_hits(query: str, hits: list[dict[str, Any]], mode: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{query!r} ({mode}, {len(hits)} hits)", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document", overflow="fold", max_width=40)
    table.add_column("snippet", overflow="fold")
    for rank, hit in enumerate(hits, 1):
        table.add_row(str(rank), f"{hit['score']:.3f}", hit["key"], snippet(hit["text"]))
    Console().print(table)
