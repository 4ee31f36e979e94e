"""Web pages for the re-index flow: polite HTTP fetches, a bounded same-host crawl, and diffs.

- :func:`normalise_url` gives one spelling per page (lower-case scheme and host, no default
  port, no fragment, dot segments resolved), so URLs de-duplicate and ``doc_id`` is stable.
- :class:`Fetcher` wraps an ``httpx.Client``: timeouts, at most 5 redirects, a byte cap enforced
  while streaming, conditional GETs (``If-None-Match``/``If-Modified-Since``), and robots.txt
  (RFC 9309: 4xx means no rules, 5xx or unreachable means disallow all).
- :func:`crawl` walks breadth-first within the start URL's host, bounded by pages and depth,
  sleeping ``delay`` seconds (through an injected ``sleep``) between requests.
"""

from __future__ import annotations

import hashlib
import posixpath
import urllib.robotparser
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from kbflow.tasks.core.errors import (
    DocumentTooLarge,
    FetchFailed,
    InvalidInput,
    TransientFetchError,
)

__all__ = [
    "USER_AGENT",
    "CrawlLimits",
    "Fetcher",
    "Page",
    "crawl",
    "diff_urls",
    "links_of",
    "normalise_url",
    "origin_of",
    "url_doc_id",
]

USER_AGENT: Final = "kbflow-reindex/1.0"
TRANSIENT_STATUSES: Final = frozenset({429, 502, 503, 504})
"""HTTP statuses that say "later": raised as ``Kbflow.TransientFetchError`` and retried."""
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HTML_TYPES: Final = ("text/html", "application/xhtml+xml")


def normalise_url(url: str, base: str | None = None) -> str:
    """One canonical spelling of an http(s) URL (joined to ``base`` when relative).

    Raises:
        InvalidInput: Not an http(s) URL with a host.
    """
    joined = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(joined)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidInput(f"not an http(s) URL: {url[:200]!r}", pointer="/url")
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"bad port in URL {url[:200]!r}", pointer="/url") from exc
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = posixpath.normpath(parts.path) if parts.path else "/"
    if parts.path.endswith("/") and path != "/":
        path += "/"
    path = "/" + path.lstrip("/")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL (the manifest source of its pages)."""
    parts = urlsplit(normalise_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def url_doc_id(url: str) -> str:
    """``sha256(normalised url)[:32]``."""
    return hashlib.sha256(normalise_url(url).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Page:
    """The outcome of one fetch."""

    url: str
    """Final URL after redirects (normalised)."""
    status: int
    """HTTP status: 200, or 304 when not modified."""
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional GET."""
        return self.status == 304

    @property
    def is_html(self) -> bool:
        """Whether the response is HTML."""
        return self.content_type.split(";")[0].strip().lower() in _HTML_TYPES


