"""Re-index glue: fetch one page into the work store, crawl a site, diff it, delete pages.

Pages become docs like ingestion's (docs/contracts.md): ``key`` is the normalised URL,
``source`` is ``{"site": origin}``, ``doc_id`` is ``sha256(url)[:32]`` and the fetched HTML is
``artifacts.original`` in the work store, so ExtractHtml, CleanText, ..., RecordManifest apply
unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from kbflow.tasks.core import media
from kbflow.tasks.core.crawl import (
    Fetcher,
    crawl,
    diff_urls,
    normalise_url,
    origin_of,
    parse_options,
    url_doc_id,
)
from kbflow.tasks.core.ingest import KEPT_STATUSES, options_of, run_id_from

if TYPE_CHECKING:
    from kbflow.tasks.adapters.config import Adapters

__all__ = ["crawl_site", "delete_page", "diff_manifest", "fetch_page", "summarise_reindex"]


def _fetcher(adapters: Adapters, options: dict[str, Any]) -> Fetcher:
    return Fetcher(
        adapters.http_transport,
        max_bytes=int(options.get("max_page_bytes", 5 << 20)),
        timeout_s=float(options.get("timeout_seconds", 10.0)),
    )


def fetch_page(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Fetch a page (conditional GET against the manifest) into the work store.

    Returns:
        A page doc: ``key`` (URL), ``doc_id``, ``source.site``, ``sha256``, ``media_type``,
        ``status`` (``new``/``changed``/``unchanged``), ``etag``, ``last_modified`` and
        ``artifacts.original``.

    Raises:
        FetchFailed: robots.txt, timeouts, redirects, HTTP errors.
        DocumentTooLarge: Over the page size cap.
    """
    url = normalise_url(event["url"])
    doc_id = url_doc_id(url)
    run_id = run_id_from(event)
    entry = adapters.manifest.get(doc_id)
    options = options_of(event)
    with _fetcher(adapters, options) as fetcher:
        page = fetcher.fetch(
            url,
            etag=entry.etag if entry else None,
            last_modified=entry.last_modified if entry else None,
        )
    doc: dict[str, Any] = {
        "run_id": run_id,
        "source": {"site": origin_of(url)},
        "key": url,
        "doc_id": doc_id,
        "options": event.get("options") or {},
        "artifacts": {},
    }
    if page.not_modified and entry is not None:
        return {
            **doc,
            "sha256": entry.sha256,
            "status": "unchanged",
            "media_type": media.HTML,
            "etag": entry.etag,
            "last_modified": entry.last_modified,
            "size": 0,
        }
    sha = hashlib.sha256(page.content).hexdigest()
    if entry is None:
        status = "new"
    else:
        status = "unchanged" if entry.sha256 == sha and entry.status in KEPT_STATUSES else "changed"
    key = f"runs/{run_id}/{doc_id}/original.html"
    adapters.objects.put_object(adapters.work_bucket, key, page.content)
    return {
        **doc,
        "sha256": sha,
        "status": status,
        "size": len(page.content),
        "media_type": media.detect_media_type(page.content, "page.html"),
        "etag": page.etag,
        "last_modified": page.last_modified,
        "artifacts": {"original": key},
    }


def crawl_site(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Crawl a site within its host and store the page list (JSON) in the work store.

    Returns:
        ``{"site", "run_id", "pages", "urls_key"}``.
    """
    site = normalise_url(event["site"])
    run_id = run_id_from(event)
    options = event.get("options") or {}
    with _fetcher(adapters, options) as fetcher:
        urls = crawl(site, fetcher, parse_options(options), adapters.sleep)
    key = f"runs/{run_id}/crawl/urls.json"
    adapters.objects.put_object(adapters.work_bucket, key, json.dumps(urls).encode())
    return {"site": site, "run_id": run_id, "pages": len(urls), "urls_key": key}


def diff_manifest(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Compare crawled URLs with the manifest of the site: new, existing (maybe changed), vanished.

    Returns:
        Counts, ``upserts`` ([{"url"}], new + existing: FetchPage decides if they changed),
        ``deletes`` ([{"doc_id","key"}]), and the work-store keys of both lists (JSON arrays, for
        a Distributed Map ``ItemReader`` when a site is too big for the 256 KiB state payload).
    """
    site = normalise_url(event["site"])
    run_id = run_id_from(event)
    urls = json.loads(adapters.objects.get_object(adapters.work_bucket, event["urls_key"]))
    known = {e.doc_id: e for e in adapters.manifest.list_for_source(origin_of(site))}
    diff = diff_urls(urls, known)
    upserts = [{"url": u, "run_id": run_id} for u in diff["new"] + diff["existing"]]
    deletes = [{"doc_id": e.doc_id, "key": e.key, "run_id": run_id} for e in diff["vanished"]]
    keys = {}
    for name, items in (("upserts", upserts), ("deletes", deletes)):
        keys[f"{name}_key"] = f"runs/{run_id}/crawl/{name}.json"
        adapters.objects.put_object(
            adapters.work_bucket, keys[f"{name}_key"], json.dumps(items).encode()
        )
    return {
        "site": site,
        "run_id": run_id,
        "new": len(diff["new"]),
        "existing": len(diff["existing"]),
        "vanished": len(deletes),
        **keys,
        "upserts": upserts,
        "deletes": deletes,
    }


def delete_page(event: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Remove a document (by ``doc_id``, or by page ``url``) from the index and the manifest."""
    doc_id = str(event.get("doc_id") or url_doc_id(event["url"]))
    deleted = bool(adapters.index.delete(doc_id))
    adapters.manifest.delete(doc_id)
    return {"doc_id": doc_id, "deleted": deleted}


def summarise_reindex(event: dict[str, Any]) -> dict[str, Any]:
    """Count a re-index run's outcomes from its upsert and delete results."""
    upserted = [d for d in event.get("upserted") or [] if isinstance(d, dict)]
    statuses: dict[str, int] = {}
    failed = []
    for doc in upserted:
        status = str(doc.get("status") or ("failed" if "error" in doc else "unknown"))
        statuses[status] = statuses.get(status, 0) + 1
        if "error" in doc:
            failed.append({"key": doc.get("key") or doc.get("url"), "error": doc["error"]})
    deleted = [d for d in event.get("deleted") or [] if isinstance(d, dict)]
    removed = sum(1 for d in deleted if d.get("deleted") is True or d.get("status") == "deleted")
    failed += [
        {"key": d.get("key") or d.get("url"), "error": d["error"]} for d in deleted if "error" in d
    ]
    return {
        "run_id": event.get("run_id"),
        "site": event.get("site"),
        "pages": len(upserted),
        "statuses": statuses,
        "deleted": removed,
        "failed": failed,
    }
