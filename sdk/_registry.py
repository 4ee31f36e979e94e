"""Workflow names to state machine ARNs (and back), deploy outputs, and execution ARNs/URLs.

A :class:`Registry` answers, in order: an explicit mapping, the environment
(``KBFLOW_WORKFLOW_<NAME>_ARN``, e.g. ``KBFLOW_WORKFLOW_HUMAN_REVIEW_ARN``), then stack outputs
(e.g. the reviews table name) handed in by the deployer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from kbflow.errors import ConfigurationError, ValidationError

__all__ = ["WORKFLOWS", "Registry", "console_url", "env_var", "execution_arn"]

WORKFLOWS: Final = ("ingestion", "reindex", "human-review")
"""The workflows kbflow ships."""


def env_var(workflow: str) -> str:
    """The environment variable naming ``workflow``'s state machine ARN.

    Args:
        workflow: a workflow name such as ``"human-review"``.

    Returns:
        e.g. ``"KBFLOW_WORKFLOW_HUMAN_REVIEW_ARN"``.
    """
    return "KBFLOW_WORKFLOW_" + workflow.upper().replace("-", "_") + "_ARN"


def is_arn(value: str) -> bool:
    """Whether ``value`` is an ARN rather than a workflow name."""
    return value.startswith("arn:")


class Registry:
    """Where workflow names resolve to state machine ARNs.

    Args:
        workflows: explicit workflow name to ARN mapping (wins over everything else).
        outputs: deploy outputs, e.g. ``{"ReviewsTableName": "kbflow-reviews"}``; an output
            named ``<Workflow>StateMachineArn`` (``IngestionStateMachineArn``,
            ``HumanReviewStateMachineArn``) also resolves that workflow.
        environ: the environment to read (default ``os.environ``, read at lookup time).
    """

    def __init__(
        self,
        workflows: Mapping[str, str] | None = None,
        *,
        outputs: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._workflows = dict(workflows or {})
        self.outputs: Mapping[str, str] = dict(outputs or {})
        self._environ = environ

    @property
    def mapping(self) -> Mapping[str, str]:
        """The explicit workflow name to ARN mapping."""
        return dict(self._workflows)

    def _env(self) -> Mapping[str, str]:
        return self._environ if self._environ is not None else os.environ

    def find(self, workflow: str) -> str | None:
        """The ARN of ``workflow``, or ``None`` when nothing names it.

        Args:
            workflow: a workflow name.

        Returns:
            The state machine ARN, if known.
        """
        if workflow in self._workflows:
            return self._workflows[workflow]
        from_env = self._env().get(env_var(workflow))
        if from_env:
            return from_env
        return self.outputs.get(output_key(workflow))

    def arn(self, workflow: str) -> str:
        """Resolve a workflow name (or pass an ARN through).

        Args:
            workflow: ``"ingestion"``, ``"reindex"``, ``"human-review"`` (or any registered
                name), or a state machine ARN.

        Returns:
            The state machine ARN.

        Raises:
            ConfigurationError: nothing maps the name to an ARN.
        """
        if is_arn(workflow):
            return workflow
        found = self.find(workflow)
        if found is None:
            raise ConfigurationError(
                f"no state machine ARN for workflow {workflow!r}: pass registry="
                f"{{{workflow!r}: ARN}}, set {env_var(workflow)}, or run `kbflow deploy apply` "
                "so Client.aws() finds the stack's registry"
            )
        return found

    def workflow_for(self, state_machine_arn: str) -> str | None:
        """The workflow name whose ARN is ``state_machine_arn``, if any.

        Args:
            state_machine_arn: a state machine ARN (a version or alias suffix is ignored).

        Returns:
            The workflow name, or ``None``.
        """
        names = {*self._workflows, *WORKFLOWS}
        base = _unqualified(state_machine_arn)
        for name in sorted(names):
            found = self.find(name)
            if found is not None and _unqualified(found) == base:
                return name
        return None


def output_key(workflow: str) -> str:
    """The deploy output naming ``workflow``'s ARN, e.g. ``"HumanReviewStateMachineArn"``."""
    return "".join(part.capitalize() for part in workflow.split("-")) + "StateMachineArn"


def _unqualified(arn: str) -> str:
    # arn:aws:states:region:account:stateMachine:name[:version-or-alias]
    return ":".join(arn.split(":")[:7])


def as_registry(value: Registry | Mapping[str, str] | None) -> Registry:
    """Accept a Registry, a plain mapping, or ``None`` (environment only)."""
    if isinstance(value, Registry):
        return value
    return Registry(value)


def deployed_registry(stack: str | None) -> tuple[Registry | None, str | None]:
    """The registry and Region of a stack deployed with ``kbflow deploy apply``.

    Args:
        stack: the stack name; ``None`` takes ``$KBFLOW_REGISTRY`` or the only stack file.

    Returns:
        ``(registry, region)``, or ``(None, None)`` when no stack was named and none is found.

    Raises:
        ConfigurationError: the named stack's registry cannot be read.
    """
    from kbflow.deploy import registry as deployed

    try:
        found = deployed.load(stack)
    except ConfigurationError:
        if stack is not None:
            raise
        return None, None
    return Registry(dict(found.workflows), outputs=dict(found.outputs)), found.region


# -- ARNs and console URLs --------------------------------------------------------------------

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
        The kbflow console's execution page, ``<console_base>/#/execution/<arn, URL-encoded>``
        (the console routes in the URL fragment), or the AWS console URL for the ARN's
        partition and Region.

    Raises:
        ValidationError: ``arn`` is not a Step Functions execution ARN.
    """
    parts = arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        raise ValidationError(f"not a Step Functions execution ARN: {arn!r}")
    if console_base is not None:
        return f"{console_base.rstrip('/')}/#/execution/{quote(arn, safe='')}"
    partition, region = parts[1], parts[3]
    domain = _CONSOLE_DOMAINS.get(partition, _CONSOLE_DOMAINS["aws"]).format(region=region)
    return f"{domain}/states/home?region={region}#/v2/executions/details/{arn}"
