"""The human-review flow: a person approves, rejects or edits one item, with deadlines.

Shape::

    Validate Review Request -> Prepare Review Request
    Review Heartbeat?              only a request with heartbeat_seconds gets a heartbeat
    Request Human Review [With Heartbeat]   .waitForTaskToken; TimeoutSecondsPath
                                   [/ HeartbeatSecondsPath]
      timeout or no heartbeat -> Audit Review Timeout -> Escalation Heartbeat?
        -> Escalate Review [With Heartbeat] (its own deadline)
        timeout again -> Audit Escalation Timeout -> Apply Policy Default (reject)
    Route Decision -> Apply Approval | Apply Rejection | Apply Edits
                   | anything else -> Audit Invalid Decision -> Invalid Decision (fails)
    Audit Decision -> Review Complete          (output carries the decision)

The review tasks are JSONPath states because ``TimeoutSecondsPath``/``HeartbeatSecondsPath``
read the per-request deadline and heartbeat from the state input (``Prepare Review Request``
fills in the default deadlines, 86400 s each). A heartbeat is opt-in: people do not heartbeat,
so a review UI that does (``Reviews.heartbeat``) asks for one with ``heartbeat_seconds``;
without it the task has no ``HeartbeatSecondsPath`` (an ASL task cannot switch its heartbeat
off at run time, hence the two variants behind a Choice).

Everything that *computes* (validation, defaults, routing on the decision, audit records, the
output) is JSONata, where it reads as one expression instead of a chain of JSONPath states.
The review level (``primary``, ``escalation``, ``policy``) is a workflow variable: ``Prepare
Review Request`` assigns ``primary`` and each timeout audit moves it one level up, so the audit
records and the output say at which level the decision was taken without threading it through
the payload.

Every decision writes an audit record (who, when, what, why), and so does every timeout.
A decision sent with ``SendTaskSuccess`` is ``{"decision": "approve|reject|edit",
"reviewer": str, "comment"?: str, "edits"?: object}`` (docs/contracts.md).
"""

from __future__ import annotations

from typing import Any, Final

from kbflow.workflows._tasks import (
    HEARTBEAT_TIMEOUT,
    LAMBDA_INVOKE,
    LAMBDA_INVOKE_WAIT,
    TIMEOUT,
    catch_all,
    function_arn,
    transient_retry,
)
from kbflow.workflows.asl import (
    Catch,
    Choice,
    Condition,
    Fail,
    Json,
    Pass,
    Succeed,
    Task,
    state_machine,
)
from stepfunctions.steps import states as sdk
from stepfunctions.steps.choice_rule import BaseRule

__all__ = ["DEFAULT_DEADLINE_SECONDS", "INPUT_SCHEMA", "build"]

DEFAULT_DEADLINE_SECONDS: Final = 86400
POLICY_DEFAULT: Final = "reject"
"""What happens when nobody decides before the escalation deadline."""

_SECONDS: Final[dict[str, Json]] = {"type": "integer", "minimum": 1, "maximum": 31536000}

INPUT_SCHEMA: Final[dict[str, Json]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://kbflow.dev/schemas/human-review.input.json",
    "title": "kbflow human-review input",
    "type": "object",
    "required": ["item", "reason"],
    "properties": {
        "item": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string", "minLength": 1}},
            "additionalProperties": True,
        },
        "reason": {"type": "string", "minLength": 1},
        "deadline_seconds": {
            **_SECONDS,
            "description": "Time for the first review (default 86400).",
        },
        "heartbeat_seconds": {
            **_SECONDS,
            "description": "Max silence between heartbeats (default: none; a review UI that "
            "heart-beats while the item is open sets it; kept below the deadlines).",
        },
        "escalation_deadline_seconds": {
            **_SECONDS,
            "description": "Time for the escalation review (default 86400).",
        },
    },
    "additionalProperties": True,
}
"""JSON Schema (draft 2020-12) of the flow input. ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``
(set when ingestion starts a review) is allowed by ``additionalProperties``."""

