"""Lambda functions of the kbflow stack: one per catalog task, plus the review decision endpoint.

Each function gets its own role whose policy is built from the catalog's
:class:`~kbflow.tasks.catalog.Permission` entries (actions by resource kind), its own log group
(the role may write only there), X-Ray active tracing, an ``EventInvokeConfig`` sending failed
asynchronous invokes to the dead-letter queue, and the adapter configuration in its environment
(``KBFLOW_ADAPTERS=aws`` plus the names of every bucket, table and topic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kbflow.deploy import iam
from kbflow.deploy.storage import BUCKETS, DLQ, NOTIFY_TOPIC, env_for_storage, table_id
from kbflow.errors import ConfigurationError
from kbflow.tasks.catalog import FUNCTIONS, TABLES, Permission, ResourceKind, TaskFunction

__all__ = [
    "DECISION_ENDPOINT",
    "IS_KENDRA",
    "RUNTIME",
    "FunctionDef",
    "decision_endpoint_resources",
    "environment",
    "function_defs",
    "function_id",
    "function_resources",
    "lambda_handler",
    "resource_statements",
]

Json = dict[str, Any]

RUNTIME: Final = "python3.12"
ARCHITECTURE: Final = "x86_64"
"""Must match the wheels ``kbflow deploy package`` installs (manylinux2014_x86_64)."""
IS_KENDRA: Final = "IsKendraIndex"
"""Condition: ``SearchIndexArn`` is a Kendra index (else an OpenSearch domain)."""
DECISION_ENDPOINT: Final = "ReviewDecision"
"""Logical name of the decision endpoint function (``ReviewDecisionFunction``)."""

# s3 actions that apply to the bucket ARN; every other s3 action applies to objects (ARN/*).
_S3_BUCKET_ACTIONS: Final = frozenset(
    {"s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"}
)
_INDEX_ACTIONS: Final = frozenset({"dynamodb:Query", "dynamodb:Scan"})


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """What the stack needs to know to create one Lambda function."""

    name: str
    """Logical name (``FetchDocument``): resources ``<name>Function``, ``<name>FunctionRole``."""
    handler: str
    """Lambda handler string ``module.function``."""
    memory_mb: int
    timeout_s: int
    permissions: tuple[Permission, ...]
    reserved_concurrency: int | None = None
    extra_statements: tuple[Json, ...] = field(default=())
    """Statements beyond the catalog's resource kinds (the decision endpoint's callbacks)."""


def function_id(name: str) -> str:
    """Logical id of the function resource, e.g. ``FetchDocumentFunction``."""
    return f"{name}Function"


def lambda_handler(path: str) -> str:
    """Catalog handler path ``pkg.module:function`` to Lambda's ``pkg.module.function``.

    Raises:
        ConfigurationError: ``path`` is not ``module:function`` inside ``kbflow.tasks``.
    """
    module, sep, attr = path.partition(":")
    if not sep or not attr or not module.startswith("kbflow.tasks."):
        raise ConfigurationError(f"handler {path!r} must be 'kbflow.tasks.<module>:<function>'")
    return f"{module}.{attr}"


def function_defs(catalog: Sequence[TaskFunction] = FUNCTIONS) -> list[FunctionDef]:
    """The catalog's functions plus the review decision endpoint."""
    defs = [
        FunctionDef(
            fn.name,
            lambda_handler(fn.handler),
            fn.memory_mb,
            fn.timeout_s,
            fn.permissions,
            fn.reserved_concurrency,
        )
        for fn in catalog
    ]
    defs.append(_decision_endpoint_def())
    return defs


def _decision_endpoint_def() -> FunctionDef:
    reviews = Permission(("dynamodb:GetItem", "dynamodb:PutItem"), ResourceKind.REVIEWS_TABLE)
    audit = Permission(("dynamodb:PutItem",), ResourceKind.AUDIT_TABLE)
    callback = iam.statement(
        ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        "*",
        sid="CompleteReviewTasks",
    )
    return FunctionDef(
        DECISION_ENDPOINT,
        "kbflow.tasks.handlers.decision_endpoint.handler",
        256,
        30,
        (reviews, audit),
        reserved_concurrency=None,
        extra_statements=(callback,),
    )


