"""Re-index handlers and the crawl functions, over httpx.MockTransport (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from handler_fakes import FakeLambdaContext
from kbflow.tasks.adapters.config import Adapters, use_adapters
from kbflow.tasks.core.crawl import CrawlLimits, Fetcher, crawl, normalise_url, url_doc_id
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    FetchFailed,
    InvalidInput,
    TransientFetchError,
)
from kbflow.tasks.handlers import ingestion as ing
from kbflow.tasks.handlers import reindex as h

SITE = "https://docs.example.com"


def _html(body: str, *links: str) -> str:
    anchors = "".join(f'<a href="{link}">link</a> ' for link in links)
    return (
        "<html><head><title>T</title></head><body><main><h1>Page</h1>"
        f"<p>{body}</p>{anchors}</main></body></html>"
    )


PAGES: dict[str, str] = {
    "/": _html(
        "Welcome to the bank documentation.",
        "/a",
        "/b#section",
        "/a?",
        "https://other.example.org/x",
        "mailto:x@example.com",
        "/private/secret",
    ),
    "/a": _html("Page A is about loans and interest rates.", "/", "/c", "/A/../a"),
    "/b": _html("Page B is about savings.", "/old"),
    "/c": _html("Page C about mortgages.", "/d"),
    "/d": _html("Page D, deep.", "/e"),
}


def _handler(
    pages: dict[str, str],
    seen: list[httpx.Request] | None = None,
    robots: str = "User-agent: *\nDisallow: /private/\n",
) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(200, text=robots)
        if path == "/old":
            return httpx.Response(301, headers={"Location": "/c"})
        if path in pages:
            etag = f'"{abs(hash(pages[path]))}"'
            if request.headers.get("if-none-match") == etag:
                return httpx.Response(304, headers={"ETag": etag})
            return httpx.Response(
                200,
                text=pages[path],
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "ETag": etag,
                    "Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT",
                },
            )
        return httpx.Response(404)

    return handle


@pytest.fixture
def web(adapters: Adapters) -> Any:
    requests: list[httpx.Request] = []
    bundle = replace(adapters, http_transport=httpx.MockTransport(_handler(PAGES, requests)))
    with use_adapters(bundle):
        yield bundle, requests


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Docs.Example.com:443/a/./b/../c#frag", "https://docs.example.com/a/c"),
        ("http://x.org", "http://x.org/"),
        ("http://x.org:8080/p/", "http://x.org:8080/p/"),
        ("https://x.org/p?q=1", "https://x.org/p?q=1"),
    ],
)
def test_normalise_url(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


@pytest.mark.parametrize("bad", ["ftp://x.org/", "javascript:alert(1)", "no scheme", "https://"])
def test_normalise_url_rejects_non_http(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_url(bad)


def test_crawl_stays_on_host_dedupes_and_respects_robots_and_bounds() -> None:
    sleeps: list[float] = []
    with Fetcher(httpx.MockTransport(_handler(PAGES))) as fetcher:
        found = crawl(
            SITE, fetcher, CrawlLimits(max_pages=50, max_depth=2, delay_s=0.5), sleeps.append
        )
    assert found == [f"{SITE}/", f"{SITE}/a", f"{SITE}/b", f"{SITE}/c"]  # "/a?" is "/a"
    assert all(s == 0.5 for s in sleeps) and len(sleeps) >= len(found) - 1


def test_crawl_max_pages() -> None:
    with Fetcher(httpx.MockTransport(_handler(PAGES))) as fetcher:
        assert len(crawl(SITE, fetcher, CrawlLimits(max_pages=2, delay_s=0), lambda s: None)) == 2


def test_crawl_delay_from_robots_wins() -> None:
    sleeps: list[float] = []
    robots = "User-agent: *\nCrawl-delay: 3\n"
    with Fetcher(httpx.MockTransport(_handler(PAGES, robots=robots))) as fetcher:
        crawl(SITE, fetcher, CrawlLimits(max_pages=3, delay_s=0.1), sleeps.append)
    assert sleeps and set(sleeps) == {3.0}


def test_robots_disallow_is_fetch_failed() -> None:
    with (
        Fetcher(httpx.MockTransport(_handler(PAGES))) as fetcher,
        pytest.raises(FetchFailed, match="robots.txt"),
    ):
        fetcher.fetch(f"{SITE}/private/secret")


def test_robots_5xx_means_disallow_all_and_404_allow_all() -> None:
    def server_error(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if request.url.path == "/robots.txt" else 200, text=_html("x"))

    with Fetcher(httpx.MockTransport(server_error)) as fetcher:
        assert not fetcher.allowed(f"{SITE}/a")

    def no_robots(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404 if request.url.path == "/robots.txt" else 200, text=_html("x"))

    with Fetcher(httpx.MockTransport(no_robots)) as fetcher:
        assert fetcher.allowed(f"{SITE}/a")


def test_redirect_is_followed_and_loops_fail() -> None:
    with Fetcher(httpx.MockTransport(_handler(PAGES))) as fetcher:
        assert fetcher.fetch(f"{SITE}/old").url == f"{SITE}/c"

    def loop(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(302, headers={"Location": request.url.path + "x"})

    with (
        Fetcher(httpx.MockTransport(loop)) as fetcher,
        pytest.raises(FetchFailed, match="redirects"),
    ):
        fetcher.fetch(f"{SITE}/r")


def test_size_cap_and_timeout_and_http_errors() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        if request.url.path == "/gone":
            return httpx.Response(410)
        return httpx.Response(200, content=b"x" * 5000, headers={"Content-Type": "text/html"})

    with Fetcher(httpx.MockTransport(big), max_bytes=1000) as fetcher:
        with pytest.raises(DocumentTooLarge):
            fetcher.fetch(f"{SITE}/big")
        with pytest.raises(FetchFailed, match="timed out"):
            fetcher.fetch(f"{SITE}/slow")
        with pytest.raises(FetchFailed, match="HTTP 410"):
            fetcher.fetch(f"{SITE}/gone")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_sites_are_transient_and_other_errors_are_not(status: int) -> None:
    def site(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(404)
        if path == "/busy":
            return httpx.Response(status)
        if path == "/down":
            raise httpx.ConnectError("connection refused", request=request)
        if path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(int(path.strip("/")))

    with Fetcher(httpx.MockTransport(site)) as fetcher:
        for path in ("/busy", "/down", "/slow"):
            with pytest.raises(TransientFetchError) as raised:
                fetcher.fetch(f"{SITE}{path}")
            assert raised.value.error_name == "Kbflow.TransientFetchError"
            assert isinstance(raised.value, FetchFailed)  # callers giving up catch both
        for code in (400, 403, 404, 410, 500):
            with pytest.raises(FetchFailed) as raised:
                fetcher.fetch(f"{SITE}/{code}")
            assert not isinstance(raised.value, TransientFetchError), code


def _page_chain(event: dict[str, Any], ctx: FakeLambdaContext) -> dict[str, Any]:
    doc = h.fetch_page(event, ctx)
    if doc["status"] == "unchanged":
        return doc
    for step in (
        ing.extract_html,
        ing.clean_text,
        ing.redact_pii,
        ing.chunk_text,
        ing.embed_chunks,
        ing.index_document,
        ing.record_manifest,
    ):
        doc = step(doc, ctx)
    return doc


def test_fetch_page_then_conditional_get_gives_unchanged(
    web: Any, context: FakeLambdaContext
) -> None:
    adapters, requests = web
    first = _page_chain({"url": f"{SITE}/a", "run_id": "r1"}, context)
    assert first["status"] == "new" and first["doc_id"] == url_doc_id(f"{SITE}/a")
    assert first["source"] == {"site": SITE} and first["indexed"]["chunks"] >= 1
    second = h.fetch_page({"url": f"{SITE}/a", "run_id": "r2"}, context)
    assert second["status"] == "unchanged"
    assert requests[-1].headers["if-none-match"] == first["etag"]
    assert requests[-1].headers["if-modified-since"] == "Tue, 24 Nov 2026 10:00:00 GMT"


def test_full_reindex_crawl_diff_delete_summarise(web: Any, context: FakeLambdaContext) -> None:
    adapters, _ = web
    for path in ("/a", "/b"):
        _page_chain({"url": SITE + path, "run_id": "r0"}, context)
    adapters.manifest.put(
        replace(
            adapters.manifest.get(url_doc_id(f"{SITE}/b")),  # type: ignore[type-var]
            doc_id=url_doc_id(f"{SITE}/gone"),
            key=f"{SITE}/gone",
        )
    )
    crawled = h.crawl_site(
        {"site": SITE, "run_id": "r1", "options": {"max_depth": 1, "delay_seconds": 0}}, context
    )
    assert crawled["pages"] == 3
    diff = h.diff_manifest({"site": SITE, "run_id": "r1", "urls_key": crawled["urls_key"]}, context)
    assert (diff["new"], diff["existing"], diff["vanished"]) == (1, 2, 1)
    assert json.loads(adapters.objects.get_object("work", diff["upserts_key"])) == diff["upserts"]
    upserted = [_page_chain(u, context) for u in diff["upserts"]]
    deleted = [h.delete_from_index(d, context) for d in diff["deletes"]]
    assert deleted == [{"doc_id": url_doc_id(f"{SITE}/gone"), "deleted": False}]
    assert adapters.manifest.get(url_doc_id(f"{SITE}/gone")) is None
    summary = h.summarise_reindex(
        {"run_id": "r1", "site": SITE, "upserted": upserted, "deleted": deleted}, context
    )
    assert summary["statuses"] == {"new": 1, "unchanged": 2} and summary["pages"] == 3


def test_delete_by_url_removes_page_from_index(web: Any, context: FakeLambdaContext) -> None:
    adapters, _ = web
    _page_chain({"url": f"{SITE}/c", "run_id": "r"}, context)
    assert h.delete_from_index({"url": f"{SITE}/c"}, context)["deleted"] is True
    assert adapters.index.stats()["documents"] == 0


def test_fetch_page_rejects_bad_urls(web: Any, context: FakeLambdaContext) -> None:
    with pytest.raises(InvalidInput, match="/url"):
        h.fetch_page({"url": "ftp://example.com/x"}, context)


def test_links_skip_nofollow_and_non_http() -> None:
    from kbflow.tasks.core.crawl import links_of

    html = (
        b'<a href="/x">x</a><a rel="nofollow" href="/y">y</a><a href="mailto:a@b.c">m</a>'
        b'<a href="javascript:void(0)">j</a><a href="z#frag">z</a>'
    )
    assert links_of(html, f"{SITE}/dir/page") == [f"{SITE}/x", f"{SITE}/dir/z"]


def test_crawl_skips_non_html_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        if request.url.path == "/":
            return httpx.Response(
                200, text=_html("home", "/file.pdf", "/page"), headers={"Content-Type": "text/html"}
            )
        if request.url.path == "/file.pdf":
            return httpx.Response(
                200, content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}
            )
        return httpx.Response(200, text=_html("page"), headers={"Content-Type": "text/html"})

    with Fetcher(httpx.MockTransport(handler)) as fetcher:
        found = crawl(SITE, fetcher, CrawlLimits(delay_s=0), lambda s: None)
    assert found == [f"{SITE}/", f"{SITE}/page"]
