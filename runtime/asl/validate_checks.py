"""kbflow's semantic checks of an ASL definition (what a JSON Schema cannot say).

Run after the structural JSON Schema (``asl.schema.json``) on any JSON value; they are
defensive, so a malformed document yields schema problems, not crashes. Every problem carries a
JSON pointer (RFC 6901) and ``source="kbflow"``. Checked:

- graph: ``StartAt``/``Next``/``Default``/``Catch[].Next`` name a state of the same scope (a
  Parallel branch or Map processor is its own scope); every state is reachable from
  ``StartAt``; each scope has a terminal state; state names are unique in the machine;
- transitions: a Task/Pass/Wait/Parallel/Map state has exactly one of ``Next`` and
  ``"End": true``;
- errors: ``States.ALL`` appears alone in its ``ErrorEquals`` and only in the last retrier or
  catcher (spec: "The reserved name States.ALL ... MUST appear alone in its ErrorEquals array
  and MUST appear in the last Retrier/Catcher");
- query languages: JSONPath-only fields in JSONata states and the reverse, a JSONPath state
  under a JSONata machine, JSONata expressions where JSONPath needs a number;
- field combinations AWS rejects: ``X`` with ``XPath``, Wait with not exactly one duration,
  ``HeartbeatSeconds`` not below ``TimeoutSeconds``, Map with both or neither of ``Iterator``/
  ``ItemProcessor``, ``Parameters`` with ``ItemSelector``, Distributed Map fields in an inline
  Map, choice rules with no or several comparisons;
- ``${...}`` placeholders (CloudFormation ``DefinitionSubstitutions``) are well formed;
- every ``{% ... %}`` expression of a JSONata state parses (AWS checks JSONata syntax when a
  state machine is created; parsed with ``jsonata-python``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kbflow.errors import Problem

__all__ = ["semantic_problems"]

_TRANSITIONING: Final = frozenset({"Task", "Pass", "Wait", "Parallel", "Map"})
_TERMINAL_TYPES: Final = frozenset({"Succeed", "Fail"})
_JSONPATH_ONLY: Final = (
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)
_JSONATA_ONLY: Final = ("Arguments", "Output", "Items")
_EXCLUSIVE: Final = (
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("Parameters", "ItemSelector"),
)
_NUMERIC_IN_JSONPATH: Final = (
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
)
# AWS accepts ToleratedFailure* on inline maps (recorded conformance cases), so only these:
_DISTRIBUTED_ONLY: Final = ("ItemReader", "ItemBatcher", "ResultWriter", "Label")
_COMBINATORS: Final = ("And", "Or", "Not")
_RULE_META: Final = frozenset(
    {"Next", "Comment", "Assign", "Output", "Variable", "Condition", *_COMBINATORS}
)
_NESTED: Final = frozenset({"ItemProcessor", "Iterator", "Branches"})
_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}?")
_PLACEHOLDER_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ALL: Final = "States.ALL"


def escape(token: str) -> str:
    """Escape one JSON pointer reference token (RFC 6901: ``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class _Scope:
    pointer: str
    """Pointer of the object holding ``StartAt``/``States`` ("" for the machine)."""
    graph: Mapping[str, Any]
    states: Mapping[str, Any]


def semantic_problems(definition: Any) -> list[Problem]:
    """Run every semantic check on ``definition``.

    Args:
        definition: A parsed ASL document (any JSON value; non-objects yield no problems,
            the schema reports them).

    Returns:
        Every problem found, in document order per check.
    """
    if not isinstance(definition, Mapping):
        return []
    machine_ql = definition.get("QueryLanguage", "JSONPath")
    scopes = list(_scopes("", definition))
    problems = [*_unique_names(scopes), *_placeholders("", definition)]
    for scope in scopes:
        problems += _graph(scope)
        for name, state in scope.states.items():
            if isinstance(state, Mapping):
                ptr = f"{scope.pointer}/States/{escape(name)}"
                problems += _state(ptr, state, machine_ql)
    return problems


def _scopes(pointer: str, graph: Mapping[str, Any]) -> Iterator[_Scope]:
    states = graph.get("States")
    if not isinstance(states, Mapping):
        return
    yield _Scope(pointer, graph, states)
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        base = f"{pointer}/States/{escape(name)}"
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), Mapping):
                yield from _scopes(f"{base}/{key}", state[key])
        branches = state.get("Branches")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                if isinstance(branch, Mapping):
                    yield from _scopes(f"{base}/Branches/{i}", branch)


