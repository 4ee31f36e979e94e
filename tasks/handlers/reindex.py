"""Lambda handlers of the re-index flow (the per-page stages reuse the ingestion handlers)."""

from __future__ import annotations

from typing import Any, Final

from kbflow.tasks.adapters.config import current
from kbflow.tasks.adapters.index import SearchIndexError
from kbflow.tasks.adapters.objectstore import NoSuchKey
from kbflow.tasks.core import reindex
from kbflow.tasks.handler import ErrorMap, task_handler

__all__ = ["crawl_site", "delete_from_index", "diff_manifest", "fetch_page", "summarise_reindex"]

Event = dict[str, Any]
_INDEX_ERRORS: Final[ErrorMap] = {SearchIndexError: "Kbflow.TransientStoreError"}


@task_handler("FetchPage")
def fetch_page(event: Event, context: Any) -> Event:
    """Fetch one page (robots.txt, conditional GET, size cap) into the work store."""
    return reindex.fetch_page(event, current())


@task_handler("CrawlSite")
def crawl_site(event: Event, context: Any) -> Event:
    """Crawl a site within its host, bounded and polite."""
    return reindex.crawl_site(event, current())


@task_handler("DiffManifest", errors={NoSuchKey: "Kbflow.InvalidInput"})
def diff_manifest(event: Event, context: Any) -> Event:
    """New, existing and vanished pages of the site."""
    return reindex.diff_manifest(event, current())


@task_handler("DeleteFromIndex", errors=_INDEX_ERRORS)
def delete_from_index(event: Event, context: Any) -> Event:
    """Remove a page from the index and the manifest."""
    return reindex.delete_page(event, current())


@task_handler("SummariseReindex")
def summarise_reindex(event: Event, context: Any) -> Event:
    """Count the re-index run."""
    return reindex.summarise_reindex(event)