_IN = "$states.input"

_VALID = (
    "{% $type($states.input.item.id) = 'string' and $length($states.input.item.id) > 0"
    " and $type($states.input.reason) = 'string' and $length($states.input.reason) > 0"
    " and $count(['deadline_seconds', 'heartbeat_seconds', 'escalation_deadline_seconds']"
    "[$exists($lookup($states.input, $)) and ($type($lookup($states.input, $)) != 'number'"
    " or $lookup($states.input, $) < 1"
    " or $lookup($states.input, $) != $floor($lookup($states.input, $)))]) = 0 %}"
)

_PREPARED = (
    "{% ("
    "$d := $exists($states.input.deadline_seconds)"
    f" ? $states.input.deadline_seconds : {DEFAULT_DEADLINE_SECONDS}; "
    "$e := $exists($states.input.escalation_deadline_seconds)"
    f" ? $states.input.escalation_deadline_seconds : {DEFAULT_DEADLINE_SECONDS}; "
    "$h := $states.input.heartbeat_seconds; "
    "$merge([{'item': $states.input.item, 'reason': $states.input.reason, 'deadline_seconds': $d, "
    "'escalation_deadline_seconds': $e}, "
    "$exists($h) ? {'heartbeat_seconds': $min([$h, $max([$min([$d, $e]) - 1, 1])])} : {}])"
    ") %}"
)
"""Defaults filled in; a requested heartbeat is kept below both deadlines (AWS wants it
smaller)."""


def _audit(
    state_id: str, *, comment: str, action: str, actor: str, why: str, next_level: str | None = None
) -> Task:
    """A JSONata task writing one audit record; the state input passes through unchanged.

    ``action``, ``actor`` and ``why`` are JSONata sub-expressions (quote literals: ``"'timeout'"``).
    """
    return Task(
        state_id,
        query_language="JSONata",
        comment=comment,
        resource=LAMBDA_INVOKE,
        arguments={
            "FunctionName": function_arn("WriteAudit"),
            # One object constructor, so fields that are undefined (no decision yet on a
            # timeout) are left out instead of failing the state.
            "Payload": (
                "{% {'execution_arn': $states.context.Execution.Id, 'item': $states.input.item, "
                f"'action': {action}, 'actor': {actor}, 'reason': {why}, "
                "'decision': $states.input.decision, 'level': $level, "
                "'at': $states.context.State.EnteredTime, 'review_reason': $states.input.reason} %}"
            ),
        },
        output="{% $states.input %}",
        assign={"level": next_level} if next_level else None,
        timeout_seconds=60,
        retry=transient_retry(),
    )


def _wait_for_review(
    state_id: str,
    *,
    function: str,
    level: str,
    comment: str,
    deadline_path: str,
    on_timeout: Task,
    failed: Fail,
    then: sdk.State,
    extra: dict[str, Json] | None = None,
) -> Choice:
    """A ``.waitForTaskToken`` task (the handler stores the token and notifies), in two variants.

    Returns:
        The entry: a Choice that takes the variant with a heartbeat only when the input asks for
        one (``heartbeat_seconds``).
    """
    plain, beating = (
        _review_task(
            state_id + (" With Heartbeat" if heartbeat else ""),
            function=function,
            level=level,
            comment=comment,
            deadline_path=deadline_path,
            heartbeat=heartbeat,
            on_timeout=on_timeout,
            failed=failed,
            extra=extra,
        )
        for heartbeat in (False, True)
    )
    plain.next(then)
    beating.next(then)
    prefix = "Escalation" if level == "escalation" else "Review"
    return Choice(
        f"{prefix} Heartbeat?",
        query_language="JSONata",
        comment="A heartbeat only when the request asks for one (heartbeat_seconds)",
        choices=[(Condition("{% $exists($states.input.heartbeat_seconds) %}"), beating)],
        default=plain,
    )


