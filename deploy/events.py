"""What starts the flows on AWS: EventBridge rules, the wiki event bus and the reindex schedule.

- S3 ``Object Created`` on the sources bucket (default bus) starts **ingestion** for that
  object (``{"source": {"uri": "s3://<bucket>/<key>"}}``).
- Wiki change events (``detail.action`` created/updated/deleted and a ``detail.page``) on the
  stack's custom bus start **reindex** with the event itself as input.
- An EventBridge Scheduler schedule starts a **full reindex** (``{"mode": "full", "site": ...}``)
  when the ``WikiSiteUrl`` parameter is set.

Every target retries, then sends undeliverable events to the dead-letter queue. EventBridge and
Scheduler each assume their own role, allowed to start exactly the machines they target.
"""

from __future__ import annotations

from typing import Any, Final

from kbflow.deploy import iam
from kbflow.deploy.machines import machine_id
from kbflow.deploy.storage import DLQ

__all__ = ["HAS_WIKI_SITE", "WIKI_BUS", "event_resources"]

Json = dict[str, Any]

WIKI_BUS: Final = "WikiEventBus"
HAS_WIKI_SITE: Final = "HasWikiSite"
"""Condition: the ``WikiSiteUrl`` parameter is set (creates the full-reindex schedule)."""
_RETRY: Final[Json] = {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
_INGEST_INPUT: Final = '{"source": {"uri": "s3://<bucket>/<key>"}}'


def event_resources() -> dict[str, Json]:
    """Bus, rules, schedule and the two invocation roles."""
    ingestion = {"Ref": machine_id("ingestion")}
    reindex = {"Ref": machine_id("reindex")}
    dlq_arn = {"Fn::GetAtt": [DLQ, "Arn"]}
    events_role = iam.role(
        "events.amazonaws.com",
        [iam.statement(["states:StartExecution"], [ingestion, reindex], sid="StartFlows")],
        name="StartFlowsFromEvents",
    )
    scheduler_role = iam.role(
        "scheduler.amazonaws.com",
        [
            iam.statement(["states:StartExecution"], [reindex], sid="StartFullReindex"),
            iam.statement(["sqs:SendMessage"], [dlq_arn], sid="DeadLetters"),
        ],
        name="StartFullReindex",
    )
    return {
        "EventsRole": events_role,
        "SchedulerRole": scheduler_role,
        WIKI_BUS: {
            "Type": "AWS::Events::EventBus",
            "Properties": {"Name": {"Fn::Sub": "kbflow-${Stage}-wiki"}},
        },
        "SourceObjectCreatedRule": _s3_rule(ingestion, dlq_arn),
        "WikiChangeRule": _wiki_rule(reindex, dlq_arn),
        "FullReindexSchedule": _schedule(reindex, dlq_arn),
    }


def _target(target_id: str, arn: Json, dlq_arn: Json) -> Json:
    return {
        "Id": target_id,
        "Arn": arn,
        "RoleArn": {"Fn::GetAtt": ["EventsRole", "Arn"]},
        "RetryPolicy": dict(_RETRY),
        "DeadLetterConfig": {"Arn": dlq_arn},
    }


def _s3_rule(ingestion: Json, dlq_arn: Json) -> Json:
    target = _target("ingestion", ingestion, dlq_arn)
    target["InputTransformer"] = {
        "InputPathsMap": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
        "InputTemplate": _INGEST_INPUT,
    }
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "New or overwritten document in the sources bucket -> ingestion",
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [{"Ref": "SourcesBucket"}]}},
            },
            "Targets": [target],
        },
    }


def _wiki_rule(reindex: Json, dlq_arn: Json) -> Json:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "Wiki page created, updated or deleted -> reindex that page",
            "EventBusName": {"Fn::GetAtt": [WIKI_BUS, "Name"]},
            "State": "ENABLED",
            "EventPattern": {
                "detail": {
                    "action": ["created", "updated", "deleted"],
                    "page": [{"exists": True}],
                }
            },
            "Targets": [_target("reindex", reindex, dlq_arn)],
        },
    }


def _schedule(reindex: Json, dlq_arn: Json) -> Json:
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Condition": HAS_WIKI_SITE,
        "Properties": {
            "Description": "Full wiki reindex: crawl, diff against the manifest, upsert, delete",
            "ScheduleExpression": {"Ref": "FullReindexCron"},
            "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60},
            "State": "ENABLED",
            "Target": {
                "Arn": reindex,
                "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
                "Input": {"Fn::Sub": '{"mode": "full", "site": "${WikiSiteUrl}"}'},
                "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": dlq_arn},
            },
        },
    }