def _unique_names(scopes: list[_Scope]) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for scope in scopes:
        for name in scope.states:
            ptr = f"{scope.pointer}/States/{escape(name)}"
            if name in seen:
                yield Problem(
                    ptr,
                    f"state name {name!r} is already used at {seen[name]}; "
                    "state names must be unique in the whole state machine",
                )
            else:
                seen[name] = ptr


def _transitions(ptr: str, state: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(pointer, target) for every transition out of a state."""
    for key in ("Next", "Default"):
        if key in state:
            yield f"{ptr}/{key}", state[key]
    for key in ("Choices", "Catch"):
        items = state.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and "Next" in item:
                    yield f"{ptr}/{key}/{i}/Next", item["Next"]


def _graph(scope: _Scope) -> list[Problem]:
    states, problems = scope.states, []
    start = scope.graph.get("StartAt")
    if isinstance(start, str) and start not in states:
        problems.append(
            Problem(
                f"{scope.pointer}/StartAt",
                f"StartAt names {start!r}, which is not a state in this scope",
            )
        )
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        edges[name] = []
        for where, target in _transitions(f"{scope.pointer}/States/{escape(name)}", state):
            if isinstance(target, str) and target in states:
                edges[name].append(target)
            elif isinstance(target, str):
                problems.append(Problem(where, f"no state named {target!r} in this scope"))
    problems += _unreachable(scope, edges, start)
    if states and not any(_is_terminal(s) for s in states.values()):
        problems.append(
            Problem(f"{scope.pointer}/States", 'no terminal state (Succeed, Fail or "End": true)')
        )
    return problems


def _unreachable(scope: _Scope, edges: Mapping[str, list[str]], start: Any) -> Iterator[Problem]:
    if not isinstance(start, str) or start not in edges:
        return
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for name in scope.states:
        if name not in seen:
            yield Problem(
                f"{scope.pointer}/States/{escape(name)}",
                f"state {name!r} is not reachable from StartAt",
            )


def _is_terminal(state: Any) -> bool:
    return isinstance(state, Mapping) and (
        state.get("Type") in _TERMINAL_TYPES or state.get("End") is True
    )


def _state(ptr: str, state: Mapping[str, Any], machine_ql: str) -> list[Problem]:
    problems = [*_next_or_end(ptr, state), *_error_lists(ptr, state), *_exclusive(ptr, state)]
    problems += _query_language(ptr, state, machine_ql)
    if state.get("QueryLanguage", machine_ql) == "JSONata":
        problems += _jsonata_syntax(ptr, {k: v for k, v in state.items() if k not in _NESTED})
    kind = state.get("Type")
    if kind == "Wait":
        problems += _wait(ptr, state)
    elif kind == "Task":
        problems += _heartbeat(ptr, state)
    elif kind == "Map":
        problems += _map(ptr, state)
    elif kind == "Choice":
        problems += _choices(ptr, state)
    return problems


def _next_or_end(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    if state.get("Type") not in _TRANSITIONING:
        return
    has_next, ends = "Next" in state, state.get("End") is True
    if has_next and ends:
        yield Problem(f"{ptr}/End", "End and Next are mutually exclusive")
    elif not has_next and not ends:
        yield Problem(ptr, f'a {state["Type"]} state needs Next or "End": true')


def _error_lists(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    for key in ("Retry", "Catch"):
        items = state.get(key)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            names = item.get("ErrorEquals") if isinstance(item, Mapping) else None
            if not isinstance(names, list) or ALL not in names:
                continue
            where = f"{ptr}/{key}/{i}/ErrorEquals"
            if len(names) > 1:
                yield Problem(where, f"{ALL} must appear alone in ErrorEquals, got {names}")
            if i != len(items) - 1:
                yield Problem(
                    where,
                    f"a {'retrier' if key == 'Retry' else 'catcher'} with "
                    f"{ALL} must be the last one in {key}",
                )


def _exclusive(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    for a, b in _EXCLUSIVE:
        if a in state and b in state:
            yield Problem(f"{ptr}/{b}", f"{a} and {b} are mutually exclusive")


def _query_language(ptr: str, state: Mapping[str, Any], machine_ql: str) -> list[Problem]:
    ql = state.get("QueryLanguage", machine_ql)
    if machine_ql == "JSONata" and ql == "JSONPath":
        return [
            Problem(
                f"{ptr}/QueryLanguage",
                "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
            )
        ]
    if ql == "JSONata":
        return list(_jsonata_state(ptr, state))
    if ql == "JSONPath":
        return list(_jsonpath_state(ptr, state))
    return []


def _jsonata_state(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    for key in _JSONPATH_ONLY:
        if key in state:
            yield Problem(
                f"{ptr}/{key}", f"{key} is a JSONPath field; not allowed in a JSONata state"
            )
    for i, catcher in _items(state, "Catch"):
        if "ResultPath" in catcher:
            yield Problem(
                f"{ptr}/Catch/{i}/ResultPath",
                "ResultPath is a JSONPath field; a JSONata catcher uses Output/Assign",
            )
    for i, rule in _items(state, "Choices"):
        if "Condition" not in rule:
            yield Problem(f"{ptr}/Choices/{i}", "a JSONata choice rule needs a Condition")
    yield from _sub_fields(ptr, state, "Parameters", ("ItemReader", "ResultWriter"))
    for key in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
        if isinstance(state.get("ItemBatcher"), Mapping) and key in state["ItemBatcher"]:
            yield Problem(f"{ptr}/ItemBatcher/{key}", f"{key} is not allowed in a JSONata state")


def _jsonpath_state(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    for key in _JSONATA_ONLY:
        if key in state:
            yield Problem(
                f"{ptr}/{key}", f"{key} is a JSONata field; not allowed in a JSONPath state"
            )
    for i, catcher in _items(state, "Catch"):
        if "Output" in catcher:
            yield Problem(
                f"{ptr}/Catch/{i}/Output",
                "Output is a JSONata field; a JSONPath catcher uses ResultPath",
            )
    for i, rule in _items(state, "Choices"):
        if "Condition" in rule:
            yield Problem(
                f"{ptr}/Choices/{i}/Condition",
                "Condition is a JSONata field; a JSONPath choice rule uses Variable",
            )
    for key in _NUMERIC_IN_JSONPATH:
        if isinstance(state.get(key), str):
            yield Problem(
                f"{ptr}/{key}",
                f"{key} must be a number in a JSONPath state "
                f"(use {key}Path for a value from the input)",
            )
    yield from _sub_fields(ptr, state, "Arguments", ("ItemReader", "ResultWriter"))


def _sub_fields(
    ptr: str, state: Mapping[str, Any], key: str, blocks: tuple[str, ...]
) -> Iterator[Problem]:
    for block in blocks:
        if isinstance(state.get(block), Mapping) and key in state[block]:
            yield Problem(
                f"{ptr}/{block}/{key}",
                f"{block}.{key} does not match the state's "
                "QueryLanguage (Parameters: JSONPath, Arguments: JSONata)",
            )


def _items(state: Mapping[str, Any], key: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    items = state.get(key)
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                yield i, item


def _wait(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in state]
    if len(given) != 1:
        yield Problem(
            ptr,
            "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, "
            f"TimestampPath, got {given or 'none'}",
        )


def _heartbeat(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    beat, timeout = state.get("HeartbeatSeconds"), state.get("TimeoutSeconds", 99999999)
    if isinstance(beat, int) and isinstance(timeout, int) and beat >= timeout:
        yield Problem(
            f"{ptr}/HeartbeatSeconds",
            f"HeartbeatSeconds ({beat}) must be smaller than TimeoutSeconds ({timeout})",
        )


def _map(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    has = [k for k in ("ItemProcessor", "Iterator") if k in state]
    if len(has) != 1:
        yield Problem(
            ptr, f"a Map state needs exactly one of ItemProcessor and Iterator, got {has or 'none'}"
        )
    processor = state.get("ItemProcessor", state.get("Iterator"))
    config = processor.get("ProcessorConfig", {}) if isinstance(processor, Mapping) else {}
    mode = config.get("Mode", "INLINE") if isinstance(config, Mapping) else "INLINE"
    if mode == "DISTRIBUTED":
        if isinstance(config, Mapping) and "ExecutionType" not in config:
            yield Problem(
                f"{ptr}/{has[0] if has else 'ItemProcessor'}/ProcessorConfig",
                "a DISTRIBUTED Map needs ProcessorConfig.ExecutionType (STANDARD or EXPRESS)",
            )
        return
    for key in _DISTRIBUTED_ONLY:
        if key in state:
            yield Problem(
                f"{ptr}/{key}",
                f"{key} is only allowed in a DISTRIBUTED Map (ItemProcessor.ProcessorConfig.Mode)",
            )


def _choices(ptr: str, state: Mapping[str, Any]) -> Iterator[Problem]:
    for i, rule in _items(state, "Choices"):
        yield from _rule(f"{ptr}/Choices/{i}", rule)


def _rule(ptr: str, rule: Mapping[str, Any]) -> Iterator[Problem]:
    if "Condition" in rule:
        return
    combinators = [k for k in _COMBINATORS if k in rule]
    operators = [k for k in rule if k not in _RULE_META]
    if combinators:
        if len(combinators) > 1 or operators or "Variable" in rule:
            yield Problem(
                ptr,
                "a choice rule is either one of And/Or/Not or one comparison, "
                f"got {combinators + operators}",
            )
        for key in combinators:
            nested = rule[key] if key != "Not" else [rule[key]]
            for j, sub in enumerate(nested if isinstance(nested, list) else []):
                if isinstance(sub, Mapping):
                    where = f"{ptr}/{key}" + ("" if key == "Not" else f"/{j}")
                    yield from _rule(where, sub)
        return
    if "Variable" not in rule:
        yield Problem(
            ptr, "a choice rule needs Variable and one comparison, And, Or, Not or Condition"
        )
    elif len(operators) != 1:
        yield Problem(
            ptr, f"a choice rule needs exactly one comparison operator, got {operators or 'none'}"
        )


def _placeholders(ptr: str, value: Any) -> Iterator[Problem]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _placeholder_string(f"{ptr}/{escape(str(key))}", str(key))
            yield from _placeholders(f"{ptr}/{escape(str(key))}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _placeholders(f"{ptr}/{i}", item)
    elif isinstance(value, str):
        yield from _placeholder_string(ptr, value)


def _placeholder_string(ptr: str, text: str) -> Iterator[Problem]:
    for match in _PLACEHOLDER.finditer(text):
        closed = match.group(0).endswith("}")
        if not closed or not _PLACEHOLDER_NAME.fullmatch(match.group(1)):
            yield Problem(
                ptr,
                f"malformed placeholder {match.group(0)!r}: expected ${{Name}} with "
                "a name of letters, digits and underscores",
            )


def _jsonata_syntax(ptr: str, value: Any) -> Iterator[Problem]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _jsonata_syntax(f"{ptr}/{escape(str(key))}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _jsonata_syntax(f"{ptr}/{i}", item)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("{%") and text.endswith("%}"):
            error = _jsonata_error(text[2:-2])
            if error:
                yield Problem(ptr, f"invalid JSONata expression: {error}")


@functools.lru_cache(maxsize=1024)
def _jsonata_error(expression: str) -> str | None:
    """The parse error of a JSONata expression, or ``None`` (also when no parser is installed)."""
    try:
        import jsonata
    except ImportError:  # optional: jsonata-python is a kbflow dependency, but checks degrade
        return None
    try:
        jsonata.Jsonata(expression)
    except Exception as exc:  # noqa: BLE001 - the parser raises several unrelated types
        return str(exc) or type(exc).__name__
    return None
