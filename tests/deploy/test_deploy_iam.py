"""Least privilege: every IAM policy in the stack, the exception table and the checker itself."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from deploy_testing import resources_of
from kbflow.deploy.iam import WILDCARD_EXCEPTIONS, find_violations, iter_policy_statements

_ARN = "arn:${AWS::Partition}:"
_EXECUTIONS = "states:${AWS::Region}:${AWS::AccountId}:execution:kbflow-x-ingestion/*"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_generated_stack_has_no_violations(template):
    assert find_violations(template) == []


def test_walker_sees_every_role_and_managed_policy(template):
    walked = {where.split("/")[0] for where, _ in iter_policy_statements(template)}
    owners = set(resources_of(template, "AWS::IAM::Role")) | set(
        resources_of(template, "AWS::IAM::ManagedPolicy")
    )
    assert walked == owners
    assert len(owners) >= 30  # a role per function and per state machine, plus events/scheduler


def test_every_statement_by_hand(template):
    """An independent walk: no wildcard actions; ``*`` only for documented exception actions."""
    for where, stmt in iter_policy_statements(template):
        actions = _as_list(stmt["Action"])
        assert all("*" not in a for a in actions), where
        if "*" in _as_list(stmt["Resource"]):
            assert set(actions) <= set(WILDCARD_EXCEPTIONS), where


def test_one_role_per_function_and_per_state_machine(template):
    roles = set(resources_of(template, "AWS::IAM::Role"))
    for lid, res in resources_of(template, "AWS::Lambda::Function").items():
        assert res["Properties"]["Role"] == {"Fn::GetAtt": [f"{lid}Role", "Arn"]}
        assert f"{lid}Role" in roles
    role_users = [
        r["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for r in resources_of(template, "AWS::StepFunctions::StateMachine").values()
    ]
    assert len(set(role_users)) == 3


def _policies_data() -> dict[str, Any]:
    text = resources.files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize("action", sorted(WILDCARD_EXCEPTIONS))
def test_each_exception_is_an_action_aws_defines_without_resource_types(action):
    """The exception table is checked against AWS's service authorization data (cfn-lint's copy)."""
    service, name = action.split(":")
    actions = _policies_data()[service]["Actions"]
    assert name.lower() in actions, f"{action} is not a real IAM action"
    assert not actions[name.lower()].get("Resources"), (
        f"{action} supports resource-level permissions"
    )


def test_every_action_in_the_stack_exists(template):
    data = _policies_data()
    for where, stmt in iter_policy_statements(template):
        for action in _as_list(stmt["Action"]):
            service, name = action.split(":")
            assert name.lower() in data[service]["Actions"], f"{where}: unknown action {action}"


def _with_statement(template: dict[str, Any], stmt: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(template)
    bad["Resources"]["FetchDocumentFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ].append(stmt)
    return bad


@pytest.mark.parametrize(
    ("stmt", "message"),
    [
        (
            {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["WorkBucket", "Arn"]}},
            "wildcard action",
        ),
        (
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b"]},
            "wildcard action",
        ),
        (
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": ["arn:aws:s3:::b"]},
            "wildcard action",
        ),
        (
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            "outside the exception table",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "s3:GetObject"],
                "Resource": ["*"],
            },
            "outside the exception table",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": {
                    "Fn::Sub": _ARN + "lambda:${AWS::Region}:${AWS::AccountId}:function:*"
                },
            },
            "not scoped",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem"],
                "Resource": "arn:aws:dynamodb:*:*:table/t",
            },
            "not scoped",
        ),
        ({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": ["arn:aws:s3:::b"]}, "NotAction"),
        (
            {"Effect": "Allow", "Action": ["s3:GetObject"], "NotResource": ["arn:aws:s3:::b"]},
            "NotResource",
        ),
    ],
)
def test_checker_catches_each_kind_of_violation(template, stmt, message):
    found = find_violations(_with_statement(template, stmt))
    assert found and all(v.startswith("FetchDocumentFunctionRole/") for v in found)
    assert any(message in v for v in found), found


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::bucket/*",
        {"Fn::Sub": "${WorkBucket.Arn}/*"},
        {"Fn::Sub": _ARN + _EXECUTIONS},
    ],
)
def test_checker_allows_path_wildcards_under_one_named_resource(template, resource):
    stmt = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [resource]}
    assert find_violations(_with_statement(template, stmt)) == []


def test_checker_also_reads_managed_policies(template):
    bad = copy.deepcopy(template)
    policy = bad["Resources"]["ReviewerPolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"][0]["Action"] = ["lambda:*"]
    assert any(v.startswith("ReviewerPolicy/") for v in find_violations(bad))


def test_trust_policies(template):
    trusts = {
        lid: r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        for lid, r in resources_of(template, "AWS::IAM::Role").items()
    }
    ingestion = trusts["IngestionStateMachineRole"]
    assert ingestion["Principal"] == {"Service": "states.amazonaws.com"}
    assert (
        "stateMachine:kbflow-${Stage}-ingestion"
        in ingestion["Condition"]["ArnLike"]["aws:SourceArn"][0]["Fn::Sub"]
    )
    assert trusts["SchedulerRole"]["Condition"]["StringEquals"]["aws:SourceAccount"] == {
        "Ref": "AWS::AccountId"
    }
    assert trusts["FetchDocumentFunctionRole"]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "Condition" not in trusts["FetchDocumentFunctionRole"]


def _resolved_size(document: Any) -> int:
    """Policy size with every intrinsic replaced by a long ARN (IAM counts the resolved text)."""
    arn = "arn:aws:lambda:ap-southeast-2:123456789012:function:" + "x" * 64 + ":*"

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if {"Ref", "Fn::GetAtt", "Fn::Sub"} & set(value):
                return arn
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return len(json.dumps(resolve(document), separators=(",", ":")))


def test_inline_policies_stay_under_the_iam_role_quota(template):
    for lid, res in resources_of(template, "AWS::IAM::Role").items():
        size = sum(_resolved_size(p["PolicyDocument"]) for p in res["Properties"]["Policies"])
        assert size < 10_240, (
            f"{lid}: inline policies {size} characters, IAM allows 10,240 per role"
        )
