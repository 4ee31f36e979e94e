"""Where a deployed stack's outputs live, so the SDK can turn workflow names into ARNs.

``kbflow deploy apply`` writes one JSON file per stack::

    {"stack": "kbflow-prod", "region": "eu-west-1",
     "workflows": {"ingestion": "arn:...", "reindex": "arn:...", "human-review": "arn:..."},
     "outputs": {"IngestionStateMachineArn": "arn:...", "ReviewsTableName": "...", ...}}

to ``$KBFLOW_REGISTRY`` when set (a file path), else ``~/.config/kbflow/stacks/<stack>.json``.
:func:`load` reads it back (the only stack file when ``stack`` is not given) and
:meth:`Registry.resolve` maps ``"ingestion"``/``"reindex"``/``"human-review"`` to ARNs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import kbflow
from kbflow.errors import ConfigurationError

__all__ = [
    "ENV_VAR",
    "WORKFLOW_OUTPUTS",
    "Registry",
    "from_outputs",
    "load",
    "registry_path",
    "resolve",
    "save",
    "stacks_dir",
]

ENV_VAR: Final = "KBFLOW_REGISTRY"
WORKFLOW_OUTPUTS: Final[Mapping[str, str]] = {
    "ingestion": "IngestionStateMachineArn",
    "reindex": "ReindexStateMachineArn",
    "human-review": "HumanReviewStateMachineArn",
}
"""Workflow name -> stack output holding its state machine ARN."""
_STACK_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Registry:
    """A deployed stack as the SDK sees it."""

    stack: str
    """CloudFormation stack name."""
    region: str
    """AWS region of the stack."""
    workflows: Mapping[str, str]
    """Workflow name -> state machine ARN."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    """Every stack output (table and bucket names, the decision endpoint URL, ...)."""

    def resolve(self, workflow: str) -> str:
        """The state machine ARN of ``workflow`` (an ARN is returned unchanged).

        Raises:
            ConfigurationError: The stack has no such workflow.
        """
        if workflow.startswith("arn:"):
            return workflow
        try:
            return self.workflows[workflow]
        except KeyError:
            raise ConfigurationError(
                f"stack {self.stack!r} has no workflow {workflow!r}; "
                f"it has {sorted(self.workflows)}"
            ) from None

    def sdk_registry(self) -> kbflow.Registry:
        """This stack as the SDK's :class:`kbflow.Registry` (``Client.aws(registry=...)``).

        The SDK resolves workflow names from it and finds the reviews table in its outputs.
        """
        return kbflow.Registry(dict(self.workflows), outputs=dict(self.outputs))

    def to_json(self) -> dict[str, Any]:
        """The registry file's content."""
        return {
            "stack": self.stack,
            "region": self.region,
            "workflows": dict(self.workflows),
            "outputs": dict(self.outputs),
        }


def from_outputs(stack: str, region: str, outputs: Mapping[str, str]) -> Registry:
    """Build a registry from stack outputs (``OutputKey -> OutputValue``).

    Raises:
        ConfigurationError: An output naming a workflow's state machine is missing.
    """
    missing = [key for key in WORKFLOW_OUTPUTS.values() if key not in outputs]
    if missing:
        raise ConfigurationError(f"stack {stack!r} outputs lack {missing}")
    workflows = {name: outputs[key] for name, key in WORKFLOW_OUTPUTS.items()}
    return Registry(stack, region, workflows, dict(outputs))


def stacks_dir() -> Path:
    """``$XDG_CONFIG_HOME/kbflow/stacks`` (default ``~/.config/kbflow/stacks``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kbflow" / "stacks"


def registry_path(stack: str | None = None) -> Path:
    """Where the registry of ``stack`` is (``$KBFLOW_REGISTRY`` wins when set).

    Raises:
        ConfigurationError: No stack given, no ``$KBFLOW_REGISTRY``, and not exactly one
            stack file to choose from.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    if stack is not None:
        if not _STACK_NAME.match(stack):
            raise ConfigurationError(f"invalid stack name {stack!r}")
        return stacks_dir() / f"{stack}.json"
    found = sorted(stacks_dir().glob("*.json")) if stacks_dir().is_dir() else []
    if len(found) != 1:
        names = [p.stem for p in found]
        raise ConfigurationError(
            f"name the stack (found {names or 'no stacks'} in {stacks_dir()}) or set ${ENV_VAR}"
        )
    return found[0]


def save(registry: Registry, path: Path | None = None) -> Path:
    """Write ``registry`` atomically (to ``path`` or :func:`registry_path`)."""
    target = path or registry_path(registry.stack)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(
        json.dumps(registry.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    tmp.replace(target)
    return target


def load(stack: str | None = None) -> Registry:
    """Read a stack's registry.

    Args:
        stack: Stack name; ``None`` takes ``$KBFLOW_REGISTRY`` or the only stack file.

    Returns:
        The registry.

    Raises:
        ConfigurationError: No registry file, or one that is not a kbflow registry.
    """
    path = registry_path(stack)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no registry at {path}; run `kbflow deploy apply` first"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{path} is not JSON: {exc}") from exc
    return _parse(data, path)


def _parse(data: Any, path: Path) -> Registry:
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("stack"), str)
        and isinstance(data.get("region"), str)
        and isinstance(data.get("workflows"), dict)
        and all(isinstance(v, str) for v in data["workflows"].values())
        and isinstance(data.get("outputs", {}), dict)
    )
    if not ok:
        raise ConfigurationError(
            f"{path} is not a kbflow registry (stack, region, workflows, outputs)"
        )
    return Registry(
        data["stack"], data["region"], dict(data["workflows"]), dict(data.get("outputs", {}))
    )


def resolve(workflow: str, *, stack: str | None = None) -> str:
    """The state machine ARN of ``workflow`` in the deployed ``stack``.

    Raises:
        ConfigurationError: No registry, or no such workflow in it.
    """
    return load(stack).resolve(workflow)
