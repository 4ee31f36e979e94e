"""The generated stack: state machines, functions, storage, events, monitoring, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_testing import resources_of
from kbflow import definitions
from kbflow.deploy.functions import lambda_handler
from kbflow.deploy.machines import FLOWS, Machine, machine_id
from kbflow.deploy.template import build_template, render_yaml
from kbflow.errors import ConfigurationError
from kbflow.tasks.catalog import FUNCTIONS, TABLES, resolve_handler

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
DEFINITIONS = Path(definitions.__file__).parent


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return _props(template, role_id)["Policies"][0]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("flow", FLOWS)
def test_every_placeholder_in_the_committed_definition_has_a_substitution(template, flow):
    text = (DEFINITIONS / f"{flow}.asl.json").read_text(encoding="utf-8")
    found = set(PLACEHOLDER.findall(text))
    assert found, f"{flow} has no placeholders: the test would prove nothing"
    props = _props(template, machine_id(flow))
    assert set(props["DefinitionSubstitutions"]) == found
    assert json.loads(props["DefinitionString"]) == json.loads(text)


@pytest.mark.parametrize("flow", FLOWS)
def test_state_machine_is_standard_traced_and_logs_errors_without_data(template, flow):
    props = _props(template, machine_id(flow))
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": [f"{machine_id(flow)}LogGroup", "Arn"]
    }


def test_function_substitutions_point_at_the_functions_of_the_stack(template):
    subs = _props(template, "IngestionStateMachine")["DefinitionSubstitutions"]
    assert subs["FetchDocumentFunctionArn"] == {"Fn::GetAtt": ["FetchDocumentFunction", "Arn"]}
    assert (
        "stateMachine:kbflow-${Stage}-human-review" in subs["HumanReviewStateMachineArn"]["Fn::Sub"]
    )


def test_one_lambda_per_catalog_task_configured_from_the_catalog(template):
    functions = resources_of(template, "AWS::Lambda::Function")
    assert set(functions) == {f"{fn.name}Function" for fn in FUNCTIONS} | {"ReviewDecisionFunction"}
    for fn in FUNCTIONS:
        props = functions[f"{fn.name}Function"]["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Handler"] == lambda_handler(fn.handler)
        assert (props["MemorySize"], props["Timeout"]) == (fn.memory_mb, fn.timeout_s)
        assert props.get("ReservedConcurrentExecutions") == fn.reserved_concurrency
        assert props["TracingConfig"] == {"Mode": "Active"}
        env = props["Environment"]["Variables"]
        assert env["KBFLOW_ADAPTERS"] == "aws"
        for table in TABLES:
            assert table.env in env
        assert {"KBFLOW_WORK_BUCKET", "KBFLOW_QUARANTINE_BUCKET", "KBFLOW_NOTIFY_TOPIC_ARN"} <= set(
            env
        )


def test_lambda_handler_strings_import_the_real_handlers(template):
    for lid, res in resources_of(template, "AWS::Lambda::Function").items():
        module, _, attr = res["Properties"]["Handler"].rpartition(".")
        assert callable(resolve_handler(f"{module}:{attr}")), lid


def test_reserved_concurrency_is_set_for_quota_bound_tasks(template):
    bound = {fn.name for fn in FUNCTIONS if fn.reserved_concurrency}
    assert bound, "the catalog reserves concurrency for downstream quotas"
    for name in bound:
        assert "ReservedConcurrentExecutions" in _props(template, f"{name}Function")


def test_async_failures_go_to_the_dead_letter_queue(template):
    configs = resources_of(template, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == len(resources_of(template, "AWS::Lambda::Function"))
    for config in configs.values():
        props = config["Properties"]
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
        }


def test_state_machine_roles_invoke_exactly_their_functions(template):
    for flow in FLOWS:
        text = (DEFINITIONS / f"{flow}.asl.json").read_text(encoding="utf-8")
        wanted = {
            p[: -len("FunctionArn")] for p in PLACEHOLDER.findall(text) if p.endswith("FunctionArn")
        }
        stmt = next(
            s
            for s in _statements(template, f"{machine_id(flow)}Role")
            if s.get("Sid") == "InvokeTaskFunctions"
        )
        assert stmt["Action"] == ["lambda:InvokeFunction"]
        named = {r["Fn::GetAtt"][0] for r in stmt["Resource"] if "Fn::GetAtt" in r}
        assert named == {f"{name}Function" for name in wanted}


def test_ingestion_may_start_human_review_and_its_own_map_children(template):
    by_sid = {s["Sid"]: s for s in _statements(template, "IngestionStateMachineRole")}
    started = json.dumps(by_sid["StartExecutions"]["Resource"])
    assert "stateMachine:kbflow-${Stage}-human-review" in started
    assert "stateMachine:kbflow-${Stage}-ingestion" in started  # Distributed Map children
    children = by_sid["DistributedMapChildren"]
    assert set(children["Action"]) >= {"states:DescribeExecution", "states:StopExecution"}
    assert "execution:kbflow-${Stage}-ingestion/*" in json.dumps(children["Resource"])
    assert by_sid["ItemReaderList"]["Resource"] == [{"Fn::GetAtt": ["SourcesBucket", "Arn"]}]
    assert "s3:PutObject" in by_sid["ResultWriter"]["Action"]


def test_human_review_machine_cannot_start_executions(template):
    sids = {s.get("Sid") for s in _statements(template, "HumanReviewStateMachineRole")}
    assert "StartExecutions" not in sids and "DistributedMapChildren" not in sids


def test_tables_have_pitr_sse_and_the_catalog_key_schema(template):
    tables = resources_of(template, "AWS::DynamoDB::Table")
    assert len(tables) == len(TABLES)
    for table in TABLES:
        lid = "".join(p.title() for p in str(table.kind).split("_"))
        props = tables[lid]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["KeySchema"][0] == {"AttributeName": table.partition_key, "KeyType": "HASH"}


def test_buckets_are_encrypted_versioned_private_and_sources_emit_events(template):
    buckets = resources_of(template, "AWS::S3::Bucket")
    assert set(buckets) == {"SourcesBucket", "QuarantineBucket", "WorkBucket"}
    for res in buckets.values():
        props = res["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert all(props["PublicAccessBlockConfiguration"].values())
    assert buckets["SourcesBucket"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_events_start_the_flows(template):
    s3_rule = _props(template, "SourceObjectCreatedRule")
    assert s3_rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert s3_rule["Targets"][0]["Arn"] == {"Ref": "IngestionStateMachine"}
    assert "s3://<bucket>/<key>" in s3_rule["Targets"][0]["InputTransformer"]["InputTemplate"]
    wiki = _props(template, "WikiChangeRule")
    assert wiki["EventBusName"] == {"Fn::GetAtt": ["WikiEventBus", "Name"]}
    assert wiki["Targets"][0]["Arn"] == {"Ref": "ReindexStateMachine"}
    schedule = template["Resources"]["FullReindexSchedule"]
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    assert json.loads(
        schedule["Properties"]["Target"]["Input"]["Fn::Sub"].replace("${WikiSiteUrl}", "x")
    ) == {"mode": "full", "site": "x"}


def test_decision_endpoint_is_an_iam_function_url(template):
    url = _props(template, "ReviewDecisionFunctionUrl")
    assert url["AuthType"] == "AWS_IAM"
    actions = {a for s in _statements(template, "ReviewDecisionFunctionRole") for a in s["Action"]}
    assert {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:PutItem"} <= actions


def test_alarms_cover_every_machine_and_function(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    for flow in FLOWS:
        for metric in ("ExecutionsFailed", "ExecutionThrottled", "ExecutionsTimedOut"):
            props = alarms[f"{machine_id(flow)}{metric}Alarm"]["Properties"]
            assert (props["Namespace"], props["MetricName"]) == ("AWS/States", metric)
    for lid in resources_of(template, "AWS::Lambda::Function"):
        assert alarms[f"{lid}ErrorsAlarm"]["Properties"]["MetricName"] == "Errors"


def test_dead_letter_queue_has_an_alarm(template):
    props = _props(template, "DeadLetterQueueAlarm")
    assert props["Namespace"] == "AWS/SQS"
    assert props["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}


def test_cfn_lint_suppression_is_only_where_the_definition_needs_it(template):
    for flow in FLOWS:
        states = json.dumps(definitions.asl(flow))
        needs = '"Type": "Succeed"' in states and "QueryLanguage" in states
        metadata = template["Resources"][machine_id(flow)].get("Metadata")
        if metadata is None:
            continue
        assert needs, flow
        assert metadata["cfn-lint"] == {"config": {"ignore_checks": ["E3601"]}}
    others = [
        r for r in template["Resources"].values() if r["Type"] != "AWS::StepFunctions::StateMachine"
    ]
    assert not any("Metadata" in r for r in others)


def test_dashboard_references_only_existing_resources(template):
    body = _props(template, "Dashboard")["DashboardBody"]["Fn::Sub"]
    refs = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", body))
    assert refs <= set(template["Resources"])
    assert {"IngestionStateMachine", "QuarantineDocumentFunction"} <= refs
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for word in (
        "Executions by status",
        "Map Run progress",
        "duration",
        "errors",
        "throttles",
        "Quarantined",
    ):
        assert word in titles


def test_outputs_name_everything_the_registry_needs(template):
    outputs = template["Outputs"]
    for key in (
        "IngestionStateMachineArn",
        "ReindexStateMachineArn",
        "HumanReviewStateMachineArn",
        "ManifestTableName",
        "ReviewsTableName",
        "AuditTableName",
        "SourcesBucketName",
        "WorkBucketName",
        "QuarantineBucketName",
        "ReviewDecisionUrl",
    ):
        assert key in outputs


def test_yaml_round_trips_without_aliases(template, template_text):
    assert "*id0" not in template_text and "&id0" not in template_text
    assert yaml.safe_load(template_text) == template
    assert template_text.startswith("AWSTemplateFormatVersion")


def _machines(**overrides: dict[str, Any]) -> list[Machine]:
    out = [Machine(flow, definitions.asl(flow)) for flow in FLOWS]
    return [Machine(m.flow, overrides.get(m.flow.replace("-", "_"), m.definition)) for m in out]


def _one_task(resource: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": params, "End": True}},
    }


def test_unknown_placeholder_is_refused():
    bad = _one_task("arn:aws:states:::lambda:invoke", {"FunctionName": "${NoSuchFunctionArn}"})
    with pytest.raises(ConfigurationError, match="NoSuchFunctionArn"):
        build_template(machines=_machines(reindex=bad))


def test_unknown_integration_is_refused_instead_of_missing_a_permission():
    bad = _one_task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": "q", "MessageBody": "m"})
    with pytest.raises(ConfigurationError, match="no IAM mapping"):
        build_template(machines=_machines(reindex=bad))


def test_dynamic_function_names_are_refused():
    bad = _one_task("arn:aws:states:::lambda:invoke", {"FunctionName.$": "$.fn"})
    with pytest.raises(ConfigurationError, match="dynamic FunctionName"):
        build_template(machines=_machines(reindex=bad))


@pytest.mark.parametrize("stage", ["", "Prod", "a" * 21, "x_y"])
def test_bad_stage_names_are_refused(stage):
    with pytest.raises(ConfigurationError, match="stage"):
        build_template(stage=stage)


def test_stage_is_the_parameter_default(template):
    assert template["Parameters"]["Stage"]["Default"] == "test"
    assert render_yaml(build_template(stage="prod")).count("Default: prod") == 1


def test_search_index_grants_per_service(template):
    by_action: dict[str, Any] = {}
    for stmt in _statements(template, "IndexDocumentFunctionRole"):
        for action in stmt["Action"]:
            by_action[action] = stmt["Resource"]
    assert by_action["es:ESHttpPut"] == [{"Fn::Sub": "${SearchIndexArn}/*"}]
    assert by_action["aoss:APIAccessAll"] == [{"Ref": "SearchIndexArn"}]
    assert by_action["kendra:BatchPutDocument"] == [{"Ref": "SearchIndexArn"}]
    env = _props(template, "IndexDocumentFunction")["Environment"]["Variables"]
    assert env["KBFLOW_INDEX"] == {"Fn::If": ["IsKendraIndex", "kendra", "opensearch"]}
    assert set(template["Conditions"]) == {"HasWikiSite", "IsKendraIndex"}


def test_template_fits_cloudformation_limits(template, template_text):
    assert len(template_text.encode()) < 1_000_000  # TemplateURL limit (apply uploads past 51,200)
    assert len(template["Resources"]) <= 500
    assert len(template["Outputs"]) <= 200
    for flow in FLOWS:  # DefinitionString must stay under Step Functions' 1 MB definition limit
        assert len(_props(template, machine_id(flow))["DefinitionString"].encode()) < 1_048_576
