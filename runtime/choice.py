"""Choice rules of JSONPath states: data-test comparisons and And / Or / Not.

Quoting the ASL spec: "For each of these operators, if the value of the Variable field is not of
the type the comparison operator expects (string, number, boolean, timestamp), the comparison
returns false" — the ``*Path`` operands are read from the input (or context object, or a
variable) and compared the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kbflow.errors import StatesError

from .asl import compare
from .asl.jsonpath import PathNotFound, compile_path
from .asl.model import Combinator, Comparison, Rule

__all__ = ["evaluate_rule"]

JSON = Any

def evaluate_rule(rule: Rule, data: JSON, context: JSON, variables: Mapping[str, JSON]) -> bool:
    """Tell whether a Choice rule matches.

    Args:
        rule: the rule (comparison or combinator).
        data: the Choice state's effective input.
        context: the context object (``$$``).
        variables: the visible workflow variables.

    Returns:
        True when the rule matches.

    Raises:
        StatesError: ``States.Runtime`` when a path the rule needs does not exist.
    """
    if isinstance(rule, Combinator):
        if rule.operator == "And":
            return all(evaluate_rule(r, data, context, variables) for r in rule.rules)
        if rule.operator == "Or":
            return any(evaluate_rule(r, data, context, variables) for r in rule.rules)
        return not evaluate_rule(rule.rules[0], data, context, variables)
    return _compare(rule, data, context, variables)


def _compare(rule: Comparison, data: JSON, context: JSON, variables: Mapping[str, JSON]) -> bool:
    path = compile_path(rule.variable)
    op = rule.operator
    if op == "IsPresent":
        return bool(_is_present(path, data, context, variables) == rule.value)
    value = _condition_value(path, data, context, variables)
    operand = rule.value
    if op.endswith("Path"):
        operand = _condition_value(compile_path(operand), data, context, variables)
    return bool(compare.compare(op, value, operand))


def _condition_value(path: Any, data: JSON, context: JSON,
                     variables: Mapping[str, JSON]) -> JSON:
    # AWS: "Invalid path '$.x': The choice state's condition path references an invalid value."
    try:
        root = data if path.root == "$" else context if path.root == "$$" else variables[path.root]
        return path.get(root)
    except (PathNotFound, KeyError):
        raise StatesError(
            "States.Runtime",
            f"Invalid path '{path.text}': The choice state's condition path references an "
            "invalid value.") from None


def _is_present(path: Any, data: JSON, context: JSON, variables: Mapping[str, JSON]) -> bool:
    try:
        root = data if path.root == "$" else context if path.root == "$$" else variables[path.root]
        found = path.get(root)
    except (PathNotFound, KeyError):
        return False
    return path.is_definite or bool(found)
