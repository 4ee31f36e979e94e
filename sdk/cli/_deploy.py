"""``kbflow deploy``: generate the CloudFormation stack, build the Lambda artifact, deploy it."""

from __future__ import annotations

from pathlib import Path

import click
from kbflow.errors import KbflowError

__all__ = ["deploy"]

_DEFAULT_OUT = Path(".kbflow") / "deploy"


def _fail(exc: KbflowError) -> click.exceptions.Exit:
    click.echo(f"error: {exc}", err=True)
    return click.exceptions.Exit(1)


@click.group()
def deploy() -> None:
    """Deploy kbflow to AWS: one CloudFormation stack for the three flows.

    Typical use: `kbflow deploy package`, then
    `kbflow deploy apply --stack kbflow-prod -p SearchIndexArn=arn:aws:es:...`.
    """


@deploy.command()
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the template here (default: standard output).",
)
@click.option(
    "--stage",
    default="dev",
    show_default=True,
    help="Default of the Stage parameter; names resources kbflow-<stage>-<flow>.",
)
def template(output: Path | None, stage: str) -> None:
    """Generate the CloudFormation template (YAML) from the definitions and the task catalog."""
    from kbflow.deploy.template import build_template, render_yaml

    try:
        text = render_yaml(build_template(stage=stage))
    except KbflowError as exc:
        raise _fail(exc) from exc
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output} ({len(text.encode()) / 1000:.1f} kB)", err=True)


@deploy.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=_DEFAULT_OUT,
    show_default=True,
    help="Folder for the staging tree and kbflow-lambda.zip.",
)
def package(out_dir: Path) -> None:
    """Build the Lambda artifact (kbflow + its AWS-side dependencies as manylinux wheels).

    Fails when the unzipped artifact is over Lambda's 250 MB limit.
    """
    from kbflow.deploy.package import build_artifact

    try:
        report = build_artifact(out_dir)
    except KbflowError as exc:
        raise _fail(exc) from exc
    click.echo(report.summary())


@deploy.command()
@click.option("--stack", required=True, help="CloudFormation stack name.")
@click.option("--region", default=None, help="AWS region (default: the AWS configuration's).")
@click.option(
    "--endpoint-url", default=None, help="Send every AWS call to this endpoint (an emulator)."
)
@click.option(
    "--artifact",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Lambda zip (default: {_DEFAULT_OUT / 'kbflow-lambda.zip'} when it exists).",
)
@click.option(
    "--artifact-bucket",
    default=None,
    help="S3 bucket for the artifact and template (default: kbflow-artifacts-<account>-<region>).",
)
@click.option("--stage", default="dev", show_default=True, help="Stage parameter of the stack.")
@click.option(
    "-p",
    "--parameter",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Template parameter, e.g. SearchIndexArn=arn:aws:es:...; repeatable.",
)
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the stack.")
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Registry file (default: $KBFLOW_REGISTRY or ~/.config/kbflow/stacks/<stack>.json).",
)
def apply(
    stack: str,
    region: str | None,
    endpoint_url: str | None,
    artifact: Path | None,
    artifact_bucket: str | None,
    stage: str,
    parameters: tuple[str, ...],
    timeout: float,
    registry_file: Path | None,
) -> None:
    """Create or update the stack, wait for it, and record its outputs for the SDK."""
    from kbflow.deploy.apply import Deployment
    from kbflow.deploy.apply import apply as run_apply
    from kbflow.deploy.template import build_template, render_yaml

    params = _parse_parameters(parameters)
    params.setdefault("Stage", stage)
    default_artifact = _DEFAULT_OUT / "kbflow-lambda.zip"
    if artifact is None and default_artifact.is_file():
        artifact = default_artifact
    deployment = Deployment(
        stack=stack,
        artifact=artifact,
        region=region,
        endpoint_url=endpoint_url,
        artifact_bucket=artifact_bucket,
        parameters=params,
        timeout=timeout,
        registry_path=registry_file,
    )
    try:
        text = render_yaml(build_template(stage=stage))
        registry = run_apply(deployment, text, progress=lambda line: click.echo(line, err=True))
    except KbflowError as exc:
        raise _fail(exc) from exc
    for name, arn in registry.workflows.items():
        click.echo(f"{name}: {arn}")


def _parse_parameters(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--parameter")
        out[key] = value
    return out
