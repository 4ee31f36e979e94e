"""``kbflow sample DIR``: write the sample corpus (a fictional bank's documents, every type)."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["sample"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into DIR even if it already holds files.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object listing the files instead of a summary.")
def sample(directory: Path, force: bool, as_json: bool) -> None:
    """Write a small sample corpus of every supported document type into DIRECTORY.

    About two dozen documents of a fictional bank (policies, regulations, procedures, customer
    letters): PDFs with a text layer, a scanned PDF, PNG/JPEG images of text, HTML (one page in
    windows-1252), DOCX, Markdown and plain text. Three contain PII, so ingestion flags them
    for review; one corrupt PDF and one binary named .txt show quarantine. The files are
    generated locally and are byte-identical on every run.

    Example: kbflow sample ./corpus && kbflow ingest ./corpus
    """
    if directory.exists() and any(directory.iterdir()) and not force:
        raise click.ClickException(f"{directory} is not empty; pass --force to write into it")
    try:
        from kbflow.tasks.core.samples import write_samples

        files = write_samples(directory)
    except ModuleNotFoundError as exc:  # fpdf2/python-docx/Pillow live in the `local` extra
        raise click.ClickException(
            f"the sample corpus needs the local extra ({exc.name} is missing): "
            "pip install 'kbflow[local]'"
        ) from exc
    if as_json:
        listing = [{"path": f.path, "media_type": f.media_type, "bytes": len(f.data),
                    "expect": f.expect, "pii": f.pii} for f in files]
        click.echo(json.dumps({"directory": str(directory), "files": listing}))
        return
    bad = sum(1 for f in files if f.expect != "indexed")
    pii = sum(1 for f in files if f.pii)
    click.echo(f"wrote {len(files)} files to {directory} "
               f"({len(files) - bad} documents, {pii} with PII, {bad} meant for quarantine)")
