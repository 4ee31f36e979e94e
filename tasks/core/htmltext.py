"""HTML to Markdown-flavoured plain text with selectolax (lexbor).

The main content is kept and the chrome dropped:

- ``script``, ``style``, ``noscript``, ``template``, ``svg``, ``iframe``, ``nav``, ``footer``,
  ``aside`` and elements with ``role="navigation"``/``"contentinfo"``/``hidden`` are removed;
- the root is ``<main>`` (or ``role="main"``, or the only ``<article>``) when it holds at least a
  quarter of the body's text, else ``<body>``;
- headings become ``#``-prefixed lines, list items ``- `` lines, table rows ``a | b`` lines,
  ``<br>`` a line break, block elements paragraph breaks; other whitespace collapses as a
  browser would (``<pre>`` keeps its line breaks);
- a page without an ``<h1>`` gets its ``<title>`` as a ``#`` heading, so every section has a
  document-level heading for context.
"""

from __future__ import annotations

import re
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["HtmlText", "html_to_text"]

_DROP: Final = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "canvas",
    "nav",
    "footer",
    "aside",
    "button",
    "select",
)
_DROP_CSS: Final = (
    '[role="navigation"], [role="contentinfo"], [role="banner"], [aria-hidden="true"], [hidden]'
)
_BLOCKS: Final = (
    "p, div, section, article, main, header, blockquote, dl, dt, dd, figure, figcaption, "
    "address, form, fieldset, table, ul, ol, details, summary, hr, center"
)
_PARA: Final = "\ue000"
_LINE: Final = "\ue001"
_CELL: Final = "\ue002"
_SPACE_RUN: Final = re.compile(r"\s+")
_BREAKS: Final = re.compile(f"[ {_PARA}{_LINE}]*[{_PARA}{_LINE}][ {_PARA}{_LINE}]*")


class HtmlText:
    """The text of one HTML document.

    Attributes:
        text: Markdown-flavoured text (headings as ``#`` lines).
        title: The ``<title>``, or ``""``.
        lang: The ``<html lang>`` attribute, or ``""``.
    """

    __slots__ = ("lang", "text", "title")

    def __init__(self, text: str, title: str, lang: str) -> None:
        self.text = text
        self.title = title
        self.lang = lang

    def __repr__(self) -> str:
        return f"HtmlText(title={self.title!r}, chars={len(self.text)})"


def html_to_text(html: str) -> HtmlText:
    """Extract the main text of an HTML document, keeping headings as Markdown ``#`` lines.

    Args:
        html: The decoded document (see :func:`kbflow.tasks.core.textdecode.decode_text`).

    Returns:
        The :class:`HtmlText`; ``text`` is empty if the page has no visible text.
    """
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = _squash(title_node.text(deep=True)) if title_node is not None else ""
    html_node = tree.css_first("html")
    lang = (html_node.attributes.get("lang") or "") if html_node is not None else ""
    root = tree.body or tree.root
    if root is None:
        return HtmlText("", title, lang)
    _drop_chrome(tree)
    root = _main_root(root)
    has_h1 = root.css_first("h1") is not None
    _mark_structure(root)
    text = _render(root.text(deep=True, separator=""))
    if title and not has_h1 and text:
        text = f"# {title}\n\n{text}"
    return HtmlText(text, title, lang)


def _drop_chrome(tree: LexborHTMLParser) -> None:
    tree.strip_tags(list(_DROP))
    for node in tree.css(_DROP_CSS):
        node.decompose()
    for node in tree.css("head"):
        node.decompose()


def _main_root(body: LexborNode) -> LexborNode:
    candidates = body.css("main, [role=main]")
    if not candidates:
        articles = body.css("article")
        candidates = articles if len(articles) == 1 else []
    if not candidates:
        return body
    body_chars = len(_squash(body.text(deep=True)))
    main = candidates[0]
    return main if len(_squash(main.text(deep=True))) * 4 >= body_chars else body


def _mark_structure(root: LexborNode) -> None:
    for pre in root.css("pre"):
        pre.replace_with(_PARA + (pre.text(deep=True) or "").replace("\n", _LINE) + _PARA)
    for level in range(1, 7):
        for node in root.css(f"h{level}"):
            heading = _squash(node.text(deep=True))
            node.replace_with(f"{_PARA}{'#' * level} {heading}{_PARA}" if heading else _PARA)
    for node in root.css("li"):
        node.insert_before(f"{_LINE}- ")
        node.insert_after(_LINE)
    for node in root.css("td, th"):
        node.insert_after(_CELL)
    for node in root.css("tr"):
        node.insert_after(_LINE)
    for node in root.css("br"):
        node.replace_with(_LINE)
    for node in root.css(_BLOCKS):
        node.insert_before(_PARA)
        node.insert_after(_PARA)


def _render(raw: str) -> str:
    text = _SPACE_RUN.sub(" ", raw.replace("\u00a0", " "))
    text = _BREAKS.sub(_join_breaks, text)
    lines = [_tidy_line(line) for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _join_breaks(match: re.Match[str]) -> str:
    return "\n\n" if _PARA in match.group(0) else "\n"


def _tidy_line(line: str) -> str:
    cells = [c.strip() for c in line.split(_CELL)]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells) if len(cells) > 1 else (cells[0] if cells else "")


def _squash(text: str | None) -> str:
    return _SPACE_RUN.sub(" ", text or "").strip()
