"""The single table of kbflow's task functions (one Lambda function per task state).

Everything that needs to know about task functions reads :data:`FUNCTIONS`:

- the flows reference each function through the placeholder ``${<Name>FunctionArn}``;
- the deploy stack creates one Lambda function per entry (memory, timeout, reserved
  concurrency, IAM permissions by resource kind) and fills ``DefinitionSubstitutions`` with
  :func:`substitutions`;
- the local host registers ``resolve_handler(fn.handler)`` with the engine's Lambda registry
  under ``fn.function_name()`` and uses :attr:`TaskFunction.execution` to pick worker
  processes (``cpu``) or threads (``io``).

Example::

    from kbflow.tasks.catalog import FUNCTIONS, resolve_handler, substitutions

    subs = substitutions()                       # local account/region
    registry = {fn.function_name(): resolve_handler(fn.handler) for fn in FUNCTIONS}
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

from kbflow.errors import ConfigurationError

__all__ = [
    "AWS_ENVIRONMENT",
    "DEFAULT_PREFIX",
    "FUNCTIONS",
    "LOCAL_ACCOUNT",
    "LOCAL_REGION",
    "STATE_MACHINES",
    "TABLES",
    "Execution",
    "Permission",
    "ResourceKind",
    "Table",
    "TaskFunction",
    "by_function_name",
    "get",
    "local_function_arn",
    "resolve_handler",
    "substitutions",
]

LOCAL_REGION: Final = "us-east-1"
LOCAL_ACCOUNT: Final = "123456789012"
DEFAULT_PREFIX: Final = "kbflow-"
_HANDLERS: Final = "kbflow.tasks.handlers"

Execution = Literal["cpu", "io"]
"""``cpu``: run in a worker process locally; ``io``: run in a thread."""


class ResourceKind(StrEnum):
    """Kinds of AWS resources a task function touches; the deploy stack maps each to an ARN."""

    SOURCE_BUCKET = "source_bucket"
    """The S3 bucket(s) being ingested (read only)."""
    WORK_BUCKET = "work_bucket"
    """The work store: artifacts by run/doc, Distributed Map results."""
    QUARANTINE_BUCKET = "quarantine_bucket"
    """Where quarantined originals are copied."""
    MANIFEST_TABLE = "manifest_table"
    QUARANTINE_TABLE = "quarantine_table"
    REVIEWS_TABLE = "reviews_table"
    AUDIT_TABLE = "audit_table"
    NOTIFY_TOPIC = "notify_topic"
    """SNS topic for reviewer notifications."""
    SEARCH_INDEX = "search_index"
    """The OpenSearch domain (``es:``), Serverless collection (``aoss:``) or Kendra index; the
    stack grants the actions of the service it deploys."""
    EMBEDDING_MODEL = "embedding_model"
    """The Bedrock foundation model used for embeddings."""
    TEXTRACT = "textract"
    """Textract has no resource-level permissions: the resource is ``*``."""


@dataclass(frozen=True, slots=True)
class Permission:
    """IAM actions a function needs on one kind of resource."""

    actions: tuple[str, ...]
    """IAM actions, e.g. ``("s3:GetObject",)``."""
    resource: ResourceKind
    """Which resource the actions apply to."""


@dataclass(frozen=True, slots=True)
class TaskFunction:
    """One task function (Lambda) of the catalog."""

    name: str
    """Logical name, e.g. ``FetchDocument``; the placeholder is ``${FetchDocumentFunctionArn}``."""
    handler: str
    """Import path ``kbflow.tasks.handlers.<module>:<function>``."""
    flows: tuple[str, ...]
    """Flows that call it: ``ingestion``, ``reindex``, ``human-review``."""
    memory_mb: int
    """Lambda memory size in MB."""
    timeout_s: int
    """Lambda timeout in seconds."""
    execution: Execution
    """Local execution hint: ``cpu`` (worker process) or ``io`` (thread)."""
    permissions: tuple[Permission, ...]
    """IAM permissions the deploy stack grants."""
    reserved_concurrency: int | None = None
    """Reserved concurrency protecting a downstream service, or ``None``."""
    wait_for_task_token: bool = False
    """Called with ``.waitForTaskToken``: the event carries ``task_token``."""

    @property
    def placeholder(self) -> str:
        """The substitution key without ``${}``, e.g. ``FetchDocumentFunctionArn``."""
        return f"{self.name}FunctionArn"

    def function_name(self, prefix: str = DEFAULT_PREFIX) -> str:
        """The Lambda function name, e.g. ``kbflow-FetchDocument``."""
        return f"{prefix}{self.name}"

    def arn(
        self,
        *,
        region: str = LOCAL_REGION,
        account: str = LOCAL_ACCOUNT,
        prefix: str = DEFAULT_PREFIX,
    ) -> str:
        """The function's ARN in ``region``/``account``."""
        return f"arn:aws:lambda:{region}:{account}:function:{self.function_name(prefix)}"