def _review_task(
    state_id: str,
    *,
    function: str,
    level: str,
    comment: str,
    deadline_path: str,
    heartbeat: bool,
    on_timeout: Task,
    failed: Fail,
    extra: dict[str, Json] | None,
) -> Task:
    payload: dict[str, Json] = {
        "task_token.$": "$$.Task.Token",
        "execution_arn.$": "$$.Execution.Id",
        "level": level,
        "item.$": "$.item",
        "reason.$": "$.reason",
        "deadline_seconds.$": deadline_path,
        **({"heartbeat_seconds.$": "$.heartbeat_seconds"} if heartbeat else {}),
        **(extra or {}),
    }
    return Task(
        state_id,
        comment=comment,
        resource=LAMBDA_INVOKE_WAIT,
        parameters={"FunctionName": function_arn(function), "Payload": payload},
        timeout_seconds_path=deadline_path,
        heartbeat_seconds_path="$.heartbeat_seconds" if heartbeat else None,
        result_path="$.decision",
        retry=transient_retry(idempotent=False),
        catch=[
            Catch(
                error_equals=[TIMEOUT, HEARTBEAT_TIMEOUT] if heartbeat else [TIMEOUT],
                next_step=on_timeout,
                result_path="$.timeout",
                comment="Nobody decided (or stopped heart-beating) in time"
                if heartbeat
                else "Nobody decided in time",
            ),
            *catch_all(failed),
        ],
    )


def _apply(state_id: str, *, action: str, comment: str, then: Task, failed: Fail) -> Task:
    task = Task(
        state_id,
        query_language="JSONata",
        comment=comment,
        resource=LAMBDA_INVOKE,
        arguments={
            "FunctionName": function_arn("ApplyDecision"),
            "Payload": {
                "execution_arn": "{% $states.context.Execution.Id %}",
                "action": action,
                "level": "{% $level %}",
                "item": "{% $states.input.item %}",
                "decision": "{% $states.input.decision %}",
            },
        },
        output="{% $merge([$states.input, {'applied': $states.result.Payload}]) %}",
        timeout_seconds=330,
        retry=transient_retry(),
        catch=[
            Catch(
                error_equals=["States.ALL"],
                next_step=failed,
                output="{% $merge([$states.input, {'error': $states.errorOutput}]) %}",
            )
        ],
    )
    task.next(then)
    return task


_APPLY: Final = (
    ("approve", "Apply Approval", "Release the item (e.g. publish to the index)"),
    ("reject", "Apply Rejection", "Withdraw the item (e.g. remove from the index, quarantine)"),
    ("edit", "Apply Edits", "Apply the reviewer's edits, then release the item"),
)
"""(decision, state name, comment) for every valid decision."""


def _decision_audit() -> Task:
    """Audit Decision -> Review Complete (the flow's output)."""
    complete = Succeed(
        "Review Complete",
        query_language="JSONata",
        comment="Output: the item id and the decision (who, what, why, at which level)",
        output="{% {'item_id': $states.input.item.id, 'decision': $states.input.decision.decision,"
        " 'reviewer': $states.input.decision.reviewer, 'comment': $states.input.decision.comment,"
        " 'level': $level, 'applied': $states.input.applied} %}",
    )
    audit = _audit(
        "Audit Decision",
        comment="Record who decided what, when and why",
        action="$states.input.decision.decision",
        actor="$states.input.decision.reviewer",
        why="$exists($states.input.decision.comment) ? $states.input.decision.comment : ''",
    )
    audit.next(complete)
    return audit


def _invalid_decision() -> Task:
    """Audit Invalid Decision -> Invalid Decision (fails with Kbflow.InvalidDecision)."""
    unknown = "'unknown decision: ' & $string($states.input.decision.decision)"
    audit = _audit(
        "Audit Invalid Decision",
        comment="Record the unusable decision before failing, so the trail has every answer",
        action="'invalid'",
        actor="$states.input.decision.reviewer",
        why=unknown,
    )
    audit.next(
        Fail(
            "Invalid Decision",
            query_language="JSONata",
            comment="The decision sent with the task token is not approve, reject or edit",
            error="Kbflow.InvalidDecision",
            cause=f"{{% {unknown} %}}",
        )
    )
    return audit