def function_resources(defs: Iterable[FunctionDef]) -> dict[str, Json]:
    """Function, role, log group and async-invoke config for every definition."""
    out: dict[str, Json] = {}
    for fn in defs:
        fid = function_id(fn.name)
        out[f"{fid}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            # Kept when the stack goes (operations evidence); generated names never collide.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"RetentionInDays": {"Ref": "LogRetentionDays"}},
        }
        out[f"{fid}Role"] = iam.role(
            "lambda.amazonaws.com", _statements(fn), name=f"{fn.name}Permissions"
        )
        out[fid] = _function(fn)
        out[f"{fid}InvokeConfig"] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": fid},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 3600,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [DLQ, "Arn"]}}},
            },
        }
    return out


def _function(fn: FunctionDef) -> Json:
    fid = function_id(fn.name)
    props: Json = {
        "Runtime": RUNTIME,
        "Architectures": [ARCHITECTURE],
        "Handler": fn.handler,
        "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "ArtifactKey"}},
        "Role": {"Fn::GetAtt": [f"{fid}Role", "Arn"]},
        "MemorySize": fn.memory_mb,
        "Timeout": fn.timeout_s,
        "TracingConfig": {"Mode": "Active"},
        "LoggingConfig": {"LogGroup": {"Ref": f"{fid}LogGroup"}, "LogFormat": "JSON"},
        "Environment": {"Variables": environment(fn.name)},
    }
    if fn.reserved_concurrency is not None:
        props["ReservedConcurrentExecutions"] = fn.reserved_concurrency
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def environment(name: str) -> Json:
    """Adapter configuration for one function: AWS adapters and every resource name."""
    env: Json = {
        "KBFLOW_ADAPTERS": "aws",
        "KBFLOW_STAGE": {"Ref": "Stage"},
        # The index adapter: OpenSearch (endpoint parameter) or Kendra (id from the index ARN).
        "KBFLOW_INDEX": {"Fn::If": [IS_KENDRA, "kendra", "opensearch"]},
        "KBFLOW_OPENSEARCH_ENDPOINT": {"Ref": "SearchEndpoint"},
        # es (domain) or aoss (serverless collection): the ARN's service names the SigV4 service.
        "KBFLOW_OPENSEARCH_SERVICE": {
            "Fn::Select": [2, {"Fn::Split": [":", {"Ref": "SearchIndexArn"}]}]
        },
        "KBFLOW_KENDRA_INDEX_ID": {
            "Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "SearchIndexArn"}]}]
        },
        "KBFLOW_BEDROCK_EMBED_MODEL": {"Ref": "EmbeddingModelId"},
        "POWERTOOLS_SERVICE_NAME": f"kbflow-{name}",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    env.update(env_for_storage())
    return env


def _statements(fn: FunctionDef) -> list[Json]:
    fid = function_id(fn.name)
    statements = [
        iam.statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            {"Fn::GetAtt": [f"{fid}LogGroup", "Arn"]},
            sid="OwnLogGroup",
        ),
        iam.statement(iam.XRAY_ACTIONS, "*", sid="Tracing"),
        iam.statement(
            ["sqs:SendMessage"], {"Fn::GetAtt": [DLQ, "Arn"]}, sid="OnFailureDestination"
        ),
    ]
    statements += resource_statements(fn.permissions)
    statements += list(fn.extra_statements)
    return statements


def resource_statements(permissions: Iterable[Permission]) -> list[Json]:
    """Catalog permissions to statements, merged per resource so each ARN appears once.

    Raises:
        ConfigurationError: A resource kind this stack does not provide.
    """
    merged: dict[str, tuple[set[str], list[Any]]] = {}
    for perm in permissions:
        for actions, resources in _resolve(perm):
            key = repr(resources)
            merged.setdefault(key, (set(), resources))[0].update(actions)
    return [
        iam.statement(actions, resources, sid=f"Resource{i}")
        for i, (actions, resources) in enumerate(merged.values())
    ]


