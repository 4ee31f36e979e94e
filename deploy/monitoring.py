"""CloudWatch alarms and the operations dashboard of the kbflow stack.

Alarms (all notify the stack's ``AlarmTopic``):

- per state machine: ``ExecutionsFailed``, ``ExecutionThrottled`` and ``ExecutionsTimedOut``
  (namespace ``AWS/States``, any occurrence in five minutes);
- per Lambda function: ``Errors`` (namespace ``AWS/Lambda``).

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

__all__ = ["ALARM_TOPIC", "STATE_MACHINE_ALARMS", "alarm_resources", "dashboard_resource"]

Json = dict[str, Any]

ALARM_TOPIC: Final = "AlarmTopic"
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
        ALARM_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}
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
    return out


def _alarm(description: str, namespace: str, metric: str, dimension: str, value: Json) -> Json:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": f"kbflow {description} (any in 5 minutes)",
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension, "Value": value}],
            "Statistic": "Sum",
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
