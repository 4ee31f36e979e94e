"""Least-privilege IAM for the kbflow stack: statement builders, the wildcard exception table
and a policy walker that proves the generated template keeps to them.

The rules every policy in the stack follows:

- no ``Action: "*"``, no ``service:*`` and no wildcard inside an action name;
- no ``NotAction``/``NotResource`` and no ``Effect: Deny`` tricks that widen an Allow;
- ``Resource: "*"`` only for the actions listed in :data:`WILDCARD_EXCEPTIONS`, each of which
  AWS defines without any resource type (the Service Authorization Reference lists no resource
  for them, so no narrower ARN can be written), and never mixed with other actions;
- any other ``*`` in a resource is a path suffix under one named resource
  (``<bucket ARN>/*``, ``...:execution:<machine name>/*``), never in the service, region,
  account or resource-type position.

:func:`find_violations` walks a template and reports every breach; the template builder calls
it before returning, so a generated stack can never break these rules silently.

The rules are for identity policies (roles and managed policies). The stack's three resource
policies are outside them by nature: the buckets' TLS-only policy (a ``Deny`` of ``s3:*`` to
anyone over plain HTTP), the dead-letter queue's policy (``sqs:SendMessage`` for
``events.amazonaws.com`` from this account) and the alarm key's policy (AWS's default
account-root statement, plus encrypt/decrypt for ``cloudwatch.amazonaws.com`` from this account).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "PROCESS_LOG_ACTIONS",
    "WILDCARD_EXCEPTIONS",
    "XRAY_ACTIONS",
    "Violation",
    "assume_role_policy",
    "find_violations",
    "iter_policy_statements",
    "role",
    "statement",
]

Json = dict[str, Any]

WILDCARD_EXCEPTIONS: Final[Mapping[str, str]] = {
    # X-Ray: "Resource types: none" -- trace segments are not resources. Needed by every
    # function (TracingConfig: Active) and every state machine (TracingConfiguration).
    "xray:PutTraceSegments": "X-Ray trace upload; the action has no resource type",
    "xray:PutTelemetryRecords": "X-Ray telemetry upload; the action has no resource type",
    "xray:GetSamplingRules": "X-Ray sampling rules read by the tracer; no resource type",
    "xray:GetSamplingTargets": "X-Ray sampling quota read by the tracer; no resource type",
    # Textract synchronous and asynchronous text detection: no resource-level permissions.
    "textract:DetectDocumentText": "Textract OCR (sync); no resource type",
    "textract:StartDocumentTextDetection": "Textract OCR (async start); no resource type",
    "textract:GetDocumentTextDetection": "Textract OCR (async result); no resource type",
    # Step Functions vended logs (LoggingConfiguration): the service creates a log delivery on
    # the state machine role's behalf; AWS documents these with Resource "*" only.
    "logs:CreateLogDelivery": "Step Functions log delivery setup; no resource type",
    "logs:GetLogDelivery": "Step Functions log delivery setup; no resource type",
    "logs:UpdateLogDelivery": "Step Functions log delivery setup; no resource type",
    "logs:DeleteLogDelivery": "Step Functions log delivery setup; no resource type",
    "logs:ListLogDeliveries": "Step Functions log delivery setup; no resource type",
    "logs:PutResourcePolicy": "log delivery grants itself the log group; no resource type",
    "logs:DescribeResourcePolicies": "Step Functions log delivery setup; no resource type",
    "logs:DescribeLogGroups": "Step Functions log delivery setup; no resource type",
    # Callback pattern: a task token is not an ARN; the actions have no resource type.
    "states:SendTaskSuccess": "review decision endpoint completes a .waitForTaskToken task",
    "states:SendTaskFailure": "review decision endpoint fails a .waitForTaskToken task",
    "states:SendTaskHeartbeat": "review decision endpoint keeps a review task alive",
}
"""Actions allowed with ``Resource: "*"``, each with the reason (AWS defines no resource type)."""

XRAY_ACTIONS: Final[tuple[str, ...]] = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
"""What active tracing needs (Lambda ``TracingConfig``, state machine ``TracingConfiguration``)."""

PROCESS_LOG_ACTIONS: Final[tuple[str, ...]] = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
"""What a state machine role needs for ``LoggingConfiguration`` to CloudWatch Logs."""

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_POLICY_TYPES: Final = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def statement(actions: Iterable[str], resources: Any, *, sid: str | None = None) -> Json:
    """One ``Allow`` statement with sorted, de-duplicated actions.

    Args:
        actions: IAM actions, e.g. ``["s3:GetObject"]``.
        resources: One resource (a string or an intrinsic) or a list of them.
        sid: Optional statement id (alphanumeric).

    Returns:
        The statement dict.
    """
    out: Json = {"Effect": "Allow", "Action": sorted(set(actions))}
    out["Resource"] = resources if isinstance(resources, list) else [resources]
    if sid:
        out = {"Sid": sid, **out}
    return out


# Service principals documented to send aws:SourceAccount/aws:SourceArn when they assume a
# role. Lambda (execution roles) and EventBridge rule targets are not conditioned: a role can
# only be passed to them by a principal of this account (iam:PassRole), and a condition the
# service does not send would make the role unusable.
_CONTEXT_KEYS: Final = frozenset({"states.amazonaws.com", "scheduler.amazonaws.com"})


def assume_role_policy(service: str, *, source_arn: Any | None = None) -> Json:
    """Trust policy letting one AWS service principal assume a role.

    For services that send them, the trust is limited to this account (``aws:SourceAccount``)
    and, when ``source_arn`` is given, to that resource (``aws:SourceArn``), closing the
    cross-service confused-deputy hole.

    Args:
        service: Service principal, e.g. ``states.amazonaws.com``.
        source_arn: The ARN (pattern) of the resource the service acts for.

    Returns:
        An ``AssumeRolePolicyDocument``.
    """
    stmt: Json = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if service in _CONTEXT_KEYS:
        condition: Json = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        if source_arn is not None:
            condition["ArnLike"] = {"aws:SourceArn": source_arn}
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


def role(
    service: str, statements: Sequence[Json], *, name: str, source_arn: Any | None = None
) -> Json:
    """An ``AWS::IAM::Role`` with one inline policy.

    Args:
        service: Service principal trusted to assume the role.
        statements: The inline policy's statements.
        name: Inline policy name.
        source_arn: Optional ``aws:SourceArn`` condition for the trust policy.

    Returns:
        The CloudFormation resource.
    """
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": assume_role_policy(service, source_arn=source_arn),
            "Policies": [
                {
                    "PolicyName": name,
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
                }
            ],
        },
    }


class Violation(str):
    """One breach of the least-privilege rules, as ``<resource>/<pointer>: message``."""

    __slots__ = ()


def iter_policy_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, Json]]:
    """Every identity-policy statement in a template, with its location.

    Args:
        template: A CloudFormation template dict.

    Yields:
        ``(location, statement)``, e.g. ``("IngestionRole/Policies/0/Statement/2", {...})``.
    """
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        if resource.get("Type") == "AWS::IAM::Role":
            for i, policy in enumerate(props.get("Policies", [])):
                documents.append((f"Policies/{i}", policy.get("PolicyDocument", {})))
        elif resource.get("Type") in _POLICY_TYPES:
            documents.append(("PolicyDocument", props.get("PolicyDocument", {})))
        for where, document in documents:
            statements = document.get("Statement", [])
            if isinstance(statements, dict):
                statements = [statements]
            for j, stmt in enumerate(statements):
                yield f"{logical_id}/{where}/Statement/{j}", stmt


def find_violations(template: Mapping[str, Any]) -> list[Violation]:
    """Check every identity policy in ``template`` against the least-privilege rules.

    Args:
        template: A CloudFormation template dict.

    Returns:
        Every violation found (empty when the template is clean).
    """
    found: list[Violation] = []
    for where, stmt in iter_policy_statements(template):
        found.extend(Violation(f"{where}: {msg}") for msg in _statement_problems(stmt))
    return found


def _statement_problems(stmt: Json) -> list[str]:
    problems: list[str] = []
    for key in ("NotAction", "NotResource", "NotPrincipal"):
        if key in stmt:
            problems.append(f"{key} is not allowed")
    if stmt.get("Effect") != "Allow":
        problems.append("only Allow statements are generated")
    actions = _as_list(stmt.get("Action"))
    resources = _as_list(stmt.get("Resource"))
    if not actions:
        problems.append("statement has no Action")
    if not resources:
        problems.append("statement has no Resource")
    problems.extend(_action_problem(a) for a in actions if _action_problem(a))
    if "*" in resources:
        outside = [a for a in actions if a not in WILDCARD_EXCEPTIONS]
        if outside:
            problems.append(f'Resource "*" for actions outside the exception table: {outside}')
    for resource in resources:
        text = _resource_text(resource)
        if text is not None and text != "*" and "*" in text and not _scoped_wildcard(text):
            problems.append(f"wildcard resource is not scoped to one named resource: {text}")
    return problems


def _action_problem(action: Any) -> str:
    if not isinstance(action, str):
        return f"action must be a literal string, got {action!r}"
    if action == "*" or "*" in action or "?" in action:
        return f"wildcard action {action!r}"
    if not _ACTION.match(action):
        return f"malformed action {action!r}"
    return ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _resource_text(resource: Any) -> str | None:
    """The literal text of a resource: the string itself, or an ``Fn::Sub`` template.

    ``Ref``/``Fn::GetAtt`` resolve to one concrete resource and have no text to check.
    """
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return "".join(p if isinstance(p, str) else "${ref}" for p in resource["Fn::Join"][1])
    return None


def _scoped_wildcard(text: str) -> bool:
    """True for ``<one named resource>/*`` or ``<one named resource>:*`` (a path wildcard)."""
    if not (text.endswith(("/*", ":*"))) or "*" in text[:-1]:
        return False
    base = text[:-2]
    if re.fullmatch(r"\$\{[A-Za-z0-9.:]+\}", base):
        return True  # ${Bucket.Arn}/* -- a reference to one resource
    # ${AWS::Partition} and friends contain colons: make every reference one opaque token.
    parts = re.sub(r"\$\{[^}]*\}", "REF", base).split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    resource_part = parts[5]
    if parts[2] == "s3":
        return bool(resource_part)  # arn:aws:s3:::bucket/* -- S3 ARNs carry no resource type
    type_and_name = re.split(r"[:/]", resource_part, maxsplit=1)
    return len(type_and_name) == 2 and bool(type_and_name[1])
