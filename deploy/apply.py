"""Create or update the kbflow stack with boto3 CloudFormation and record its outputs.

Steps of :func:`apply`:

1. make sure the artifact bucket exists (``kbflow-artifacts-<account>-<region>`` unless one is
   named), encrypted, versioned and private;
2. upload the Lambda artifact under its content hash (an unchanged artifact is not uploaded
   again, a changed one gets a new key so CloudFormation updates the functions);
3. upload the template when it is over CloudFormation's 51,200-byte inline limit;
4. create the stack, or update it (an update with no changes is not an error);
5. poll the stack (bounded: ``timeout`` seconds) and report each new stack event;
6. write the outputs to the registry (:mod:`kbflow.deploy.registry`) and return it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3  # type: ignore[import-untyped,unused-ignore]
import yaml  # type: ignore[import-untyped,unused-ignore]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]
from kbflow.deploy import registry as _registry
from kbflow.errors import BackendError, ConfigurationError

__all__ = ["DeployError", "Deployment", "apply", "artifact_bucket_name"]

INLINE_TEMPLATE_LIMIT: Final = 51_200
_DONE: Final = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
_FAILED: Final = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
_NO_CHANGES: Final = "No updates are to be performed"


class DeployError(BackendError):
    """CloudFormation refused the stack, rolled it back, or did not finish in time."""

    code = "DeployFailed"


@dataclass
class Deployment:
    """Everything :func:`apply` needs besides the template text."""

    stack: str
    """Stack name."""
    artifact: Path | None
    """The Lambda zip from ``kbflow deploy package``; ``None`` keeps the deployed artifact."""
    region: str | None = None
    endpoint_url: str | None = None
    """Send every AWS call here (a local emulator)."""
    artifact_bucket: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    """Template parameters (``SearchIndexArn``, ``Stage``, ...)."""
    timeout: float = 3600.0
    """Give up waiting after this many seconds."""
    poll_interval: float = 10.0
    registry_path: Path | None = None
    """Where to write the registry; default :func:`kbflow.deploy.registry.registry_path`."""


Progress = Callable[[str], None]


def artifact_bucket_name(account: str, region: str) -> str:
    """Default artifact bucket, ``kbflow-artifacts-<account>-<region>``."""
    return f"kbflow-artifacts-{account}-{region}"


def apply(
    deployment: Deployment,
    template_text: str,
    *,
    session: Any | None = None,
    progress: Progress = lambda _line: None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> _registry.Registry:
    """Create or update the stack, wait for it and save its registry.

    Args:
        deployment: Stack name, artifact, region, parameters and limits.
        template_text: The template (``kbflow deploy template``).
        session: A ``boto3.Session``; default one for ``deployment.region``.
        progress: Receives one line per step and per new stack event.
        sleep: Waits between polls (injected by tests).
        monotonic: Clock for the timeout (injected by tests).

    Returns:
        The registry written for the stack.

    Raises:
        DeployError: CloudFormation refused or rolled back the stack, or it timed out.
        ConfigurationError: No region, or no artifact for a stack that does not exist yet.
    """
    try:
        return _apply(deployment, template_text, session, progress, sleep, monotonic)
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"AWS refused a deploy call: {exc}") from exc


def _apply(
    deployment: Deployment,
    template_text: str,
    session: Any | None,
    progress: Progress,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> _registry.Registry:
    session = session or boto3.Session(region_name=deployment.region)
    region = deployment.region or session.region_name
    if not region:
        raise ConfigurationError("no AWS region: pass --region or set AWS_REGION")
    clients = _Clients(session, region, deployment.endpoint_url)
    cfn = clients.get("cloudformation")
    existing = _describe(cfn, deployment.stack)
    params = dict(deployment.parameters)
    bucket = deployment.artifact_bucket or artifact_bucket_name(clients.account(), region)
    if deployment.artifact is not None:
        _ensure_bucket(clients.get("s3"), bucket, region, progress)
        params["ArtifactBucket"] = bucket
        params["ArtifactKey"] = _upload_artifact(
            clients.get("s3"), bucket, deployment.artifact, progress
        )
    elif existing is None:
        raise ConfigurationError(
            f"stack {deployment.stack!r} does not exist yet: pass the artifact zip"
        )
    if existing is not None:
        params = {**_previous(existing, template_text), **params}
    source = _template_source(clients, bucket, region, deployment.stack, template_text, progress)
    started = _submit(cfn, deployment.stack, source, params, existing, progress)
    if started:
        _wait(cfn, deployment.stack, deployment, progress, sleep, monotonic)
    outputs = _outputs(cfn, deployment.stack)
    reg = _registry.from_outputs(deployment.stack, region, outputs)
    path = _registry.save(reg, deployment.registry_path)
    progress(f"registry written to {path}")
    return reg


class _Clients:
    def __init__(self, session: Any, region: str, endpoint_url: str | None) -> None:
        self._session, self._region, self._endpoint = session, region, endpoint_url

    def get(self, service: str) -> Any:
        return self._session.client(service, region_name=self._region, endpoint_url=self._endpoint)

    def account(self) -> str:
        return str(self.get("sts").get_caller_identity()["Account"])


def _describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise DeployError(f"describe_stacks({stack}): {exc}") from exc
    found: dict[str, Any] | None = stacks[0] if stacks else None
    if found is not None and found["StackStatus"] == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack} is ROLLBACK_COMPLETE (its first create failed); delete it first"
        )
    return found


def _previous(existing: Mapping[str, Any], template_text: str) -> dict[str, str]:
    """The deployed stack's parameter values that the new template still declares.

    Passed as values (not ``UsePreviousValue``) so an update keeps what the last apply set,
    e.g. ``SearchIndexArn``; the template declares no ``NoEcho`` parameters.
    """
    declared = yaml.safe_load(template_text).get("Parameters", {}) or {}
    return {
        p["ParameterKey"]: p["ParameterValue"]
        for p in existing.get("Parameters", [])
        if p["ParameterKey"] in declared and "ParameterValue" in p
    }


def _ensure_bucket(s3: Any, bucket: str, region: str, progress: Progress) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(f"artifact bucket {bucket}: {exc}") from exc
    progress(f"creating artifact bucket {bucket}")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _upload_artifact(s3: Any, bucket: str, artifact: Path, progress: Progress) -> str:
    if not artifact.is_file():
        raise ConfigurationError(f"artifact {artifact} not found; run `kbflow deploy package`")
    key = f"kbflow/lambda-{_sha256(artifact)}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        progress(f"artifact s3://{bucket}/{key} already uploaded")
        return key
    except ClientError:
        pass
    progress(
        f"uploading {artifact} ({artifact.stat().st_size / 1e6:.1f} MB) to s3://{bucket}/{key}"
    )
    s3.upload_file(str(artifact), bucket, key)
    return key


def _template_source(
    clients: _Clients, bucket: str, region: str, stack: str, text: str, progress: Progress
) -> dict[str, str]:
    if len(text.encode("utf-8")) <= INLINE_TEMPLATE_LIMIT:
        return {"TemplateBody": text}
    s3 = clients.get("s3")
    _ensure_bucket(s3, bucket, region, progress)
    key = f"kbflow/templates/{stack}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
    progress(f"template uploaded to s3://{bucket}/{key}")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


def _submit(
    cfn: Any,
    stack: str,
    source: Mapping[str, str],
    params: Mapping[str, str],
    existing: Mapping[str, Any] | None,
    progress: Progress,
) -> bool:
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]
    kwargs: dict[str, Any] = {"StackName": stack, "Capabilities": ["CAPABILITY_IAM"], **source}
    try:
        if existing is None:
            progress(f"creating stack {stack}")
            cfn.create_stack(Parameters=given, **kwargs)
        else:
            progress(f"updating stack {stack}")
            cfn.update_stack(Parameters=given, **kwargs)
    except ClientError as exc:
        if _NO_CHANGES in str(exc):
            progress(f"stack {stack} is up to date")
            return False
        raise DeployError(f"CloudFormation refused stack {stack}: {exc}") from exc
    return True


def _wait(
    cfn: Any,
    stack: str,
    deployment: Deployment,
    progress: Progress,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> None:
    deadline = monotonic() + deployment.timeout
    seen: set[str] = set()
    while True:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        failures = _report_events(cfn, stack, seen, progress)
        if status in _DONE:
            progress(f"stack {stack}: {status}")
            return
        if status in _FAILED:
            detail = "; ".join(failures[-5:]) or "see the stack events"
            raise DeployError(f"stack {stack} ended {status}: {detail}", code=status)
        if monotonic() >= deadline:
            raise DeployError(
                f"stack {stack} still {status} after {deployment.timeout:g}s", code="Timeout"
            )
        sleep(deployment.poll_interval)


def _report_events(cfn: Any, stack: str, seen: set[str], progress: Progress) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    failures: list[str] = []
    for event in reversed(events):  # the API lists the newest first
        reason = event.get("ResourceStatusReason", "")
        line = f"{event['LogicalResourceId']}: {event['ResourceStatus']}" + (
            f" ({reason})" if reason else ""
        )
        if "FAILED" in event["ResourceStatus"]:
            failures.append(line)
        if event["EventId"] not in seen:
            seen.add(event["EventId"])
            progress(line)
    return failures


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
