"""Markdown and plain-text normalisation: markup dropped, headings kept as # lines."""

from __future__ import annotations

from kbflow.tasks.core import media
from kbflow.tasks.core.extract import extract
from kbflow.tasks.core.mdtext import markdown_to_text, setext_to_atx

README = """Project Title
=============

See the [fee schedule](https://bank.example/fees) and ![logo](logo.png "Logo").
Read [the guide][guide] **carefully** and run `kbflow ingest`.<br>
Call `__init__` in the <span class="x">module</span>.

[guide]: https://bank.example/guide

Usage
-----

```python
print("code stays")
```

| Fee | Amount |
|-----|-------:|
| ATM | 2 EUR  |
"""


def test_markdown_syntax_is_stripped_and_headings_kept() -> None:
    assert markdown_to_text(README) == """# Project Title

See the fee schedule and logo.
Read the guide carefully and run kbflow ingest.
Call __init__ in the module.


## Usage

print("code stays")

Fee | Amount
ATM | 2 EUR
"""


def test_setext_needs_a_real_underline() -> None:
    assert setext_to_atx("Title\n=====\nbody") == "# Title\nbody"
    assert setext_to_atx("Sub\n---") == "## Sub"
    assert setext_to_atx("A long title over a short rule\n---") == (
        "A long title over a short rule\n---")
    assert setext_to_atx("text\n\n---\n") == "text\n\n---\n"  # a thematic break
    assert setext_to_atx("- item\n----") == "- item\n----"


def test_extract_applies_them_per_type() -> None:
    md = extract(README.encode(), media.MARKDOWN)
    assert md.headings == ("Project Title", "Usage") and "https://" not in md.text
    txt = extract(b"Branch Cash Handling\n====================\n\nVault rules.", media.PLAIN)
    assert txt.headings == ("Branch Cash Handling",)
    plain = extract(b"a **literal** [x](y) in a text file", media.PLAIN)
    assert plain.text == "a **literal** [x](y) in a text file"
