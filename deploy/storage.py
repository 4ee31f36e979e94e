"""Stateful resources of the kbflow stack: S3 buckets, DynamoDB tables, the dead-letter queue and
the reviewer notification topic.

Every bucket is encrypted, versioned, blocks public access, refuses plain-HTTP requests and
keeps its data when the stack is deleted or the bucket replaced (documents are the bank's
records). Every table has point-in-time recovery and server-side encryption; its key schema
comes from :data:`kbflow.tasks.catalog.TABLES`, the same table the AWS stores are written
against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kbflow.errors import ConfigurationError
from kbflow.tasks.catalog import AWS_ENVIRONMENT, TABLES, ResourceKind, Table

__all__ = [
    "BUCKETS",
    "DLQ",
    "NOTIFY_TOPIC",
    "Bucket",
    "bucket_resources",
    "env_for_storage",
    "queue_resources",
    "table_id",
    "table_resources",
    "topic_resources",
]

Json = dict[str, Any]

DLQ: Final = "DeadLetterQueue"
"""Logical id of the SQS queue receiving failed async Lambda invokes and undeliverable events."""
NOTIFY_TOPIC: Final = "ReviewNotifyTopic"
"""Logical id of the SNS topic reviewers subscribe to."""
_RETAIN: Final[Json] = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


@dataclass(frozen=True, slots=True)
class Bucket:
    """One S3 bucket of the stack."""

    logical_id: str
    """CloudFormation logical id, e.g. ``SourcesBucket``."""
    kind: ResourceKind
    """The catalog resource kind whose permissions apply to it."""
    env: str
    """Environment variable holding the bucket name for the Lambda functions."""
    eventbridge: bool = False
    """Send object events to EventBridge (the sources bucket triggers ingestion)."""
    expire_noncurrent_days: int | None = None
    """Expire old object versions after this many days (work artifacts only)."""


BUCKETS: Final[tuple[Bucket, ...]] = (
    Bucket("SourcesBucket", ResourceKind.SOURCE_BUCKET, "KBFLOW_SOURCE_BUCKET", eventbridge=True),
    Bucket("QuarantineBucket", ResourceKind.QUARANTINE_BUCKET, "KBFLOW_QUARANTINE_BUCKET"),
    Bucket("WorkBucket", ResourceKind.WORK_BUCKET, "KBFLOW_WORK_BUCKET", expire_noncurrent_days=30),
)
"""The buckets: sources (documents to ingest), quarantine (rejected originals), work (artifacts
and Distributed Map results)."""


def table_id(table: Table) -> str:
    """Logical id of a catalog table, e.g. ``ManifestTable`` for ``manifest_table``."""
    return "".join(part.title() for part in str(table.kind).split("_"))


def bucket_resources() -> dict[str, Json]:
    """The S3 buckets and their TLS-only bucket policies."""
    out: dict[str, Json] = {}
    for bucket in BUCKETS:
        out[bucket.logical_id] = _bucket(bucket)
        out[f"{bucket.logical_id}Policy"] = _tls_only_policy(bucket.logical_id)
    return out


def _bucket(bucket: Bucket) -> Json:
    props: Json = {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": True,
                }
            ]
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": [_lifecycle(bucket)]},
    }
    if bucket.eventbridge:
        props["NotificationConfiguration"] = {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
    return {"Type": "AWS::S3::Bucket", **_RETAIN, "Properties": props}


def _lifecycle(bucket: Bucket) -> Json:
    rule: Json = {
        "Id": "AbortIncompleteUploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    if bucket.expire_noncurrent_days:
        rule["Id"] = "AbortUploadsExpireOldVersions"
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": bucket.expire_noncurrent_days}
    return rule


def _tls_only_policy(logical_id: str) -> Json:
    arn = {"Fn::GetAtt": [logical_id, "Arn"]}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": logical_id},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:*",
                        "Resource": [arn, {"Fn::Sub": f"${{{logical_id}.Arn}}/*"}],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }


def table_resources(tables: tuple[Table, ...] = TABLES) -> dict[str, Json]:
    """One on-demand DynamoDB table per catalog table, with PITR and SSE."""
    return {table_id(t): _table(t) for t in tables}


def _table(table: Table) -> Json:
    keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    for _, pk, sk in table.indexes:
        keys += [pk] + ([sk] if sk else [])
    props: Json = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": k, "AttributeType": "S"} for k in dict.fromkeys(keys)
        ],
        "KeySchema": _key_schema(table.partition_key, table.sort_key),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    if table.indexes:
        props["GlobalSecondaryIndexes"] = [
            {
                "IndexName": name,
                "KeySchema": _key_schema(pk, sk),
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, pk, sk in table.indexes
        ]
    return {"Type": "AWS::DynamoDB::Table", **_RETAIN, "Properties": props}


def _key_schema(pk: str, sk: str | None) -> list[Json]:
    schema = [{"AttributeName": pk, "KeyType": "HASH"}]
    if sk:
        schema.append({"AttributeName": sk, "KeyType": "RANGE"})
    return schema


def queue_resources() -> dict[str, Json]:
    """The dead-letter queue (SSE, 14 days) and the policy letting EventBridge rules use it."""
    queue: Json = {
        "Type": "AWS::SQS::Queue",
        **_RETAIN,
        "Properties": {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600},
    }
    policy: Json = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": DLQ}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeDeadLetters",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": {"Fn::GetAtt": [DLQ, "Arn"]},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                        },
                    }
                ],
            },
        },
    }
    return {DLQ: queue, f"{DLQ}Policy": policy}


def topic_resources() -> dict[str, Json]:
    """The SNS topic for reviewer notifications, encrypted with the AWS-managed SNS key."""
    topic: Json = {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}
    return {NOTIFY_TOPIC: topic}


def env_for_storage(tables: tuple[Table, ...] = TABLES) -> Mapping[str, Json]:
    """Environment variables naming every bucket, table and the topic (``{"KBFLOW_...": Ref}``).

    The variables are :data:`kbflow.tasks.catalog.AWS_ENVIRONMENT` (what the AWS adapters read)
    plus ``KBFLOW_SOURCE_BUCKET``; each maps to the stack resource of its kind.

    Raises:
        ConfigurationError: A variable names a resource kind the stack does not create.
    """
    refs: dict[ResourceKind, str] = {b.kind: b.logical_id for b in BUCKETS}
    refs.update({t.kind: table_id(t) for t in tables})
    refs[ResourceKind.NOTIFY_TOPIC] = NOTIFY_TOPIC
    wanted = {b.env: b.kind for b in BUCKETS} | dict(AWS_ENVIRONMENT)
    missing = sorted(var for var, kind in wanted.items() if kind not in refs)
    if missing:
        raise ConfigurationError(f"no stack resource for environment variable(s) {missing}")
    return {var: {"Ref": refs[kind]} for var, kind in sorted(wanted.items())}
