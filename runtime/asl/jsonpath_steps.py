"""The steps of a compiled JSONPath and how they select nodes (used by :mod:`.jsonpath`).

A path compiles to a tuple of frozen steps (:class:`Field`, :class:`Index`, :class:`Wildcard`,
:class:`Slice`, :class:`Union`, :class:`Filter`, :class:`Scan`). :func:`select_all` applies
them with indefinite semantics: every step maps the current node list to the next one, in
document order, silently skipping nodes where a step does not apply (Jayway's behaviour for
indefinite paths). Deep scans (``..``) follow Jayway's ``ScanPathToken`` walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "Field",
    "Filter",
    "Index",
    "Scan",
    "Slice",
    "Step",
    "Union",
    "Wildcard",
    "select_all",
]

JSON: TypeAlias = Any


@dataclass(frozen=True, slots=True)
class Field:
    """``.name`` or ``['name']``."""

    name: str

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return f"['{self.name}']"


@dataclass(frozen=True, slots=True)
class Index:
    """``[n]`` (negative counts from the end)."""

    index: int

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return f"[{self.index}]"


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``[*]`` or ``.*``: every element of an array or every value of an object."""

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return "[*]"


@dataclass(frozen=True, slots=True)
class Slice:
    """``[start:end:step]``."""

    start: int | None
    end: int | None
    step: int | None

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        parts = ["" if v is None else str(v) for v in (self.start, self.end)]
        tail = "" if self.step is None else f":{self.step}"
        return f"[{parts[0]}:{parts[1]}{tail}]"


@dataclass(frozen=True, slots=True)
class Union:
    """``[0,2]`` (indices) or ``['a','b']`` (names)."""

    keys: tuple[str | int, ...]

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return "[" + ",".join(f"'{k}'" if isinstance(k, str) else str(k) for k in self.keys) + "]"


@dataclass(frozen=True, slots=True)
class Filter:
    """``[?(<predicate>)]``."""

    source: str
    predicate: Callable[[JSON, JSON], bool]

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return f"[?({self.source})]"


@dataclass(frozen=True, slots=True)
class Scan:
    """``..`` followed by one selector, applied to the node and all its descendants."""

    selector: Field | Index | Wildcard | Slice | Union | Filter
    leaf: bool = True
    """Whether the selector is the path's last step (Jayway scans arrays differently)."""

    def text(self) -> str:
        """Jayway's normalised rendering of this step."""
        return ".." + self.selector.text()


Step: TypeAlias = Field | Index | Wildcard | Slice | Union | Filter | Scan


def select_all(node: JSON, steps: tuple[Step, ...], i: int, root: JSON) -> list[JSON]:
    """Every match of ``steps[i:]`` under ``node`` in document order (indefinite semantics)."""
    nodes = [node]
    for step in steps[i:]:
        selected: list[JSON] = []
        for current in nodes:
            _collect(current, step, root, selected)
        if not selected:
            return selected
        nodes = selected
    return nodes


def _collect(node: JSON, step: Step, root: JSON, out: list[JSON]) -> None:
    """Append the nodes one step selects from ``node``; missing children are skipped."""
    if isinstance(step, Field):
        if type(node) is dict and step.name in node:
            out.append(node[step.name])
    elif isinstance(step, Index):
        if type(node) is list and -len(node) <= step.index < len(node):
            out.append(node[step.index])
    elif isinstance(step, Wildcard):
        _collect_children(node, out)
    elif isinstance(step, Slice):
        if type(node) is list:
            out.extend(node[step.start : step.end : step.step])
    elif isinstance(step, Union):
        _collect_union(node, step, out)
    elif isinstance(step, Filter):
        _collect_filter(node, step, root, out)
    else:
        _collect_scan(node, step, root, out)


def _collect_children(node: JSON, out: list[JSON]) -> None:
    if type(node) is dict:
        out.extend(node.values())
    elif type(node) is list:
        out.extend(node)


def _collect_union(node: JSON, step: Union, out: list[JSON]) -> None:
    for key in step.keys:
        if isinstance(key, str):
            if type(node) is dict and key in node:
                out.append(node[key])
        elif type(node) is list and -len(node) <= key < len(node):
            out.append(node[key])


def _collect_filter(node: JSON, step: Filter, root: JSON, out: list[JSON]) -> None:
    # Jayway applies a filter to each element of an array, or to an object itself.
    if type(node) is list:
        out.extend(item for item in node if step.predicate(item, root))
    elif type(node) is dict and step.predicate(node, root):
        out.append(node)


def _collect_scan(node: JSON, scan: Scan, root: JSON, out: list[JSON]) -> None:
    """Deep scan in document (pre-)order, as Jayway's ``ScanPathToken`` walks.

    Only objects and arrays are visited. An object is offered to name, wildcard and filter
    selectors (a filter keeps the object itself); an array to index, slice, wildcard and
    filter selectors. When an index/slice selector is *not* the last step, Jayway applies the
    rest of the path to every element of every array; that quirk is kept.
    """
    if type(node) is dict:
        _scan_object(node, scan, root, out)
        children: Iterable[JSON] = node.values()
    elif type(node) is list:
        _scan_array(node, scan, root, out)
        children = node
    else:
        return
    for child in children:
        if type(child) is dict or type(child) is list:
            _collect_scan(child, scan, root, out)


def _scan_object(node: dict[str, JSON], scan: Scan, root: JSON, out: list[JSON]) -> None:
    selector = scan.selector
    if isinstance(selector, Filter):
        if selector.predicate(node, root):
            out.append(node)
    elif isinstance(selector, Field | Wildcard):
        _collect(node, selector, root, out)
    elif isinstance(selector, Union) and not _is_index_union(selector):
        if not scan.leaf:
            _collect_union(node, selector, out)
        elif all(k in node for k in selector.keys):  # a leaf name union merges, as Jayway
            out.append({k: node[k] for k in selector.keys if isinstance(k, str)})


def _scan_array(node: list[JSON], scan: Scan, root: JSON, out: list[JSON]) -> None:
    selector = scan.selector
    if isinstance(selector, Wildcard):
        out.extend(node)
    elif isinstance(selector, Filter):
        if selector.predicate(node, root):  # Jayway first tests the array itself
            _collect_filter(node, selector, root, out)
    elif isinstance(selector, Index | Slice) or (
        isinstance(selector, Union) and _is_index_union(selector)
    ):
        if scan.leaf:
            _collect(node, selector, root, out)
        else:
            out.extend(node)


def _is_index_union(step: Union) -> bool:
    return all(isinstance(k, int) for k in step.keys)
