"""``deploy apply`` against moto's CloudFormation, the bounded waiter, and the registry."""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from deploy_testing import prune, resources_of
from kbflow.deploy import registry
from kbflow.deploy.apply import DeployError, Deployment, apply
from kbflow.deploy.template import render_yaml
from kbflow.errors import ConfigurationError
from moto import mock_aws

REGION = "eu-west-1"
SEARCH = "arn:aws:es:eu-west-1:123456789012:domain/kbflow"
# What moto's CloudFormation cannot create (documented in docs/deploy.md); everything else in
# the stack is created for real by moto.
MOTO_GAPS = {
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Url",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Scheduler::Schedule",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KBFLOW_REGISTRY", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "kbflow-lambda.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("kbflow/__init__.py", "")
    return path


@pytest.fixture(scope="module")
def moto_template(template: dict[str, Any]) -> tuple[str, dict[str, str]]:
    pruned, removed = prune(template)
    return render_yaml(pruned), removed


def _apply(
    text: str, artifact: Path | None, lines: list[str] | None = None, **kwargs: Any
) -> registry.Registry:
    deployment = Deployment(
        "kbflow-test",
        artifact,
        region=REGION,
        poll_interval=0,
        parameters={"SearchIndexArn": SEARCH},
        **kwargs,
    )
    with warnings.catch_warnings():
        # moto warns about resources it does not model; the pruned template has none left.
        warnings.simplefilter("error")
        return apply(
            deployment, text, progress=(lines.append if lines is not None else lambda _: None)
        )


def test_moto_gap_is_exactly_the_documented_one(template, moto_template):
    _, removed = moto_template
    removed_types = {template["Resources"][lid]["Type"] for lid in removed}
    assert removed_types == MOTO_GAPS
    for kind in (
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Events::Rule",
    ):
        assert not set(resources_of(template, kind)) & set(removed), kind


def test_apply_creates_the_stack_and_the_sdk_resolves_the_workflows(aws, moto_template, artifact):
    text, _ = moto_template
    lines: list[str] = []
    reg = _apply(text, artifact, lines)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    assert machines == {
        f"kbflow-test-{flow}": reg.workflows[flow]
        for flow in ("ingestion", "reindex", "human-review")
    }
    loaded = registry.load("kbflow-test")
    for flow in ("ingestion", "reindex", "human-review"):
        assert loaded.resolve(flow) == machines[f"kbflow-test-{flow}"]
        assert registry.resolve(flow) == machines[f"kbflow-test-{flow}"]  # the only stack file
    assert (
        loaded.outputs["ReviewsTableName"]
        in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    )
    assert "creating stack kbflow-test" in lines and any("CREATE_COMPLETE" in ln for ln in lines)
    functions = boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    assert len(functions) == len(
        resources_of(json.loads(json.dumps(_yaml(text))), "AWS::Lambda::Function")
    )


def test_sdk_client_starts_a_deployed_workflow_by_name(aws, moto_template, artifact):
    from kbflow import Client

    _apply(moto_template[0], artifact)
    client = Client.aws(region=REGION, registry=registry.load("kbflow-test").sdk_registry())
    run = client.start("human-review", {"item": {"id": "doc-1"}, "reason": "pii"}, name="r-1")
    assert run.arn.startswith(
        registry.resolve("human-review").replace(":stateMachine:", ":execution:")
    )
    assert run.workflow == "human-review"


def _yaml(text: str) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_large_template_goes_through_s3_and_artifact_is_content_addressed(
    aws, moto_template, artifact
):
    text, _ = moto_template
    assert len(text) > 51_200
    lines: list[str] = []
    _apply(text, artifact, lines)
    s3 = boto3.client("s3", region_name=REGION)
    bucket = "kbflow-artifacts-123456789012-eu-west-1"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("kbflow/templates/kbflow-test-") for k in keys)
    assert sum(k.startswith("kbflow/lambda-") for k in keys) == 1
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"
    ]
    lines.clear()
    _apply(text, artifact, lines)  # same artifact, same template: nothing to upload or update
    assert any("already uploaded" in ln for ln in lines)


def test_second_apply_updates_and_keeps_previous_parameters(aws, moto_template, artifact):
    text, _ = moto_template
    _apply(text, artifact)
    changed = text.replace("kbflow: document ingestion", "kbflow (v2): document ingestion")
    lines: list[str] = []
    deployment = Deployment("kbflow-test", None, region=REGION, poll_interval=0)
    reg = apply(deployment, changed, progress=lines.append)
    assert "updating stack kbflow-test" in lines
    assert set(reg.workflows) == {"ingestion", "reindex", "human-review"}


def test_first_apply_needs_an_artifact(aws, moto_template):
    with pytest.raises(ConfigurationError, match="artifact"):
        _apply(moto_template[0], None)