@dataclass(frozen=True, slots=True)
class Table:
    """A DynamoDB table used by the AWS stores (key schema for the deploy stack)."""

    kind: ResourceKind
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[tuple[str, str, str | None], ...] = ()
    """Global secondary indexes: ``(index name, partition key, sort key)``; all keys are strings
    (``dynamodb:Query`` on them needs the ``<table arn>/index/*`` resource too)."""
    env: str = ""
    """Environment variable holding the table name for the Lambda functions."""


TABLES: Final[tuple[Table, ...]] = (
    Table(
        ResourceKind.MANIFEST_TABLE,
        "doc_id",
        None,
        (("by_source", "source", "doc_id"),),
        "KBFLOW_MANIFEST_TABLE",
    ),
    Table(ResourceKind.QUARANTINE_TABLE, "run_id", "doc_id", (), "KBFLOW_QUARANTINE_TABLE"),
    Table(
        ResourceKind.REVIEWS_TABLE,
        "review_id",
        None,
        (("by_status", "status", "requested_at"),),
        "KBFLOW_REVIEWS_TABLE",
    ),
    Table(ResourceKind.AUDIT_TABLE, "subject", "seq", (), "KBFLOW_AUDIT_TABLE"),
)
"""DynamoDB tables (one per store); see ``kbflow.tasks.adapters.dynamo``."""

AWS_ENVIRONMENT: Final[Mapping[str, ResourceKind]] = {
    "KBFLOW_WORK_BUCKET": ResourceKind.WORK_BUCKET,
    "KBFLOW_QUARANTINE_BUCKET": ResourceKind.QUARANTINE_BUCKET,
    **{table.env: table.kind for table in TABLES},
    "KBFLOW_NOTIFY_TOPIC_ARN": ResourceKind.NOTIFY_TOPIC,
}
"""Environment of every function on AWS: variable → the resource whose name (bucket, table) or
ARN (topic) it holds. Also set ``KBFLOW_ADAPTERS=aws`` and ``KBFLOW_INDEX=opensearch|kendra``
(see :func:`kbflow.tasks.adapters.config.aws_adapters`)."""

STATE_MACHINES: Final[Mapping[str, str]] = {"HumanReviewStateMachineArn": "human-review"}
"""State-machine placeholders and the flow (definition file stem) each names."""

_S3_RW = ("s3:GetObject", "s3:PutObject")
_WORK_RW = Permission(_S3_RW, ResourceKind.WORK_BUCKET)
_WORK_R = Permission(("s3:GetObject",), ResourceKind.WORK_BUCKET)
_TEXTRACT = Permission(
    (
        "textract:DetectDocumentText",
        "textract:StartDocumentTextDetection",
        "textract:GetDocumentTextDetection",
    ),
    ResourceKind.TEXTRACT,
)
_SOURCE_R = Permission(("s3:GetObject", "s3:ListBucket"), ResourceKind.SOURCE_BUCKET)
_INDEX_RW = Permission(
    (
        "es:ESHttpGet",
        "es:ESHttpPost",
        "es:ESHttpPut",
        "es:ESHttpDelete",
        "aoss:APIAccessAll",
        "kendra:BatchPutDocument",
        "kendra:BatchDeleteDocument",
    ),
    ResourceKind.SEARCH_INDEX,
)
_INDEX_DELETE = Permission(
    ("es:ESHttpPost", "es:ESHttpDelete", "aoss:APIAccessAll", "kendra:BatchDeleteDocument"),
    ResourceKind.SEARCH_INDEX,
)
_BEDROCK = Permission(("bedrock:InvokeModel",), ResourceKind.EMBEDDING_MODEL)
_MANIFEST_R = Permission(("dynamodb:GetItem", "dynamodb:Query"), ResourceKind.MANIFEST_TABLE)
_MANIFEST_RW = Permission(
    ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"),
    ResourceKind.MANIFEST_TABLE,
)
_QUARANTINE_RW = Permission(("dynamodb:PutItem", "dynamodb:Query"), ResourceKind.QUARANTINE_TABLE)
_REVIEWS_RW = Permission(
    ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"), ResourceKind.REVIEWS_TABLE
)
_AUDIT_W = Permission(("dynamodb:PutItem",), ResourceKind.AUDIT_TABLE)
_NOTIFY = Permission(("sns:Publish",), ResourceKind.NOTIFY_TOPIC)
_ING = ("ingestion",)
_BOTH = ("ingestion", "reindex")
_RX = ("reindex",)
_HR = ("human-review",)