def _route_decision(failed: Fail) -> Choice:
    audit = _decision_audit()
    choices: list[tuple[BaseRule, sdk.State]] = [
        (
            Condition(f"{{% $states.input.decision.decision = '{value}' %}}"),
            _apply(name, action=value, then=audit, failed=failed, comment=comment),
        )
        for value, name, comment in _APPLY
    ]
    return Choice(
        "Route Decision",
        query_language="JSONata",
        comment="Approve, reject or edit the item",
        choices=choices,
        default=_invalid_decision(),
    )


def _timeouts(route: Choice, failed: Fail) -> Task:
    """Audit Review Timeout -> Escalate Review -> (timeout) -> ... -> Apply Policy Default."""
    policy = Pass(
        "Apply Policy Default",
        query_language="JSONata",
        comment=f"No decision before the escalation deadline: policy default is {POLICY_DEFAULT}",
        output="{% $merge([$states.input, {'decision': {'decision': '" + POLICY_DEFAULT + "',"
        " 'reviewer': 'policy', 'comment': 'no decision before the escalation deadline'}}]) %}",
    )
    policy.next(route)
    escalation_timeout = _audit(
        "Audit Escalation Timeout",
        comment="Record that the escalation review timed out",
        action="'timeout'",
        actor="'system'",
        why="$states.input.timeout.Error",
        next_level="policy",
    )
    escalation_timeout.next(policy)
    escalate = _wait_for_review(
        "Escalate Review",
        function="EscalateReview",
        level="escalation",
        comment="Second review by an escalation reviewer, with its own deadline",
        deadline_path="$.escalation_deadline_seconds",
        on_timeout=escalation_timeout,
        failed=failed,
        then=route,
        extra={"error.$": "$.timeout"},
    )
    first_timeout = _audit(
        "Audit Review Timeout",
        comment="Record that the first review timed out",
        action="'timeout'",
        actor="'system'",
        why="$states.input.timeout.Error",
        next_level="escalation",
    )
    first_timeout.next(escalate)
    return first_timeout


def build() -> dict[str, Any]:
    """Compile the human-review flow.

    Returns:
        The ASL definition as a dict.
    """
    failed = Fail(
        "Review Failed",
        comment="A review task or the decision could not be applied",
        error_path="$.error.Error",
        cause_path="$.error.Cause",
    )
    route = _route_decision(failed)
    request = _wait_for_review(
        "Request Human Review",
        function="RequestReview",
        level="primary",
        comment="Store the review request and its task token, notify reviewers, await a decision",
        deadline_path="$.deadline_seconds",
        on_timeout=_timeouts(route, failed),
        failed=failed,
        then=route,
    )
    prepare = Pass(
        "Prepare Review Request",
        query_language="JSONata",
        comment="Apply the default deadlines (86400 s); keep a requested heartbeat below them",
        output=_PREPARED,
        assign={"level": "primary"},
    )
    prepare.next(request)
    invalid = Fail(
        "Invalid Review Request",
        query_language="JSONata",
        comment="The input does not match schemas/human-review.input.json",
        error="Kbflow.InvalidInput",
        cause="item.id and reason are required strings; deadline_seconds, "
        "heartbeat_seconds and escalation_deadline_seconds are positive integers",
    )
    validate = Choice(
        "Validate Review Request",
        query_language="JSONata",
        comment="item.id and reason are required; durations must be positive integers",
        choices=[(Condition(_VALID), prepare)],
        default=invalid,
    )
    return state_machine(
        validate,
        comment="kbflow human review: approve, reject or edit one "
        "item, with deadlines, escalation and an audit trail",
    )
