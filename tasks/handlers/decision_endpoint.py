"""The review decision endpoint: a Lambda function URL (``AuthType: AWS_IAM``) reviewers POST to.

Request body (JSON)::

    {"review_id": "...", "decision": "approve" | "reject" | "edit",
     "comment": "optional, at most 2000 characters", "edits": {"text": "..."}}   # edits: edit only
    {"review_id": "...", "fail": {"error": "Kbflow.ReviewWithdrawn", "cause": "..."}}
    {"review_id": "...", "heartbeat": true}

The reviewer is the IAM principal that signed the request (``requestContext.authorizer.iam``),
never a field of the body. A decision completes the review's ``.waitForTaskToken`` task with
``SendTaskSuccess`` and output ``{"decision", "reviewer", "comment"?, "edits"?}`` (the contract
of the human-review flow); ``fail`` ends it with ``SendTaskFailure``; ``heartbeat`` extends it.
Decisions and failures are written to the audit table (who, when, what, why) and the review is
marked ``decided``. The task token stays in the reviews table; it is never returned or logged.

Responses: 200 done, 400 invalid body, 401 no IAM identity, 404 unknown review, 405 not POST,
409 review already closed, 410 the task is gone (timed out or finished).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from kbflow.tasks.adapters.records import AuditRecord, ReviewRequest
from kbflow.tasks.adapters.stores import Audit, ReviewStore

__all__ = ["Decision", "InvalidRequest", "handle", "handler", "parse_request"]

DECISIONS: Final = ("approve", "reject", "edit")
_OPEN: Final = ("pending", "escalated")
_ERROR_NAME: Final = re.compile(r"^Kbflow\.[A-Za-z]{1,64}$")
_GONE: Final = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")
_MAX_COMMENT: Final = 2000


class StepFunctions(Protocol):
    """The three callback calls of a boto3 ``stepfunctions`` client."""

    def send_task_success(self, *, taskToken: str, output: str) -> Any: ...  # noqa: N803 - boto3 names
    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> Any: ...  # noqa: N803
    def send_task_heartbeat(self, *, taskToken: str) -> Any: ...  # noqa: N803


class InvalidRequest(Exception):
    """The request body is not a valid decision (answered with HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One validated request."""

    review_id: str
    kind: str
    """``decide``, ``fail`` or ``heartbeat``."""
    decision: str = ""
    comment: str | None = None
    edits: Mapping[str, Any] | None = None
    error: str = ""
    cause: str = ""


def parse_request(body: Mapping[str, Any]) -> Decision:
    """Validate a decoded request body.

    Raises:
        InvalidRequest: Unknown keys, a missing or malformed field, or a bad combination.
    """
    review_id = body.get("review_id")
    if not isinstance(review_id, str) or not review_id or len(review_id) > 128:
        raise InvalidRequest("review_id must be a non-empty string of at most 128 characters")
    kinds = [k for k in ("decision", "fail", "heartbeat") if k in body]
    if len(kinds) != 1:
        raise InvalidRequest("give exactly one of decision, fail, heartbeat")
    if kinds[0] == "heartbeat":
        _only(body, {"review_id", "heartbeat"})
        if body["heartbeat"] is not True:
            raise InvalidRequest("heartbeat must be true")
        return Decision(review_id, "heartbeat")
    if kinds[0] == "fail":
        return _parse_fail(review_id, body)
    return _parse_decision(review_id, body)


def _only(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s) {unknown}")


def _parse_fail(review_id: str, body: Mapping[str, Any]) -> Decision:
    _only(body, {"review_id", "fail"})
    fail = body["fail"]
    if not isinstance(fail, dict) or not _ERROR_NAME.match(str(fail.get("error", ""))):
        raise InvalidRequest("fail.error must be a Kbflow.<Name> error name")
    cause = fail.get("cause", "")
    if not isinstance(cause, str) or len(cause) > _MAX_COMMENT:
        raise InvalidRequest(f"fail.cause must be a string of at most {_MAX_COMMENT} characters")
    return Decision(review_id, "fail", error=fail["error"], cause=cause)


def _parse_decision(review_id: str, body: Mapping[str, Any]) -> Decision:
    _only(body, {"review_id", "decision", "comment", "edits"})
    decision = body["decision"]
    if decision not in DECISIONS:
        raise InvalidRequest(f"decision must be one of {list(DECISIONS)}")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > _MAX_COMMENT):
        raise InvalidRequest(f"comment must be a string of at most {_MAX_COMMENT} characters")
    edits = body.get("edits")
    if decision == "edit":
        if (
            not isinstance(edits, dict)
            or not isinstance(edits.get("text"), str)
            or not edits["text"]
        ):
            raise InvalidRequest("an edit decision needs edits.text (a non-empty string)")
    elif edits is not None:
        raise InvalidRequest("edits are only allowed with decision 'edit'")
    return Decision(review_id, "decide", decision=decision, comment=comment, edits=edits)


def reviewer_of(event: Mapping[str, Any]) -> str | None:
    """The IAM principal that signed a function URL request, if any."""
    iam = event.get("requestContext", {}).get("authorizer", {}).get("iam", {})
    arn = iam.get("userArn") or iam.get("callerId")
    return str(arn) if arn else None


def _body(event: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    return body


def _response(status: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload, sort_keys=True),
    }


def handle(
    event: Mapping[str, Any], *, reviews: ReviewStore, audit: Audit, sfn: StepFunctions
) -> dict[str, Any]:
    """Answer one function URL request (the testable core of :func:`handler`).

    Args:
        event: The function URL event (payload format 2.0).
        reviews: Where review requests and their task tokens are stored.
        audit: The append-only audit log.
        sfn: A boto3 ``stepfunctions`` client.

    Returns:
        The function URL response (``statusCode``, ``headers``, ``body``).
    """
    if event.get("requestContext", {}).get("http", {}).get("method", "POST") != "POST":
        return _response(405, {"error": "use POST"})
    reviewer = reviewer_of(event)
    if reviewer is None:
        return _response(401, {"error": "the request must be signed with IAM credentials"})
    try:
        request = parse_request(_body(event))
    except InvalidRequest as exc:
        return _response(400, {"error": str(exc)})
    review = reviews.get(request.review_id)
    if review is None:
        return _response(404, {"error": f"no review {request.review_id!r}"})
    if review.status not in _OPEN:
        return _response(
            409, {"error": f"review is {review.status}", "review_id": review.review_id}
        )
    try:
        result = _complete(request, review, reviewer, sfn)
    except _TaskGone as exc:
        return _response(
            410, {"error": f"the review task is gone ({exc})", "review_id": review.review_id}
        )
    if request.kind != "heartbeat":
        _record(request, review, reviewer, result, reviews=reviews, audit=audit)
    return _response(200, {"review_id": review.review_id, "status": request.kind, **result})


class _TaskGone(Exception):
    pass


def _complete(
    request: Decision, review: ReviewRequest, reviewer: str, sfn: StepFunctions
) -> dict[str, Any]:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

    try:
        if request.kind == "heartbeat":
            sfn.send_task_heartbeat(taskToken=review.task_token)
            return {}
        if request.kind == "fail":
            sfn.send_task_failure(
                taskToken=review.task_token, error=request.error, cause=request.cause
            )
            return {"error": request.error}
        output: dict[str, Any] = {"decision": request.decision, "reviewer": reviewer}
        if request.comment is not None:
            output["comment"] = request.comment
        if request.edits is not None:
            output["edits"] = dict(request.edits)
        sfn.send_task_success(
            taskToken=review.task_token, output=json.dumps(output, sort_keys=True)
        )
        return {"decision": output}
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _GONE:
            raise _TaskGone(code) from None
        raise


def _record(
    request: Decision,
    review: ReviewRequest,
    reviewer: str,
    result: Mapping[str, Any],
    *,
    reviews: ReviewStore,
    audit: Audit,
) -> None:
    action = request.decision if request.kind == "decide" else "fail"
    reason = (
        (request.comment or "") if request.kind == "decide" else f"{request.error}: {request.cause}"
    )
    audit.append(
        AuditRecord(
            subject=str(review.item.get("id", review.review_id)),
            action=action,
            actor=reviewer,
            reason=reason,
            execution_arn=review.execution_arn,
            details={"review_id": review.review_id, "via": "decision-endpoint", **dict(result)},
        )
    )
    decision = dict(
        result.get("decision") or {"decision": "fail", "reviewer": reviewer, "error": request.error}
    )
    reviews.update(review.review_id, status="decided", decision=decision)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: the AWS adapters and a Step Functions client, into :func:`handle`."""
    import boto3  # type: ignore[import-untyped,unused-ignore]
    from kbflow.tasks.adapters.config import current

    adapters = current()
    return handle(
        event, reviews=adapters.reviews, audit=adapters.audit, sfn=boto3.client("stepfunctions")
    )
