"""CloudWatch alarms and the operations dashboard of the kbflow stack.

Alarms (all notify the stack's ``AlarmTopic``):

- per state machine: ``ExecutionsFailed``, ``ExecutionThrottled`` and ``ExecutionsTimedOut``
  (namespace ``AWS/States``, any occurrence in five minutes);
- per Lambda function: ``Errors`` (namespace ``AWS/Lambda``);
- the dead-letter queue holding any message (``ApproximateNumberOfMessagesVisible``).

The dashboard shows executions by status per flow, Distributed Map progress (documents fetched,
recorded and quarantined per minute, and the map's child executions), Lambda duration (p95),
errors and throttles per function, and the quarantine count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from kbflow.deploy.functions import function_id
from kbflow.deploy.machines import machine_id
from kbflow.deploy.storage import DLQ

__all__ = ["ALARM_TOPIC", "STATE_MACHINE_ALARMS", "alarm_resources", "dashboard_resource"]

Json = dict[str, Any]

ALARM_TOPIC: Final = "AlarmTopic"
ALARM_KEY: Final = "AlarmTopicKey"
"""CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its key policy
cannot name cloudwatch.amazonaws.com), so the alarm topic has its own key."""
STATE_MACHINE_ALARMS: Final[tuple[str, ...]] = (
    "ExecutionsFailed",
    "ExecutionThrottled",
    "ExecutionsTimedOut",
)
_STATUSES: Final = (
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
)


def alarm_resources(flows: Sequence[str], functions: Sequence[str]) -> dict[str, Json]:
    """The alarm topic and one alarm per (machine, metric) and per function."""
    out: dict[str, Json] = {
        ALARM_KEY: _alarm_key(),
        ALARM_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": [ALARM_KEY, "Arn"]}},
        },
    }
    for flow in flows:
        mid = machine_id(flow)
        for metric in STATE_MACHINE_ALARMS:
            out[f"{mid}{metric}Alarm"] = _alarm(
                f"{flow}: {metric}", "AWS/States", metric, "StateMachineArn", {"Ref": mid}
            )
    for name in functions:
        fid = function_id(name)
        out[f"{fid}ErrorsAlarm"] = _alarm(
            f"{name}: Lambda errors", "AWS/Lambda", "Errors", "FunctionName", {"Ref": fid}
        )
    out["DeadLetterQueueAlarm"] = _alarm(
        "dead-letter queue holds failed invokes or undeliverable events",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        {"Fn::GetAtt": [DLQ, "QueueName"]},
        statistic="Maximum",
    )
    return out


def _alarm_key() -> Json:
    """A customer-managed key (rotated yearly) for the alarm topic.

    The key policy keeps the account in control through IAM (the default key policy's first
    statement) and lets CloudWatch alarms, from this account only, encrypt what they publish.
    """
    return {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "kbflow alarm topic encryption",
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministersThroughIam",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                        },
                    },
                ],
            },
        },
    }


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimension: str,
    value: Json,
    *,
    statistic: str = "Sum",
) -> Json:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": f"kbflow {description} (any in 5 minutes)",
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension, "Value": value}],
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": ALARM_TOPIC}],
            "OKActions": [{"Ref": ALARM_TOPIC}],
        },
    }


def dashboard_resource(flows: Sequence[str], functions: Sequence[str]) -> Json:
    """One ``AWS::CloudWatch::Dashboard`` whose body references the stack's resources."""
    widgets = [
        _widget("Executions by status", _execution_metrics(flows), 0, 0, 24),
        _widget(
            "Map Run progress (documents per minute)", _map_progress(functions), 0, 6, 12, period=60
        ),
    ]
    if "QuarantineDocument" in functions:
        quarantined = [_fn_metric("QuarantineDocument", "Invocations", "Quarantined")]
        widgets.append(_widget("Quarantined documents", quarantined, 12, 6, 12, view="singleValue"))
    widgets += [
        _widget(
            "Lambda duration p95 (ms)", _fn_metrics(functions, "Duration"), 0, 12, 8, stat="p95"
        ),
        _widget("Lambda errors", _fn_metrics(functions, "Errors"), 8, 12, 8),
        _widget("Lambda throttles", _fn_metrics(functions, "Throttles"), 16, 12, 8),
    ]
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardBody": {"Fn::Sub": body}},
    }


def _widget(
    title: str,
    metrics: list[list[Any]],
    x: int,
    y: int,
    width: int,
    *,
    stat: str = "Sum",
    period: int = 300,
    view: str = "timeSeries",
) -> Json:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": period,
            "view": view,
            "metrics": metrics,
        },
    }


def _execution_metrics(flows: Sequence[str]) -> list[list[Any]]:
    return [
        [
            "AWS/States",
            status,
            "StateMachineArn",
            f"${{{machine_id(flow)}}}",
            {"label": f"{flow} {status}"},
        ]
        for flow in flows
        for status in _STATUSES
    ]


def _fn_metric(name: str, metric: str, label: str) -> list[Any]:
    return ["AWS/Lambda", metric, "FunctionName", f"${{{function_id(name)}}}", {"label": label}]


def _map_progress(functions: Sequence[str]) -> list[list[Any]]:
    wanted = (
        ("FetchDocument", "fetched"),
        ("RecordManifest", "recorded"),
        ("QuarantineDocument", "quarantined"),
    )
    return [_fn_metric(name, "Invocations", label) for name, label in wanted if name in functions]


def _fn_metrics(functions: Sequence[str], metric: str) -> list[list[Any]]:
    return [_fn_metric(name, metric, name) for name in functions]
