"""``kbflow build`` and ``kbflow validate``: compile the flows and check ASL definitions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
from kbflow.errors import DefinitionError

__all__ = ["build", "validate"]


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write to (default: the package's definitions/ folder).",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 and name the files that differ from a fresh build.",
)
def build(out_dir: Path | None, check_only: bool) -> None:
    """Compile the three flows to ASL and JSON Schemas.

    Writes ingestion.asl.json, reindex.asl.json, human-review.asl.json and
    schemas/<flow>.input.json. Every definition is validated first (JSON Schema for ASL,
    statelint, kbflow's semantic checks); nothing is written when one is invalid.
    """
    from kbflow.workflows import build as flows

    try:
        files = flows.artifacts()
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(f"{problem.pointer}: {problem.message}", err=True)
        raise click.exceptions.Exit(1) from exc
    target = out_dir if out_dir is not None else flows.default_out_dir()
    if check_only:
        _report_drift(flows.drift(target, files), target)
        return
    written = flows.write(target, files)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(files)} files in {target} ({len(written)} changed)")


def _report_drift(stale: list[str], target: Path) -> None:
    if not stale:
        click.echo(f"definitions are up to date in {target}")
        return
    for name in stale:
        click.echo(f"drift: {target / name} differs from a fresh build", err=True)
    click.echo("run `kbflow build` and commit the result", err=True)
    raise click.exceptions.Exit(1)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--no-statelint", is_flag=True, help="Skip the statelint linter.")
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on statelint findings too (by default they are printed as warnings).",
)
def validate(paths: tuple[Path, ...], no_statelint: bool, strict: bool) -> None:
    """Validate ASL definitions (files, or folders of *.asl.json).

    Runs the JSON Schema for ASL (JSONPath and JSONata states), kbflow's semantic checks
    (targets exist, every state reachable, a terminal state, States.ALL alone and last,
    well-formed ${...} placeholders, field combinations AWS rejects) and the statelint
    linter. Prints every problem as FILE:/json/pointer: message and exits 1 when there is
    any; prints one OK line otherwise.

    statelint findings end in [statelint] and are warnings unless --strict: statelint lags
    behind AWS on newer fields (e.g. Assign in JSONPath states, which AWS accepts), so a
    finding only statelint makes does not fail the run. --no-statelint skips it.
    """
    from kbflow.runtime.asl.validate import format_problem, validate_file

    files = list(_definition_files(paths))
    if not files:
        raise click.UsageError("no *.asl.json files found in the given folders")
    failed = warned = 0
    for file in files:
        problems = validate_file(file, use_statelint=not no_statelint)
        errors = [p for p in problems if strict or p.source != "statelint"]
        failed += bool(errors)
        warned += len(problems) - len(errors)
        for problem in problems:
            note = "" if problem in errors else " (warning)"
            click.echo(format_problem(str(file), problem) + note)
    if failed:
        click.echo(f"{failed} of {len(files)} definition(s) invalid", err=True)
        raise click.exceptions.Exit(1)
    suffix = f"; {warned} statelint warning(s), see above" if warned else ""
    click.echo(f"OK: {len(files)} definition(s) valid{suffix}")


def _definition_files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.asl.json"))
        else:
            yield path
