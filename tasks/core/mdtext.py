"""Light normalisation of Markdown and plain text before cleaning and chunking.

Search and embeddings want the words a reader sees, not the markup, and the chunker wants
headings as ``#`` lines. :func:`markdown_to_text` keeps ATX headings, paragraphs, list items and
table cells, and drops the syntax around them:

- links and images become their text (``[fees](https://...)`` → ``fees``); reference
  definitions (``[1]: https://...``) are removed;
- bold and inline-code markers (``**``, backticks) and inline HTML tags are removed (``__``
  and single ``*``/``_`` stay: they are too often part of names such as ``__init__``),
  code-fence lines (```` ``` ````) dropped while the code itself stays;
- table separator rows (``|---|:--:|``) are removed and cells joined by ``" | "``.

:func:`setext_to_atx` turns underlined headings (``Title`` over ``=====`` or ``-----``), common
in plain-text documents too, into ``#``/``##`` lines.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["markdown_to_text", "setext_to_atx"]

_FENCE: Final = re.compile(r"^[ \t]*(```|~~~).*$\n?", re.MULTILINE)
_IMAGE_OR_LINK: Final = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_REF_LINK: Final = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_REF_DEF: Final = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$\n?", re.MULTILINE)
_EMPHASIS: Final = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_CODE: Final = re.compile(r"`([^`\n]+)`")
_TAG: Final = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>\n]*)?/?>")
_TABLE_RULE: Final = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$\n?", re.MULTILINE
)
_TABLE_ROW: Final = re.compile(r"^[ \t]*\|(.+)\|[ \t]*$", re.MULTILINE)
_SETEXT: Final = re.compile(r"^([^\n#>*+\-|=\s][^\n]{0,118})\n(=+|-+)[ \t]*$", re.MULTILINE)


def markdown_to_text(text: str) -> str:
    """Strip Markdown syntax but keep ATX headings, paragraphs, list items and table cells.

    Args:
        text: Markdown source.

    Returns:
        The readable text, with ``#`` headings (setext headings converted).
    """
    text = setext_to_atx(text)
    text = _FENCE.sub("", text)
    text = _REF_DEF.sub("", text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _TABLE_RULE.sub("", text)
    return _TABLE_ROW.sub(lambda m: " | ".join(c.strip() for c in m.group(1).split("|")), text)


def setext_to_atx(text: str) -> str:
    """Turn ``Title`` + ``=====`` into ``# Title`` and ``Title`` + ``-----`` into ``## Title``.

    The underline must be at least three characters and half as long as the title, so a
    stray ``--`` or a long title over a short rule is left alone.
    """

    def convert(match: re.Match[str]) -> str:
        title, rule = match.group(1).rstrip(), match.group(2)
        if len(rule) < 3 or len(rule) * 2 < len(title):
            return match.group(0)
        return f"{'#' if rule[0] == '=' else '##'} {title}"

    return _SETEXT.sub(convert, text)
