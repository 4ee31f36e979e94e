"""`kbflow reindex`: full crawl of a tiny wiki served on 127.0.0.1, change events, bad input."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mainjob_helpers import index_snapshot, kbflow

PAGES = {
    "index.html": '<html><head><title>Team wiki</title></head><body><h1>Team wiki</h1>'
                  '<p>Welcome to the payments team wiki.</p><ul>'
                  '<li><a href="pages/deploy.html">Deploy guide</a></li>'
                  '<li><a href="pages/oncall.html">On-call</a></li></ul></body></html>',
    "pages/deploy.html": "<html><body><h1>Deploy guide</h1><p>Ledger service deployments "
                         "happen every Tuesday; roll back with the blue green switch.</p>"
                         "</body></html>",
    "pages/oncall.html": "<html><body><h1>On-call rota</h1><p>The on-call engineer answers "
                         "pager alerts within fifteen minutes.</p></body></html>",
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return


@pytest.fixture
def wiki(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A wiki served from a temp folder by http.server in a thread: (base URL, folder)."""
    root = tmp_path / "wiki"
    for rel, html in PAGES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(html)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def _reindex(store: Path, *args: str) -> dict[str, Any]:
    result = kbflow("reindex", *args, "--store", str(store), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _keys(store: Path) -> set[str]:
    return {key for key, _, _ in index_snapshot(store)}


def test_full_crawl_indexes_then_catches_up(wiki: tuple[str, Path], tmp_path: Path) -> None:
    base, root = wiki
    store = tmp_path / "store"
    first = _reindex(store, "--site", base, "--delay", "0")
    assert first["status"] == "SUCCEEDED"
    assert first["output"]["pages"] == 3 and first["output"]["statuses"] == {"indexed": 3}
    assert _keys(store) == {base, base + "pages/deploy.html", base + "pages/oncall.html"}

    deploy = root / "pages/deploy.html"
    deploy.write_text(PAGES["pages/deploy.html"].replace("Tuesday", "Thursday"))
    later = deploy.stat().st_mtime + 10  # http.server's Last-Modified has 1 s resolution
    os.utime(deploy, (later, later))
    (root / "pages/oncall.html").unlink()
    (root / "index.html").write_text(PAGES["index.html"].replace(
        '<li><a href="pages/oncall.html">On-call</a></li>', ""))
    second = _reindex(store, "--site", base, "--delay", "0")
    assert second["status"] == "SUCCEEDED"
    assert second["output"]["deleted"] == 1
    assert _keys(store) == {base, base + "pages/deploy.html"}
    texts = " ".join(t for _, _, t in index_snapshot(store))
    assert "Thursday" in texts and "Tuesday" not in texts


def test_change_events_upsert_and_delete_one_page(wiki: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = wiki
    store = tmp_path / "store"
    event = tmp_path / "event.json"
    page = base + "pages/oncall.html"
    event.write_text(json.dumps({"detail-type": "PageUpdated", "source": "wiki",
                                 "detail": {"page": page, "action": "updated"}}))
    upsert = _reindex(store, "--event", str(event))
    assert upsert["status"] == "SUCCEEDED"
    assert _keys(store) == {page}
    event.write_text(json.dumps({"detail": {"page": page, "action": "deleted"}}))
    delete = _reindex(store, "--event", str(event))
    assert delete["status"] == "SUCCEEDED" and delete["output"]["deleted"] is True
    assert _keys(store) == set()


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    assert kbflow("reindex", *store).returncode == 2
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"detail": {"page": "x", "action": "exploded"}}))
    result = kbflow("reindex", "--event", str(event), *store)
    assert result.returncode == 2 and "/detail/action" in result.stderr
    result = kbflow("reindex", "--site", "ftp://wiki/", *store)
    assert result.returncode == 2 and "/site" in result.stderr