class Fetcher:
    """Polite HTTP GETs over one ``httpx.Client``.

    Args:
        transport: An httpx transport (``httpx.MockTransport`` in tests); ``None`` for real HTTP.
        max_bytes: Largest body accepted.
        timeout_s: Per-request timeout (connect, read, write, pool).
        obey_robots: Check robots.txt before each fetch.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        max_bytes: int = 5 << 20,
        timeout_s: float = 10.0,
        obey_robots: bool = True,
    ) -> None:
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT},
        )
        self.max_bytes = max_bytes
        self._obey = obey_robots
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """The parsed robots.txt of ``origin``; ``None`` means "no rules"."""
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin)
        return self._robots[origin]

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            response = self._client.get(origin + "/robots.txt")
        except httpx.HTTPError:
            parser.parse(["User-agent: *", "Disallow: /"])
            return parser
        if 400 <= response.status_code < 500:
            return None
        if response.status_code >= 500:
            parser.parse(["User-agent: *", "Disallow: /"])
        else:
            parser.parse(response.text[:500_000].splitlines())
        return parser

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets kbflow fetch ``url``."""
        if not self._obey:
            return True
        rules = self.robots(origin_of(url))
        return rules is None or rules.can_fetch(USER_AGENT, url)

    def crawl_delay(self, url: str) -> float:
        """robots.txt ``Crawl-delay`` for kbflow's agent (0 when none)."""
        rules = self.robots(origin_of(url)) if self._obey else None
        delay = rules.crawl_delay(USER_AGENT) if rules else None
        return float(delay or 0)

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET ``url`` (conditionally when ``etag``/``last_modified`` are given).

        Raises:
            TransientFetchError: HTTP 429/502/503/504, a timeout or a network error (worth
                retrying later).
            FetchFailed: robots.txt disallows it, too many redirects, another transport error,
                or another HTTP status of 400 or more.
            DocumentTooLarge: The body is over ``max_bytes``.
        """
        url = normalise_url(url)
        if not self.allowed(url):
            raise FetchFailed(f"robots.txt disallows {url}", url=url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return self._read(url, response)
        except httpx.TimeoutException as exc:
            raise TransientFetchError(f"timed out fetching {url}", url=url) from exc
        except httpx.NetworkError as exc:
            raise TransientFetchError(
                f"cannot reach {url}: {type(exc).__name__}", url=url
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchFailed(f"too many redirects from {url}", url=url) from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"cannot fetch {url}: {type(exc).__name__}", url=url) from exc

    def _read(self, url: str, response: httpx.Response) -> Page:
        final = normalise_url(str(response.url))
        meta = {
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "content_type": response.headers.get("content-type", ""),
        }
        if response.status_code == 304:
            return Page(url=final, status=304, **meta)
        if response.status_code in TRANSIENT_STATUSES:
            raise TransientFetchError(
                f"HTTP {response.status_code} for {url}", url=url, status=response.status_code
            )
        if response.status_code >= 400:
            raise FetchFailed(
                f"HTTP {response.status_code} for {url}", url=url, status=response.status_code
            )
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise DocumentTooLarge(f"{url} declares {declared} bytes (limit {self.max_bytes})")
        body = bytearray()
        for block in response.iter_bytes():
            body += block
            if len(body) > self.max_bytes:
                raise DocumentTooLarge(f"{url} is over {self.max_bytes} bytes")
        return Page(url=final, status=response.status_code, content=bytes(body), **meta)


def links_of(html: bytes, base: str) -> list[str]:
    """Normalised http(s) links of an HTML page (``<a href>``; ``rel=nofollow`` skipped)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    links = []
    for node in tree.css("a[href]"):
        if "nofollow" in (node.attributes.get("rel") or "").lower():
            continue
        href = node.attributes.get("href") or ""
        try:
            links.append(normalise_url(href, base))
        except InvalidInput:
            continue  # mailto:, javascript:, malformed
    return links


@dataclass(frozen=True, slots=True)
class CrawlLimits:
    """Bounds of a crawl."""

    max_pages: int = 200
    max_depth: int = 3
    delay_s: float = 1.0
    """Seconds between requests (robots.txt ``Crawl-delay`` wins when larger)."""


def crawl(
    site: str, fetcher: Fetcher, limits: CrawlLimits, sleep: Callable[[float], None]
) -> list[str]:
    """Breadth-first crawl of ``site``'s host; returns the HTML pages found (normalised URLs).

    Pages that fail, are not HTML or are disallowed are skipped (they are not "found").
    """
    start = normalise_url(site)
    host = urlsplit(start).netloc
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen = {start}
    found: list[str] = []
    delay = max(limits.delay_s, fetcher.crawl_delay(start))
    first = True
    while queue and len(found) < limits.max_pages:
        url, depth = queue.popleft()
        if not fetcher.allowed(url):
            continue
        if not first:
            sleep(delay)
        first = False
        try:
            page = fetcher.fetch(url)
        except (FetchFailed, DocumentTooLarge):
            continue
        if not page.is_html or urlsplit(page.url).netloc != host:
            continue
        if page.url != url and page.url in found:
            continue
        found.append(page.url)
        seen.add(page.url)
        if depth >= limits.max_depth:
            continue
        for link in links_of(page.content, page.url):
            if urlsplit(link).netloc == host and link not in seen:
                seen.add(link)
                queue.append((link, depth + 1))
    return found


def diff_urls(urls: list[str], known: dict[str, Any]) -> dict[str, list[Any]]:
    """Split crawled ``urls`` against ``known`` (``{doc_id: manifest entry}``).

    Returns:
        ``{"new": [url], "existing": [url], "vanished": [entry]}``.
    """
    current = {url_doc_id(u): u for u in urls}
    return {
        "new": [u for d, u in current.items() if d not in known],
        "existing": [u for d, u in current.items() if d in known],
        "vanished": [e for d, e in sorted(known.items()) if d not in current],
    }


def parse_options(options: dict[str, Any] | None) -> CrawlLimits:
    """Crawl limits from a flow's ``options`` (``max_pages``, ``max_depth``, ``delay_seconds``)."""
    options = options or {}
    return CrawlLimits(
        max_pages=int(options.get("max_pages", 200)),
        max_depth=int(options.get("max_depth", 3)),
        delay_s=float(options.get("delay_seconds", 1.0)),
    )