def _fn(
    name: str,
    handler: str,
    flows: tuple[str, ...],
    memory: int,
    timeout: int,
    execution: Execution,
    *perms: Permission,
    reserved: int | None = None,
    token: bool = False,
) -> TaskFunction:
    return TaskFunction(
        name,
        f"{_HANDLERS}.{handler}",
        flows,
        memory,
        timeout,
        execution,
        tuple(perms),
        reserved,
        token,
    )


# fmt: off
FUNCTIONS: Final[tuple[TaskFunction, ...]] = (
    # name, handler, flows, memory MB, timeout s, execution, permissions...
    _fn("PlanIngestion", "ingestion:plan_ingestion", _ING, 256, 30, "io"),  # pure: no AWS calls
    _fn("FetchDocument", "ingestion:fetch_document", _ING, 1024, 120, "io",
        _SOURCE_R, _WORK_RW, _MANIFEST_R),
    _fn("ExtractPdf", "ingestion:extract_pdf", _ING, 2048, 600, "cpu", _SOURCE_R, _WORK_RW,
        _TEXTRACT, reserved=20),
    _fn("ExtractImage", "ingestion:extract_image", _ING, 3008, 600, "cpu", _SOURCE_R, _WORK_RW,
        _TEXTRACT, reserved=20),
    _fn("ExtractHtml", "ingestion:extract_html", _BOTH, 1024, 120, "cpu", _SOURCE_R, _WORK_RW),
    _fn("ExtractDocx", "ingestion:extract_docx", _ING, 1024, 120, "cpu", _SOURCE_R, _WORK_RW),
    _fn("ExtractText", "ingestion:extract_text", _ING, 512, 60, "cpu", _SOURCE_R, _WORK_RW),
    _fn("CleanText", "ingestion:clean_text", _BOTH, 512, 60, "cpu", _WORK_RW),
    _fn("RedactPii", "ingestion:redact_pii", _BOTH, 512, 120, "cpu", _WORK_RW),
    _fn("ChunkText", "ingestion:chunk_text", _BOTH, 1024, 120, "cpu", _WORK_RW),
    _fn("EmbedChunks", "ingestion:embed_chunks", _BOTH, 2048, 600, "cpu", _WORK_RW, _BEDROCK,
        reserved=50),
    _fn("IndexDocument", "ingestion:index_document", _BOTH, 1024, 300, "io", _WORK_R, _INDEX_RW,
        reserved=20),
    _fn("RecordManifest", "ingestion:record_manifest", _BOTH, 256, 30, "io", _MANIFEST_RW),
    _fn("QuarantineDocument", "ingestion:quarantine_document", _ING, 512, 120, "io",
        _SOURCE_R, Permission(("s3:PutObject",), ResourceKind.QUARANTINE_BUCKET), _QUARANTINE_RW),
    _fn("SummariseIngestion", "ingestion:summarise_ingestion", _ING, 1024, 900, "io",
        _WORK_RW, Permission(("s3:ListBucket",), ResourceKind.WORK_BUCKET), _MANIFEST_RW,
        _QUARANTINE_RW, _INDEX_DELETE),
    _fn("FetchPage", "reindex:fetch_page", _RX, 512, 120, "io", _WORK_RW, _MANIFEST_R),
    _fn("CrawlSite", "reindex:crawl_site", _RX, 1024, 900, "io", _WORK_RW),
    _fn("DiffManifest", "reindex:diff_manifest", _RX, 512, 120, "io", _WORK_RW, _MANIFEST_R),
    _fn("DeleteFromIndex", "reindex:delete_from_index", _RX, 512, 120, "io",
        _INDEX_DELETE, _MANIFEST_RW),
    _fn("SummariseReindex", "reindex:summarise_reindex", _RX, 256, 60, "io"),  # pure
    _fn("RequestReview", "review:request_review", _HR, 256, 30, "io", _REVIEWS_RW, _NOTIFY,
        token=True),
    _fn("EscalateReview", "review:escalate_review", _HR, 256, 30, "io", _REVIEWS_RW, _NOTIFY,
        _AUDIT_W, token=True),
    _fn("ApplyDecision", "review:apply_decision", _HR, 1024, 300, "io", _REVIEWS_RW, _WORK_RW,
        _SOURCE_R, _INDEX_RW, _BEDROCK, _MANIFEST_RW, _QUARANTINE_RW,
        Permission(("s3:PutObject",), ResourceKind.QUARANTINE_BUCKET)),
    _fn("WriteAudit", "review:write_audit", _HR, 256, 30, "io", _AUDIT_W, _REVIEWS_RW),
)
# fmt: on
"""Every task function, in flow order."""

