"""Read what a state machine definition needs from AWS: placeholders and service integrations.

The deploy stack derives each state machine's IAM policy from its committed definition instead
of a hand-written list, so a new task state or a new Distributed Map reader cannot ship without
its permission, and a removed one takes its permission with it.

Recognised integrations (anything else is a :class:`~kbflow.errors.ConfigurationError`, so a
new kind of state is a conscious change to this module, not a silently missing permission):

========================================================  =================================
Resource                                                  Needs
========================================================  =================================
``arn:aws:states:::lambda:invoke[.waitForTaskToken]``     ``lambda:InvokeFunction`` on FunctionName
``arn:aws:states:::states:startExecution[.sync[:2]]``     ``states:StartExecution`` on the ARN
Map ``ProcessorConfig.Mode: DISTRIBUTED``                 child executions of the machine itself
Map ``ItemReader`` ``arn:aws:states:::s3:listObjectsV2``  ``s3:ListBucket`` on the bucket
Map ``ItemReader`` ``arn:aws:states:::s3:getObject``      ``s3:GetObject`` on the bucket
Map ``ResultWriter`` ``arn:aws:states:::s3:putObject``    ``s3:PutObject`` (+ multipart)
========================================================  =================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kbflow.errors import ConfigurationError

__all__ = ["DYNAMIC", "Needs", "iter_states", "placeholders", "scan"]

PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
DYNAMIC: Final = "<dynamic>"
"""Prefix of a value taken from the state input at run time: ``<dynamic>$.source.bucket``."""

_LAMBDA = "arn:aws:states:::lambda:invoke"
_START = "arn:aws:states:::states:startExecution"
_LIST = "arn:aws:states:::s3:listObjectsV2"
_GET = "arn:aws:states:::s3:getObject"
_PUT = "arn:aws:states:::s3:putObject"


@dataclass
class Needs:
    """What one definition needs; bucket and function values are placeholder names or literals."""

    functions: set[str] = field(default_factory=set)
    """Lambda functions invoked (placeholder names such as ``FetchDocumentFunctionArn``)."""
    executions: set[str] = field(default_factory=set)
    """State machines started asynchronously (placeholder names)."""
    sync_executions: set[str] = field(default_factory=set)
    """State machines started and awaited (``.sync``); also need Describe/Stop + the events rule."""
    distributed_map: bool = False
    """The definition contains a Distributed Map (child executions of itself)."""
    list_buckets: set[str] = field(default_factory=set)
    """ItemReader ListObjectsV2 buckets (placeholder name, literal or :data:`DYNAMIC`)."""
    read_buckets: set[str] = field(default_factory=set)
    """ItemReader GetObject buckets."""
    write_buckets: set[str] = field(default_factory=set)
    """ResultWriter buckets."""


def placeholders(text: str) -> set[str]:
    """Every ``${Name}`` placeholder in a definition's text (names without ``${}``)."""
    return set(PLACEHOLDER.findall(text))


def scan(definition: Mapping[str, Any], *, flow: str = "definition") -> Needs:
    """Walk a definition (nested Parallel branches and Map processors included).

    Args:
        definition: The ASL document as a dict.
        flow: Name used in error messages.

    Returns:
        What the definition needs.

    Raises:
        ConfigurationError: A Task resource or reader/writer this module does not know.
    """
    needs = Needs()
    for pointer, state in _states(definition, ""):
        match state.get("Type"):
            case "Task":
                _task(needs, state, f"{flow}:{pointer}")
            case "Map":
                _map(needs, state, f"{flow}:{pointer}")
            case _:
                pass
    return needs


def iter_states(
    machine: Mapping[str, Any], base: str = ""
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state with its JSON pointer, nested Parallel branches and Map processors included."""
    return _states(machine, base)


def _states(machine: Mapping[str, Any], base: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in machine.get("States", {}).items():
        pointer = f"{base}/States/{name}"
        yield pointer, state
        for i, branch in enumerate(state.get("Branches", [])):
            yield from _states(branch, f"{pointer}/Branches/{i}")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key], f"{pointer}/{key}")


def _args(state: Mapping[str, Any]) -> Mapping[str, Any]:
    value = state.get("Arguments", state.get("Parameters", {}))
    return value if isinstance(value, Mapping) else {}


def _ref(args: Mapping[str, Any], key: str, where: str) -> str:
    """Placeholder name or literal value of ``args[key]``; ``DYNAMIC + path`` for ``key.$``."""
    if f"{key}.$" in args:
        return DYNAMIC + str(args[f"{key}.$"])
    value = args.get(key)
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: {key} must be a string or a ${{...}} placeholder")
    match = PLACEHOLDER.fullmatch(value)
    if match:
        return match.group(1)
    if "{%" in value:
        return DYNAMIC + value  # a JSONata expression
    return value


def _task(needs: Needs, state: Mapping[str, Any], where: str) -> None:
    resource = str(state.get("Resource", ""))
    args = _args(state)
    if resource in (_LAMBDA, f"{_LAMBDA}.waitForTaskToken"):
        target = _ref(args, "FunctionName", where)
        if target.startswith(DYNAMIC):
            raise ConfigurationError(f"{where}: a dynamic FunctionName cannot be scoped in IAM")
        needs.functions.add(target)
    elif resource == _START:
        needs.executions.add(_static(_ref(args, "StateMachineArn", where), where))
    elif resource in (f"{_START}.sync", f"{_START}.sync:2"):
        needs.sync_executions.add(_static(_ref(args, "StateMachineArn", where), where))
    elif match := PLACEHOLDER.fullmatch(resource):
        needs.functions.add(match.group(1))  # "Resource": "${XFunctionArn}" (direct invoke)
    else:
        raise ConfigurationError(f"{where}: no IAM mapping for Task resource {resource!r}")


def _static(target: str, where: str) -> str:
    if target.startswith(DYNAMIC):
        raise ConfigurationError(f"{where}: a dynamic StateMachineArn cannot be scoped in IAM")
    return target


def _map(needs: Needs, state: Mapping[str, Any], where: str) -> None:
    processor = state.get("ItemProcessor", {})
    if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
        needs.distributed_map = True
    reader = state.get("ItemReader")
    if reader:
        resource = reader.get("Resource")
        bucket = _ref(_args(reader), "Bucket", f"{where}/ItemReader")
        if resource == _LIST:
            needs.list_buckets.add(bucket)
        elif resource == _GET:
            needs.read_buckets.add(bucket)
        else:
            raise ConfigurationError(f"{where}: no IAM mapping for ItemReader {resource!r}")
    writer = state.get("ResultWriter")
    if writer and writer.get("Resource"):
        if writer["Resource"] != _PUT:
            raise ConfigurationError(
                f"{where}: no IAM mapping for ResultWriter {writer['Resource']!r}"
            )
        needs.write_buckets.add(_ref(_args(writer), "Bucket", f"{where}/ResultWriter"))
