"""Step Functions ARNs: execution ARNs from names, and console URLs for executions."""

from __future__ import annotations

from typing import Final

from kbflow.errors import ValidationError

__all__ = ["console_url", "execution_arn"]

_CONSOLE_DOMAINS: Final = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-cn": "https://{region}.console.amazonaws.cn",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN StartExecution gives execution ``name`` of ``state_machine_arn``.

    Args:
        state_machine_arn: ``arn:<partition>:states:<region>:<account>:stateMachine:<sm>``
            (a version or alias suffix is dropped, as executions belong to the state machine).
        name: the execution name.

    Returns:
        ``arn:<partition>:states:<region>:<account>:execution:<sm>:<name>``.
    """
    parts = state_machine_arn.split(":")
    return ":".join([*parts[:5], "execution", parts[6], name])


def console_url(arn: str, console_base: str | None = None) -> str:
    """Where to look at an execution in a browser.

    Args:
        arn: the execution ARN.
        console_base: a kbflow console's base URL (local runs); ``None`` for AWS.

    Returns:
        ``<console_base>/executions/<arn>``, or the AWS console URL for the ARN's partition
        and Region.

    Raises:
        ValidationError: ``arn`` is not a Step Functions execution ARN.
    """
    parts = arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        raise ValidationError(f"not a Step Functions execution ARN: {arn!r}")
    if console_base is not None:
        return f"{console_base.rstrip('/')}/executions/{arn}"
    partition, region = parts[1], parts[3]
    domain = _CONSOLE_DOMAINS.get(partition, _CONSOLE_DOMAINS["aws"]).format(region=region)
    return f"{domain}/states/home?region={region}#/v2/executions/details/{arn}"
