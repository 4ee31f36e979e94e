"""Workflow names resolve through the registry; console URLs for AWS partitions and local runs."""

from __future__ import annotations

from pathlib import Path

import kbflow
import pytest
from kbflow import Client, MockBackend, Registry, StoreReviewSource
from sdk_fakes import PASS, FakeStepFunctions

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:kbflow-human-review"


def test_registry_resolution_order() -> None:
    env = {
        "KBFLOW_WORKFLOW_HUMAN_REVIEW_ARN": ARN + "-env",
        "KBFLOW_WORKFLOW_REINDEX_ARN": ARN + "-r",
    }
    reg = Registry(
        {"human-review": ARN}, outputs={"IngestionStateMachineArn": ARN + "-i"}, environ=env
    )
    assert reg.arn("human-review") == ARN  # explicit wins over the environment
    assert reg.arn("reindex") == ARN + "-r"  # environment
    assert reg.arn("ingestion") == ARN + "-i"  # deploy outputs
    assert reg.arn(ARN + ":3") == ARN + ":3"  # ARNs pass through
    assert reg.workflow_for(ARN + ":prod") == "human-review"  # alias/version ignored
    assert reg.workflow_for("arn:aws:states:eu-west-1:1:stateMachine:other") is None
    with pytest.raises(kbflow.ConfigurationError, match="KBFLOW_WORKFLOW_OTHER_ARN"):
        Registry(environ={}).arn("other")


def test_registry_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBFLOW_WORKFLOW_HUMAN_REVIEW_ARN", ARN)
    assert Registry().arn("human-review") == ARN


def test_start_by_name_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStepFunctions()
    arn = fake.create("kbflow-reindex", PASS)
    monkeypatch.setenv("KBFLOW_WORKFLOW_REINDEX_ARN", arn)
    run = Client(backend=MockBackend(fake), validate=False).start("reindex", {})
    assert run.state_machine_arn == arn and run.workflow == "reindex"


def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")


def test_client_aws_reads_the_deployed_stack_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = pytest.importorskip("kbflow.deploy.registry")
    _aws_credentials(monkeypatch)
    arns = {
        key: f"arn:aws:states:eu-west-1:1:stateMachine:prod-{wf}"
        for wf, key in deployed.WORKFLOW_OUTPUTS.items()
    }
    outputs = {**arns, "ReviewsTableName": "prod-reviews", "AuditTableName": "prod-audit"}
    deployed.save(
        deployed.from_outputs("kbflow-prod", "eu-west-1", outputs)
    )  # under XDG_CONFIG_HOME
    with Client.aws() as client:
        assert client.registry.arn("human-review") == arns["HumanReviewStateMachineArn"]
        assert client.registry.workflow_for(arns["IngestionStateMachineArn"]) == "ingestion"
        assert client.backend.client.meta.region_name == "eu-west-1"  # type: ignore[attr-defined]
        assert isinstance(client.reviews.source, StoreReviewSource)
    with pytest.raises(kbflow.ConfigurationError):
        Client.aws(stack="not-deployed")


def test_client_aws_without_a_deployed_stack_uses_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _aws_credentials(monkeypatch)
    monkeypatch.setenv("KBFLOW_WORKFLOW_INGESTION_ARN", ARN)
    with Client.aws(region="us-east-1") as client:
        assert client.registry.arn("ingestion") == ARN
        with pytest.raises(kbflow.ConfigurationError, match="review source"):
            client.reviews.pending()


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        (
            "arn:aws:states:eu-west-1:1:execution:m:e",
            "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
            "#/v2/executions/details/arn:aws:states:eu-west-1:1:execution:m:e",
        ),
        (
            "arn:aws-cn:states:cn-north-1:1:execution:m:e",
            "https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1"
            "#/v2/executions/details/arn:aws-cn:states:cn-north-1:1:execution:m:e",
        ),
        (
            "arn:aws-us-gov:states:us-gov-west-1:1:execution:m:e",
            "https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1"
            "#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:1:execution:m:e",
        ),
    ],
)
def test_console_url_for_aws_partitions(arn: str, url: str) -> None:
    client = Client(backend=MockBackend(FakeStepFunctions()))
    assert client.console_url(arn) == url


def test_console_url_for_a_local_backend() -> None:
    backend = MockBackend(FakeStepFunctions())
    backend.console_base = kbflow._client.LOCAL_CONSOLE
    arn = "arn:aws:states:us-east-1:123456789012:execution:kbflow-ingestion:run-1"
    url = Client(backend=backend).console_url(arn)
    assert url == "http://127.0.0.1:8083/#/execution/" + arn.replace(":", "%3A")


def test_console_url_refuses_what_is_not_an_execution_arn() -> None:
    with pytest.raises(kbflow.ValidationError):
        Client(backend=MockBackend(FakeStepFunctions())).console_url("arn:aws:s3:::bucket")