def _resolve(perm: Permission) -> list[tuple[set[str], list[Any]]]:
    kind = perm.resource
    bucket = next((b for b in BUCKETS if b.kind == kind), None)
    if bucket is not None:
        return _bucket_grants(perm.actions, bucket.logical_id)
    table = next((t for t in TABLES if t.kind == kind), None)
    if table is not None:
        return _table_grants(perm.actions, table_id(table), [ix[0] for ix in table.indexes])
    resolved = _OTHER.get(kind)
    if resolved is None:
        raise ConfigurationError(f"no stack resource for permission kind {kind!r}")
    return resolved(perm.actions)


def _bucket_grants(actions: Sequence[str], logical_id: str) -> list[tuple[set[str], list[Any]]]:
    out: list[tuple[set[str], list[Any]]] = []
    bucket_level = {a for a in actions if a in _S3_BUCKET_ACTIONS}
    object_level = set(actions) - bucket_level
    if bucket_level:
        out.append((bucket_level, [{"Fn::GetAtt": [logical_id, "Arn"]}]))
    if object_level:
        out.append((object_level, [{"Fn::Sub": f"${{{logical_id}.Arn}}/*"}]))
    return out


def _table_grants(
    actions: Sequence[str], logical_id: str, indexes: Sequence[str]
) -> list[tuple[set[str], list[Any]]]:
    resources: list[Any] = [{"Fn::GetAtt": [logical_id, "Arn"]}]
    if _INDEX_ACTIONS & set(actions):
        resources += [{"Fn::Sub": f"${{{logical_id}.Arn}}/index/{name}"} for name in indexes]
    return [(set(actions), resources)]


def _search(actions: Sequence[str]) -> list[tuple[set[str], list[Any]]]:
    # One parameter names the index: an OpenSearch domain (HTTP actions apply to the paths under
    # it), an OpenSearch Serverless collection or a Kendra index. Actions of the other services
    # never match its ARN, so granting all of them grants only the deployed one's.
    by_service: dict[str, set[str]] = {}
    for action in actions:
        by_service.setdefault(action.split(":", 1)[0], set()).add(action)
    unknown = sorted(set(by_service) - set(_SEARCH_RESOURCES))
    if unknown:
        raise ConfigurationError(f"no search index resource for {unknown} actions")
    return [(acts, [_SEARCH_RESOURCES[svc]]) for svc, acts in sorted(by_service.items())]


_SEARCH_RESOURCES: Final[Mapping[str, Json]] = {
    "es": {"Fn::Sub": "${SearchIndexArn}/*"},
    "aoss": {"Ref": "SearchIndexArn"},
    "kendra": {"Ref": "SearchIndexArn"},
}


_MODEL_ARN: Final = (
    "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${EmbeddingModelId}"
)
_Grants = list[tuple[set[str], list[Any]]]
_OTHER: Final[Mapping[ResourceKind, Callable[[Sequence[str]], _Grants]]] = {
    ResourceKind.NOTIFY_TOPIC: lambda actions: [(set(actions), [{"Ref": NOTIFY_TOPIC}])],
    ResourceKind.SEARCH_INDEX: _search,
    ResourceKind.EMBEDDING_MODEL: lambda actions: [(set(actions), [{"Fn::Sub": _MODEL_ARN}])],
    ResourceKind.TEXTRACT: lambda actions: [(set(actions), ["*"])],
}


def decision_endpoint_resources() -> dict[str, Json]:
    """The IAM-authenticated function URL and the managed policy reviewers are given."""
    fid = function_id(DECISION_ENDPOINT)
    url: Json = {
        "Type": "AWS::Lambda::Url",
        "Properties": {"TargetFunctionArn": {"Fn::GetAtt": [fid, "Arn"]}, "AuthType": "AWS_IAM"},
    }
    reviewer: Json = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": "Lets a reviewer post decisions to the kbflow review decision endpoint",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PostReviewDecisions",
                        "Effect": "Allow",
                        "Action": ["lambda:InvokeFunctionUrl"],
                        "Resource": [{"Fn::GetAtt": [fid, "Arn"]}],
                        "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                    }
                ],
            },
        },
    }
    return {f"{fid}Url": url, "ReviewerPolicy": reviewer}
