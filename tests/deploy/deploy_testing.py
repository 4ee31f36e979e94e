"""Helpers for the deploy tests; :func:`prune` fits the template to moto's CloudFormation.

moto implements a subset of resource types; an unsupported type is skipped with a warning and
anything reading its attributes fails. :func:`prune` removes unsupported resources and, until
nothing changes, every resource and output that references a removed one. What was removed is
returned so tests can document (and assert) the gap.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from moto.cloudformation.parsing import get_model_map

_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def references(value: Any) -> set[str]:
    """Logical ids a template fragment references (Ref, GetAtt, Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= set(_SUB_REF.findall(text))
                if not isinstance(item, str):
                    found |= references(item[1])
            elif key == "DependsOn":
                found |= set(item if isinstance(item, list) else [item])
            else:
                found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def prune(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``template`` without what moto cannot create.

    Returns:
        ``(pruned template, {removed logical id: reason})``.
    """
    out = copy.deepcopy(template)
    supported = set(get_model_map())
    resources: dict[str, Any] = out["Resources"]
    removed = {
        lid: f"unsupported type {r['Type']}"
        for lid, r in resources.items()
        if r["Type"] not in supported
    }
    changed = True
    while changed:
        changed = False
        for lid in list(resources):
            if lid in removed:
                resources.pop(lid)
                continue
            gone = references(resources[lid]) & set(removed)
            if gone:
                removed[lid] = f"references {sorted(gone)}"
                changed = True
    out["Outputs"] = {k: v for k, v in out["Outputs"].items() if not references(v) & set(removed)}
    return out, removed


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    """Resources of one CloudFormation type, by logical id."""
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}
