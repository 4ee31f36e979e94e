"""Payload templates of JSONPath states (Parameters, ResultSelector, ItemSelector, Assign).

API summary (for the engine)::

    tpl = compile_template(state["Parameters"])     # once per state; TemplateSyntaxError if bad
    tpl.render(data, context, variables, field="Parameters", rng=rng)   # -> JSON (new value)
    tpl.is_static                                   # True when nothing is dynamic

Keys ending in ``.$`` take a path (``$.x``, ``$$.x``, ``$var.x``) or an intrinsic call; the key
loses its ``.$`` suffix in the output. Objects nested anywhere (also inside arrays) are
expanded; other values are copied literally (literal subtrees are shared between renders, so
callers must not mutate the result in place).

Errors (``StatesError('States.Runtime', cause)``, as :class:`TemplateError` carrying
``.location`` such as ``Parameters/a/x.$``), with AWS's wording after the engine's
``"An error occurred while executing the state ..."`` prefix::

    The JSONPath '$.x' specified for the field 'x.$' could not be found in the input '{"a":1}'

The input is printed as compact JSON (no spaces), non-ASCII characters unescaped.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple, TypeAlias

from kbflow.errors import KbflowError, StatesError

from . import intrinsics
from .jsonpath import JSON, JsonPath, PathNotFound, PathSyntaxError, compile_path, resolve

__all__ = ["Template", "TemplateError", "TemplateSyntaxError", "compile_template"]

_DEFAULT_RNG: Final = random.Random()


class TemplateSyntaxError(KbflowError):
    """A template is invalid (a ``.$`` value that is not a path or an intrinsic call)."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        super().__init__(f"{location}: {message}")


class TemplateError(StatesError):
    """A template failed to render. ``location`` is e.g. ``Parameters/a/x.$``."""

    def __init__(self, error: str, cause: str, *, location: str) -> None:
        self.location = location
        super().__init__(error, cause)


class _Scope(NamedTuple):
    """What one render sees (a NamedTuple: built on every render, so it must be cheap)."""

    data: JSON
    context: JSON
    variables: Mapping[str, JSON] | None
    rng: random.Random
    field: str


Render: TypeAlias = Callable[[_Scope], JSON]


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled payload template. Build with :func:`compile_template`."""

    source: JSON
    is_static: bool
    _render: Render

    def render(
        self,
        data: JSON,
        context: JSON,
        variables: Mapping[str, JSON] | None = None,
        *,
        field: str,
        rng: random.Random | None = None,
    ) -> JSON:
        """Expand the template against the effective input.

        Args:
            data: the state's effective input (what ``$`` refers to).
            context: the context object (``$$``).
            variables: workflow variables visible to the state (``$name``).
            field: the ASL field being rendered (``Parameters``, ``ResultSelector``, ...), used
                in ``TemplateError.location``.
            rng: randomness for ``States.UUID``/``States.MathRandom``.

        Raises:
            TemplateError: a path is missing or an intrinsic function failed.
        """
        if self.is_static:
            return self.source
        return self._render(_Scope(data, context, variables, rng or _DEFAULT_RNG, field))


def compile_template(template: JSON) -> Template:
    """Compile a payload template once (per state).

    Raises:
        TemplateSyntaxError: a ``.$`` key whose value is not a valid path or intrinsic call.
    """
    render = _compile(template, "")
    return Template(template, render is None, render or (lambda scope: template))


def _compile(node: JSON, location: str) -> Render | None:
    """Return a renderer for ``node``, or None when the subtree is static."""
    if isinstance(node, dict):
        return _compile_object(node, location)
    if isinstance(node, list):
        return _compile_array(node, location)
    return None


def _compile_object(node: dict[str, JSON], location: str) -> Render | None:
    entries: list[tuple[str, Render | None, JSON]] = []
    dynamic = False
    for key, value in node.items():
        where = f"{location}/{key}"
        if key.endswith(".$"):
            renderer: Render | None = _compile_dynamic(key, value, where)
            entries.append((key[:-2], renderer, None))
        else:
            renderer = _compile(value, where)
            entries.append((key, renderer, value))
        dynamic = dynamic or renderer is not None
    if not dynamic:
        return None
    frozen = tuple(entries)

    def render_object(scope: _Scope) -> JSON:
        """Render every entry of the object."""
        return {k: (v if r is None else r(scope)) for k, r, v in frozen}

    return render_object


def _compile_array(node: list[JSON], location: str) -> Render | None:
    items = [(_compile(v, f"{location}[{i}]"), v) for i, v in enumerate(node)]
    if all(r is None for r, _ in items):
        return None
    frozen = tuple(items)

    def render_array(scope: _Scope) -> JSON:
        """Render every item of the array."""
        return [v if r is None else r(scope) for r, v in frozen]

    return render_array


def _compile_dynamic(key: str, value: JSON, location: str) -> Render:
    if not isinstance(value, str):
        raise TemplateSyntaxError(location, f"the value of '{key}' must be a string")
    if intrinsics.is_intrinsic(value):
        try:
            call = intrinsics.parse_intrinsic(value)
        except intrinsics.IntrinsicSyntaxError as exc:
            raise TemplateSyntaxError(location, str(exc)) from None
        return _intrinsic_renderer(call, location)
    if not value.startswith("$"):
        raise TemplateSyntaxError(
            location, f"the value of '{key}' must be a JSONPath or an intrinsic function call"
        )
    try:
        path = compile_path(value)
    except PathSyntaxError as exc:
        raise TemplateSyntaxError(location, str(exc)) from None
    return _path_renderer(key, path, location)


def _path_renderer(key: str, path: JsonPath, location: str) -> Render:
    get = path.get
    if path.root == "$":

        def render_data_path(scope: _Scope) -> JSON:
            """``$...``: read the effective input; a missing path fails as AWS words it."""
            try:
                return get(scope.data)
            except PathNotFound:
                raise _missing(key, path, scope, location) from None

        return render_data_path

    def render_path(scope: _Scope) -> JSON:
        """``$$...``/``$var...``: resolve against the context object or a variable."""
        try:
            return resolve(path, scope.data, scope.context, scope.variables)
        except PathNotFound:
            raise _missing(key, path, scope, location) from None

    return render_path


def _missing(key: str, path: JsonPath, scope: _Scope, location: str) -> TemplateError:
    shown = scope.context if path.root == "$$" else scope.data
    cause = (
        f"The JSONPath '{path.text}' specified for the field '{key}' could not be found in "
        f"the input '{intrinsics.compact(shown)}'"
    )
    return TemplateError("States.Runtime", cause, location=scope.field + location)


def _intrinsic_renderer(call: intrinsics.IntrinsicCall, location: str) -> Render:
    def render_call(scope: _Scope) -> JSON:
        """Evaluate the intrinsic; failures gain the field location."""
        try:
            return intrinsics.evaluate(
                call, scope.data, scope.context, scope.variables, rng=scope.rng
            )
        except StatesError as exc:
            raise TemplateError(
                exc.error, exc.cause or "", location=scope.field + location
            ) from None

    return render_call
