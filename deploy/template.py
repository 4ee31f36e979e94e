"""Generate the kbflow CloudFormation stack (plain CloudFormation, YAML).

The template is built from the two sources of truth, never from a copy:

- the committed definitions (``kbflow.definitions``: ``ingestion``, ``reindex``,
  ``human-review``), each embedded as ``DefinitionString`` with a ``DefinitionSubstitutions``
  entry for every ``${...}`` placeholder it contains;
- the task catalog (``kbflow.tasks.catalog``): one Lambda function per entry, its IAM policy
  from the entry's permissions, the DynamoDB tables from ``TABLES``.

Example::

    from kbflow.deploy.template import build_template, render_yaml

    text = render_yaml(build_template(stage="prod"))

:func:`build_template` checks its own output with :func:`kbflow.deploy.iam.find_violations`
and refuses to return a template that breaks the least-privilege rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml  # type: ignore[import-untyped,unused-ignore]
from kbflow import definitions
from kbflow.deploy import iam
from kbflow.deploy.events import HAS_WIKI_SITE, WIKI_BUS, event_resources
from kbflow.deploy.functions import (
    DECISION_ENDPOINT,
    IS_KENDRA,
    decision_endpoint_resources,
    function_defs,
    function_id,
    function_resources,
)
from kbflow.deploy.machines import FLOWS, Machine, machine_id, machine_resources
from kbflow.deploy.monitoring import ALARM_TOPIC, alarm_resources, dashboard_resource
from kbflow.deploy.storage import (
    BUCKETS,
    DLQ,
    NOTIFY_TOPIC,
    bucket_resources,
    queue_resources,
    table_id,
    table_resources,
    topic_resources,
)
from kbflow.errors import ConfigurationError
from kbflow.tasks.catalog import FUNCTIONS, TABLES, TaskFunction

__all__ = ["DEFAULT_STAGE", "STAGE_PATTERN", "build_template", "load_machines", "render_yaml"]

Json = dict[str, Any]

DEFAULT_STAGE: Final = "dev"
STAGE_PATTERN: Final = r"^[a-z][a-z0-9-]{0,19}$"
_SEARCH_ARN: Final = (
    r"^arn:aws[a-z-]*:(es|aoss|kendra):[a-z0-9-]+:[0-9]{12}:(domain|collection|index)/.+$"
)
"""Stage names end up in state machine, bus and log group names (80-character limits)."""


def load_machines(flows: Sequence[str] = FLOWS) -> list[Machine]:
    """The committed definitions of ``flows``.

    Raises:
        ConfigurationError: A definition file is missing (run ``kbflow build``).
    """
    machines = []
    for flow in flows:
        try:
            machines.append(Machine(flow, definitions.asl(flow)))
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"definitions/{flow}.asl.json is missing; run `kbflow build`"
            ) from exc
    return machines


def build_template(
    *,
    stage: str = DEFAULT_STAGE,
    machines: Sequence[Machine] | None = None,
    catalog: Sequence[TaskFunction] = FUNCTIONS,
) -> Json:
    """Build the whole stack as a template dict.

    Args:
        stage: Default of the ``Stage`` parameter (names resources ``kbflow-<stage>-...``).
        machines: Definitions to deploy; default the committed three flows.
        catalog: Task functions; default :data:`kbflow.tasks.catalog.FUNCTIONS`.

    Returns:
        The CloudFormation template.

    Raises:
        ConfigurationError: Bad stage name, unknown placeholder or integration, or a policy
            that breaks the least-privilege rules.
    """
    if not re.fullmatch(STAGE_PATTERN, stage):
        raise ConfigurationError(f"stage {stage!r} must match {STAGE_PATTERN}")
    machines = list(machines) if machines is not None else load_machines()
    catalog = tuple(catalog)
    defs = function_defs(catalog)
    flows = [m.flow for m in machines]
    names = [d.name for d in defs]
    resources: Json = {}
    for part in (
        bucket_resources(),
        table_resources(TABLES),
        queue_resources(),
        topic_resources(),
        function_resources(defs),
        decision_endpoint_resources(),
        *(machine_resources(m, catalog=catalog) for m in machines),
        event_resources() if _has_all(flows, ("ingestion", "reindex")) else {},
        alarm_resources(flows, names),
    ):
        resources.update(part)
    resources["Dashboard"] = dashboard_resource(flows, names)
    template: Json = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "kbflow: document ingestion, wiki reindex, human review (Step Functions)",
        "Parameters": _parameters(stage),
        "Conditions": {
            HAS_WIKI_SITE: {"Fn::Not": [{"Fn::Equals": [{"Ref": "WikiSiteUrl"}, ""]}]},
            IS_KENDRA: {
                "Fn::Equals": [
                    {"Fn::Select": [2, {"Fn::Split": [":", {"Ref": "SearchIndexArn"}]}]},
                    "kendra",
                ]
            },
        },
        "Resources": resources,
        "Outputs": _outputs(flows),
    }
    violations = iam.find_violations(template)
    if violations:
        raise ConfigurationError(
            "generated IAM breaks least privilege:\n  " + "\n  ".join(violations)
        )
    return template


def _has_all(flows: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(w in flows for w in wanted)


def _parameters(stage: str) -> Json:
    return {
        "Stage": {
            "Type": "String",
            "Default": stage,
            "AllowedPattern": STAGE_PATTERN,
            "Description": "Deployment stage; names the state machines kbflow-<stage>-<flow>",
        },
        "ArtifactBucket": {
            "Type": "String",
            "MinLength": 3,
            "Description": "S3 bucket holding the Lambda artifact (kbflow deploy package)",
        },
        "ArtifactKey": {
            "Type": "String",
            "MinLength": 1,
            "Description": "S3 key of the Lambda artifact zip",
        },
        "SearchIndexArn": {
            "Type": "String",
            "AllowedPattern": _SEARCH_ARN,
            "Description": "OpenSearch domain, Serverless collection or Kendra index ARN",
        },
        "SearchEndpoint": {
            "Type": "String",
            "Default": "",
            "Description": "OpenSearch HTTPS endpoint (empty for Kendra)",
        },
        "EmbeddingModelId": {
            "Type": "String",
            "Default": "amazon.titan-embed-text-v2:0",
            "Description": "Bedrock foundation model id used for embeddings",
        },
        "WikiSiteUrl": {
            "Type": "String",
            "Default": "",
            "Description": "Wiki root for the scheduled full reindex (empty: no schedule)",
        },
        "FullReindexCron": {
            "Type": "String",
            "Default": "cron(0 3 ? * SUN *)",
            "Description": "EventBridge Scheduler expression of the full reindex",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 90,
            "AllowedValues": [
                1,
                3,
                5,
                7,
                14,
                30,
                60,
                90,
                120,
                150,
                180,
                365,
                400,
                545,
                731,
                1827,
                3653,
            ],
            "Description": "Retention of function and state machine logs",
        },
    }


def _output(description: str, value: Any) -> Json:
    return {"Description": description, "Value": value}


def _outputs(flows: Sequence[str]) -> Json:
    out: Json = {}
    for flow in flows:
        mid = machine_id(flow)
        out[f"{mid}Arn"] = _output(f"ARN of the {flow} state machine", {"Ref": mid})
    for bucket in BUCKETS:
        out[f"{bucket.logical_id}Name"] = _output(
            f"Name of the {bucket.logical_id}", {"Ref": bucket.logical_id}
        )
    for table in TABLES:
        tid = table_id(table)
        out[f"{tid}Name"] = _output(f"Name of the {tid}", {"Ref": tid})
    fid = function_id(DECISION_ENDPOINT)
    out["ReviewDecisionUrl"] = _output(
        "IAM-authenticated URL reviewers POST decisions to",
        {"Fn::GetAtt": [f"{fid}Url", "FunctionUrl"]},
    )
    out["ReviewerPolicyArn"] = _output(
        "Managed policy to attach to reviewer principals", {"Ref": "ReviewerPolicy"}
    )
    out["ReviewNotifyTopicArn"] = _output(
        "SNS topic announcing review requests", {"Ref": NOTIFY_TOPIC}
    )
    out["AlarmTopicArn"] = _output("SNS topic the alarms notify", {"Ref": ALARM_TOPIC})
    out["DeadLetterQueueUrl"] = _output(
        "Failed async invokes and undeliverable events", {"Ref": DLQ}
    )
    if _has_all(flows, ("ingestion", "reindex")):
        out["WikiEventBusName"] = _output(
            "Event bus wiki change events are put on", {"Fn::GetAtt": [WIKI_BUS, "Name"]}
        )
    return out


class _Dumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]  # PyYAML ships no stubs
    """YAML dumper that keeps key order, never writes anchors/aliases (CloudFormation rejects
    them) and writes long strings without line folding."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_yaml(template: Mapping[str, Any]) -> str:
    """The template as YAML (key order kept, intrinsics in their long ``Fn::`` form)."""
    text = yaml.dump(
        dict(template), Dumper=_Dumper, sort_keys=False, width=1_000_000, allow_unicode=True
    )
    return str(text)
