"""The three Step Functions state machines, their roles, log groups and substitutions.

Each machine is a STANDARD workflow built from the committed ``definitions/<flow>.asl.json``.
Every ``${...}`` placeholder in the definition gets a ``DefinitionSubstitutions`` entry (an
unknown placeholder is an error, not a broken deploy), and the machine's role is derived from
what the definition does (:func:`kbflow.deploy.scan.scan`): ``lambda:InvokeFunction`` on exactly
the functions it names, ``states:StartExecution`` on the machines it starts, child-execution
permissions for its own Distributed Maps and S3 access for their ItemReader/ResultWriter.

Machine names are fixed (``kbflow-<stage>-<flow>``) so a role can name its own machine's
executions without a dependency cycle (the role must exist before the machine).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kbflow.deploy import iam
from kbflow.deploy.functions import function_id
from kbflow.deploy.scan import DYNAMIC, Needs, iter_states, placeholders, scan
from kbflow.errors import ConfigurationError
from kbflow.tasks.catalog import FUNCTIONS, STATE_MACHINES, TaskFunction

__all__ = [
    "FLOWS",
    "Machine",
    "machine_arn",
    "machine_id",
    "machine_resources",
    "substitutions",
]

Json = dict[str, Any]

FLOWS: Final[tuple[str, ...]] = ("ingestion", "reindex", "human-review")
_BUCKET_PLACEHOLDERS: Final[Mapping[str, str]] = {
    "SourceBucketName": "SourcesBucket",
    "SourcesBucketName": "SourcesBucket",
    "WorkBucketName": "WorkBucket",
    "QuarantineBucketName": "QuarantineBucket",
}
# A bucket a Distributed Map takes from its input ("Bucket.$") is pinned to one stack bucket:
# the flow input's source (a path under $.source) is the sources bucket; every other bucket a
# task hands on (diff lists, results, review lists) is the work store.
_SOURCE_PATH: Final = re.compile(r"^\$\.source\.")
_SYNC_RULE: Final = (
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
    "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
)


@dataclass(frozen=True, slots=True)
class Machine:
    """One flow to deploy."""

    flow: str
    """Definition file stem: ``ingestion``, ``reindex``, ``human-review``."""
    definition: Mapping[str, Any]
    """The ASL document."""


def machine_id(flow: str) -> str:
    """Logical id of a flow's state machine, e.g. ``HumanReviewStateMachine``."""
    return "".join(part.capitalize() for part in flow.split("-")) + "StateMachine"


def machine_name(flow: str) -> str:
    """``Fn::Sub`` template of the machine's name, ``kbflow-${Stage}-<flow>``."""
    return f"kbflow-${{Stage}}-{flow}"


def machine_arn(flow: str, kind: str = "stateMachine", suffix: str = "") -> Json:
    """``Fn::Sub`` ARN of a flow's machine (``kind`` ``execution`` for its executions)."""
    return {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
        f"{kind}:{machine_name(flow)}{suffix}"
    }


def substitutions(
    definition_text: str, *, flow: str, catalog: tuple[TaskFunction, ...] = FUNCTIONS
) -> Json:
    """``DefinitionSubstitutions`` for every placeholder in one definition.

    Raises:
        ConfigurationError: A placeholder the stack cannot fill.
    """
    functions = {fn.placeholder: function_id(fn.name) for fn in catalog}
    subs: Json = {}
    unknown: list[str] = []
    for name in sorted(placeholders(definition_text)):
        if name in functions:
            subs[name] = {"Fn::GetAtt": [functions[name], "Arn"]}
        elif name in STATE_MACHINES:
            subs[name] = machine_arn(STATE_MACHINES[name])
        elif name in _BUCKET_PLACEHOLDERS:
            subs[name] = {"Ref": _BUCKET_PLACEHOLDERS[name]}
        else:
            unknown.append(name)
    if unknown:
        raise ConfigurationError(f"{flow}: no substitution for placeholder(s) {unknown}")
    return subs


def machine_resources(
    machine: Machine, *, catalog: tuple[TaskFunction, ...] = FUNCTIONS
) -> dict[str, Json]:
    """State machine, role and log group for one flow."""
    mid = machine_id(machine.flow)
    text = json.dumps(machine.definition, separators=(",", ":"), ensure_ascii=False)
    needs = scan(machine.definition, flow=machine.flow)
    log_group: Json = {
        "Type": "AWS::Logs::LogGroup",
        # Fixed name (vended-logs prefix): a retained group would block redeploying the stage;
        # it holds ERROR events without execution data.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": {"Fn::Sub": f"/aws/vendedlogs/states/{machine_name(machine.flow)}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        },
    }
    statements = role_statements(machine.flow, needs, catalog=catalog)
    role = iam.role(
        "states.amazonaws.com",
        statements,
        name=f"{mid}Permissions",
        # The machine, and its versions and aliases (stateMachine:<name>:<qualifier>).
        source_arn=[machine_arn(machine.flow), machine_arn(machine.flow, suffix=":*")],
    )
    sm: Json = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": {"Fn::Sub": machine_name(machine.flow)},
            "StateMachineType": "STANDARD",
            "DefinitionString": text,
            "DefinitionSubstitutions": substitutions(text, flow=machine.flow, catalog=catalog),
            "RoleArn": {"Fn::GetAtt": [f"{mid}Role", "Arn"]},
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ERROR",
                "IncludeExecutionData": False,
                "Destinations": [
                    {
                        "CloudWatchLogsLogGroup": {
                            "LogGroupArn": {"Fn::GetAtt": [f"{mid}LogGroup", "Arn"]}
                        }
                    }
                ],
            },
        },
    }
    metadata = lint_metadata(machine.definition)
    if metadata:
        sm["Metadata"] = metadata
    return {f"{mid}LogGroup": log_group, f"{mid}Role": role, mid: sm}