class _StuckCloudFormation:
    """A stack that never leaves CREATE_IN_PROGRESS."""

    def __init__(self) -> None:
        self.created = False

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        if not self.created:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack with id x does not exist"}},
                "DescribeStacks",
            )
        return {"Stacks": [{"StackStatus": "CREATE_IN_PROGRESS"}]}

    def create_stack(self, **kwargs: Any) -> None:
        self.created = True

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "StackEvents": [
                {"EventId": "1", "LogicalResourceId": "X", "ResourceStatus": "CREATE_IN_PROGRESS"}
            ]
        }


class _Session:
    region_name = REGION

    def __init__(self, cfn: Any) -> None:
        self.cfn = cfn

    def client(self, service: str, **kwargs: Any) -> Any:
        assert service == "cloudformation", service
        return self.cfn


def test_waiting_is_bounded(tmp_path):
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    deployment = Deployment(
        "s", None, region=REGION, timeout=60, poll_interval=15, artifact_bucket="b"
    )
    cfn = _StuckCloudFormation()
    cfn.created = True  # an existing stack: no artifact needed
    with pytest.raises(DeployError, match="still CREATE_IN_PROGRESS after 60s"):
        apply(
            deployment,
            "{}",
            session=_Session(_UpdatingCfn(cfn)),
            sleep=sleep,
            monotonic=lambda: now[0],
        )
    assert slept == [15, 15, 15, 15]


class _UpdatingCfn:
    def __init__(self, inner: _StuckCloudFormation) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_stack(self, **kwargs: Any) -> None:
        pass


class _RolledBack(_StuckCloudFormation):
    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        if not self.created:
            return super().describe_stacks(StackName)
        return {"Stacks": [{"StackStatus": "ROLLBACK_COMPLETE"}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "StackEvents": [
                {"EventId": "2", "LogicalResourceId": "s", "ResourceStatus": "ROLLBACK_COMPLETE"},
                {
                    "EventId": "1",
                    "LogicalResourceId": "WorkBucket",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "bucket name taken",
                },
            ]
        }


def test_failed_stack_raises_with_the_failing_resources(artifact):
    lines: list[str] = []
    deployment = Deployment("s", artifact, region=REGION, poll_interval=0, artifact_bucket="b")
    session = _Session(_RolledBack())
    session.client = lambda service, **kw: session.cfn if service == "cloudformation" else _FakeS3()  # type: ignore[method-assign]
    with pytest.raises(
        DeployError, match="ROLLBACK_COMPLETE: WorkBucket: CREATE_FAILED \\(bucket name taken\\)"
    ) as err:
        apply(deployment, "{}", session=session, progress=lines.append)
    assert err.value.code == "ROLLBACK_COMPLETE"
    assert lines.index("WorkBucket: CREATE_FAILED (bucket name taken)") < lines.index(
        "s: ROLLBACK_COMPLETE"
    )


class _FakeS3:
    def head_bucket(self, **kwargs: Any) -> None:
        pass

    def head_object(self, **kwargs: Any) -> None:
        pass


# -- registry ------------------------------------------------------------------------------------


def _reg(stack: str = "s1") -> registry.Registry:
    arns = {
        f: f"arn:aws:states:eu-west-1:1:stateMachine:{f}"
        for f in ("ingestion", "reindex", "human-review")
    }
    return registry.from_outputs(
        stack, REGION, {registry.WORKFLOW_OUTPUTS[f]: a for f, a in arns.items()}
    )


def test_registry_env_var_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    target = tmp_path / "custom.json"
    monkeypatch.setenv("KBFLOW_REGISTRY", str(target))
    registry.save(_reg())
    assert json.loads(target.read_text())["workflows"]["reindex"].endswith(":reindex")
    assert registry.resolve("human-review").endswith(":human-review")


def test_registry_needs_a_stack_name_when_several_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("KBFLOW_REGISTRY", raising=False)
    registry.save(_reg("a"))
    registry.save(_reg("b"))
    with pytest.raises(ConfigurationError, match="name the stack"):
        registry.load()
    assert registry.load("b").stack == "b"
    assert (tmp_path / "kbflow" / "stacks" / "a.json").is_file()


def test_registry_errors_are_configuration_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("KBFLOW_REGISTRY", str(tmp_path / "r.json"))
    with pytest.raises(ConfigurationError, match="deploy apply"):
        registry.load()
    (tmp_path / "r.json").write_text('{"stack": 1}')
    with pytest.raises(ConfigurationError, match="not a kbflow registry"):
        registry.load()
    registry.save(_reg())
    with pytest.raises(ConfigurationError, match="no workflow 'nope'"):
        registry.resolve("nope")
    assert registry.resolve("arn:aws:states:x") == "arn:aws:states:x"


def test_outputs_without_workflow_arns_are_refused():
    with pytest.raises(ConfigurationError, match="IngestionStateMachineArn"):
        registry.from_outputs("s", REGION, {"ReindexStateMachineArn": "a"})