_BY_NAME: Final[Mapping[str, TaskFunction]] = {fn.name: fn for fn in FUNCTIONS}
_HANDLER_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def get(name: str) -> TaskFunction:
    """Look a task function up by logical name.

    Args:
        name: Logical name such as ``FetchDocument``.

    Returns:
        The catalog entry.

    Raises:
        ConfigurationError: No function has that name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown task function {name!r}; known: {sorted(_BY_NAME)}"
        ) from None


def by_function_name(function_name: str, prefix: str = DEFAULT_PREFIX) -> TaskFunction:
    """Find the entry for a Lambda function name or ARN (``kbflow-FetchDocument``).

    Args:
        function_name: Function name, or a function ARN (optionally qualified with a version).
        prefix: The deployment's function-name prefix.

    Returns:
        The catalog entry.

    Raises:
        ConfigurationError: The name does not belong to a catalog function.
    """
    if function_name.startswith("arn:"):
        parts = function_name.split(":")
        function_name = parts[6] if len(parts) >= 7 else function_name
    if not function_name.startswith(prefix):
        raise ConfigurationError(f"function {function_name!r} does not start with {prefix!r}")
    return get(function_name[len(prefix) :])


def local_function_arn(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The local ARN of a logical name.

    For example ``arn:aws:lambda:us-east-1:123456789012:function:kbflow-FetchDocument``.

    Raises:
        ConfigurationError: Unknown logical name.
    """
    return get(name).arn(prefix=prefix)


def substitutions(
    *,
    region: str = LOCAL_REGION,
    account: str = LOCAL_ACCOUNT,
    prefix: str = DEFAULT_PREFIX,
    work_bucket: str = "work",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Values for every ``${...}`` placeholder in the definitions.

    Args:
        region: AWS region.
        account: AWS account id.
        prefix: Prefix of function and state-machine names.
        work_bucket: The work-store bucket (``WorkBucketName``: Distributed Map results); the
            local object store calls it ``work``.
        extra: Further placeholders (override the computed ones).

    Returns:
        ``{"FetchDocumentFunctionArn": "arn:aws:lambda:...", "HumanReviewStateMachineArn":
        "arn:aws:states:...", "WorkBucketName": "work", ...}``
    """
    subs = {
        fn.placeholder: fn.arn(region=region, account=account, prefix=prefix) for fn in FUNCTIONS
    }
    for key, flow in STATE_MACHINES.items():
        subs[key] = f"arn:aws:states:{region}:{account}:stateMachine:{prefix}{flow}"
    subs["WorkBucketName"] = work_bucket
    subs.update(extra or {})
    return subs


def resolve_handler(path: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import a handler from ``package.module:function``.

    Args:
        path: Import path, e.g. ``kbflow.tasks.handlers.ingestion:fetch_document``.

    Returns:
        The handler callable ``(event, context) -> result``.

    Raises:
        ConfigurationError: Malformed path, missing module or attribute, or not callable.
    """
    if not _HANDLER_PATH.match(path):
        raise ConfigurationError(f"handler path {path!r} is not 'package.module:function'")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import handler module {module_name!r}: {exc}") from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ConfigurationError(f"{path!r}: module has no callable {attr!r}")
    return handler  # type: ignore[no-any-return]