def lint_metadata(definition: Mapping[str, Any]) -> Json:
    """cfn-lint suppression for known gaps in its bundled ASL schema, only when they apply.

    cfn-lint's Step Functions schema (E3601) does not list ``QueryLanguage`` on ``Succeed``
    states, although the ASL specification allows the field on every state (JSONata states
    shape their output with ``Output``). Definitions are validated by ``kbflow build``
    (JSON Schema, statelint and kbflow's own checks), so ignoring E3601 on that one
    resource hides nothing the build does not check.
    """
    if not any(
        s.get("Type") == "Succeed" and "QueryLanguage" in s for _, s in iter_states(definition)
    ):
        return {}
    return {
        "cfn-lint": {"config": {"ignore_checks": ["E3601"]}},
        "kbflow": "E3601 ignored: cfn-lint's ASL schema lacks Succeed.QueryLanguage",
    }


def role_statements(
    flow: str, needs: Needs, *, catalog: tuple[TaskFunction, ...] = FUNCTIONS
) -> list[Json]:
    """The state machine role's statements, from what its definition does.

    Raises:
        ConfigurationError: The definition names a function or machine the stack lacks.
    """
    out = [
        iam.statement(iam.PROCESS_LOG_ACTIONS, "*", sid="VendedLogs"),
        iam.statement(iam.XRAY_ACTIONS, "*", sid="Tracing"),
    ]
    if needs.functions:
        out.append(
            iam.statement(
                ["lambda:InvokeFunction"],
                _function_arns(needs.functions, catalog),
                sid="InvokeTaskFunctions",
            )
        )
    out += _execution_statements(flow, needs)
    out += _bucket_statements(needs)
    return out


def _function_arns(placeholder_names: set[str], catalog: tuple[TaskFunction, ...]) -> list[Any]:
    by_placeholder = {fn.placeholder: fn for fn in catalog}
    missing = sorted(placeholder_names - set(by_placeholder))
    if missing:
        raise ConfigurationError(f"definition invokes functions not in the catalog: {missing}")
    arns: list[Any] = []
    for name in sorted(placeholder_names):
        fid = function_id(by_placeholder[name].name)
        # The function and its versions/aliases (lambda:invoke may pass a qualified name).
        arns += [{"Fn::GetAtt": [fid, "Arn"]}, {"Fn::Sub": f"${{{fid}.Arn}}:*"}]
    return arns


def _target_flow(placeholder_name: str) -> str:
    if placeholder_name not in STATE_MACHINES:
        raise ConfigurationError(
            f"definition starts an unknown state machine ${{{placeholder_name}}}"
        )
    return STATE_MACHINES[placeholder_name]


def _execution_statements(flow: str, needs: Needs) -> list[Json]:
    out: list[Json] = []
    started = sorted({_target_flow(p) for p in needs.executions | needs.sync_executions})
    if needs.distributed_map and flow not in started:
        started.append(flow)
    if started:
        out.append(
            iam.statement(
                ["states:StartExecution"], [machine_arn(f) for f in started], sid="StartExecutions"
            )
        )
    if needs.distributed_map:
        # Distributed Map child executions are named <machine>/<map run label>:<uuid>.
        out.append(
            iam.statement(
                ["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
                [machine_arn(flow, "execution", "/*")],
                sid="DistributedMapChildren",
            )
        )
    synced = sorted({_target_flow(p) for p in needs.sync_executions})
    if synced:
        out.append(
            iam.statement(
                ["states:DescribeExecution", "states:StopExecution"],
                [machine_arn(f, "execution", ":*") for f in synced],
                sid="SyncChildren",
            )
        )
        out.append(
            iam.statement(
                ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                [{"Fn::Sub": _SYNC_RULE}],
                sid="SyncChildrenEvents",
            )
        )
    return out


def _bucket(value: str) -> str:
    if value.startswith(DYNAMIC):
        return "SourcesBucket" if _SOURCE_PATH.match(value[len(DYNAMIC) :]) else "WorkBucket"
    if value in _BUCKET_PLACEHOLDERS:
        return _BUCKET_PLACEHOLDERS[value]
    raise ConfigurationError(f"Distributed Map bucket {value!r} is not a stack bucket placeholder")


def _bucket_statements(needs: Needs) -> list[Json]:
    out: list[Json] = []
    listed = sorted({_bucket(b) for b in needs.list_buckets})
    if listed:
        out.append(
            iam.statement(
                ["s3:ListBucket"],
                [{"Fn::GetAtt": [b, "Arn"]} for b in listed],
                sid="ItemReaderList",
            )
        )
    read = sorted({_bucket(b) for b in needs.read_buckets})
    if read:
        out.append(
            iam.statement(
                ["s3:GetObject"],
                [{"Fn::Sub": f"${{{b}.Arn}}/*"} for b in read],
                sid="ItemReaderGet",
            )
        )
    written = sorted({_bucket(b) for b in needs.write_buckets})
    if written:
        out.append(
            iam.statement(
                [
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                [{"Fn::Sub": f"${{{b}.Arn}}/*"} for b in written],
                sid="ResultWriter",
            )
        )
    return out
