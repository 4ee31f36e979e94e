"""The state input/output pipeline, in both query languages.

JSONPath states: ``InputPath`` → ``Parameters`` → (the work) → ``ResultSelector`` → ``Assign``
→ ``ResultPath`` → ``OutputPath``. JSONata states: (the work on ``$states.input``) →
``Assign`` and ``Output``, both evaluated against the variables as they were when the state
started ("Assign and Output are evaluated in parallel").

The expression languages themselves live in :mod:`kbflow.runtime.asl` (jsonpath, templates,
intrinsics, jsonata); this module only wires them to the states and turns their failures into
AWS's errors with AWS's state prefix.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any, Final

from kbflow.errors import StatesError

from .asl import jsonata as jx
from .asl import templates
from .asl.jsonpath import JsonPath, PathNotFound, ResultPathError, compile_path, set_path
from .asl.model import UNSET, Unset

__all__ = [
    "DATA_LIMIT",
    "EvaluationFailed",
    "Pipeline",
    "compile_path_field",
    "data_limit_error",
    "render_jsonata",
    "render_template",
    "resolve_path",
    "state_prefix",
    "use_clock",
]

JSON = Any
DATA_LIMIT: Final = 256 * 1024
"""AWS's payload limit (256 KiB) for state input and output."""

RUNTIME: Final = "States.Runtime"
QUERY: Final = "States.QueryEvaluationError"


class EvaluationFailed(StatesError):
    """A JSONata evaluation failed: AWS records an ``EvaluationFailed`` event for it."""

    def __init__(self, error: str, cause: str | None, *, location: str) -> None:
        super().__init__(error, cause)
        self.location = location


def state_prefix(name: str, entered_id: int) -> str:
    """AWS's cause prefix for errors raised while a state runs."""
    return (f"An error occurred while executing the state '{name}' "
            f"(entered at the event id #{entered_id}). ")


def data_limit_error(name: str) -> StatesError:
    """The error AWS raises when a state's result is larger than 256 KiB."""
    return StatesError(
        "States.DataLimitExceeded",
        f"The state/task '{name}' returned a result with a size exceeding the maximum number "
        "of bytes service limit.",
    )


def compile_path_field(value: str | None | Unset) -> JsonPath | None | Unset:
    """Compile an optional path field, keeping ``None`` (JSON null) and UNSET apart."""
    if value is None or isinstance(value, Unset):
        return value
    return compile_path(value)


def resolve_path(path: JsonPath, data: JSON, context: JSON, variables: Mapping[str, JSON]) -> JSON:
    """Read a path (``$``, ``$$`` or ``$var`` rooted) with AWS's "Invalid path" error."""
    try:
        if path.root == "$":
            return path.get(data)
        if path.root == "$$":
            return path.get(context)
        if path.root not in variables:
            raise PathNotFound(path.text, "$" + path.root + path.normalized[1:])
        return path.get(variables[path.root])
    except PathNotFound as exc:
        raise StatesError(RUNTIME, f"Invalid path '{path.text}' : {exc.detail}") from exc


def render_template(
    template: Any, data: JSON, context: JSON, variables: Mapping[str, JSON], field: str
) -> JSON:
    """Render a compiled ``.$`` payload template (JSONPath states)."""
    return template.render(data, context, variables, field=field)


_NOW_MILLIS: contextvars.ContextVar[Callable[[], int] | None] = contextvars.ContextVar(
    "kbflow_now_millis", default=None)


def use_clock(clock: Any) -> None:
    """Make JSONata's ``$now()``/``$millis()`` read ``clock`` in the current task (and in the
    tasks it creates: branches, iterations). Called when an execution starts."""
    _NOW_MILLIS.set(lambda: int(clock.now().timestamp() * 1000))


def render_jsonata(
    value: JSON, states: Mapping[str, JSON], variables: Mapping[str, JSON], field: str
) -> JSON:
    """Evaluate a JSONata field (``{% %}`` strings anywhere inside ``value``).

    Raises:
        EvaluationFailed: the expression failed or returned nothing.
    """
    failure: EvaluationFailed | None = None
    try:
        return jx.evaluate_template(value, states, variables, field=field,
                                    now_millis=_NOW_MILLIS.get())
    except StatesError as exc:
        failure = EvaluationFailed(exc.error, exc.cause, location=getattr(exc, "location", field))
    except jx.JsonataSyntaxError as exc:
        failure = EvaluationFailed(QUERY, str(exc), location=field)
    # Raised outside the handler so the error carries no chained evaluation traceback.
    raise failure


def place_result(raw: JSON, result: JSON, path: JsonPath | None | Unset) -> JSON:
    """Apply a ``ResultPath``: unset replaces the input, ``null`` keeps the input."""
    if path is UNSET:
        return result
    if path is None:
        return raw
    assert isinstance(path, JsonPath)
    try:
        return set_path(raw, path, result)
    except ResultPathError as exc:
        raise StatesError(RUNTIME, str(exc)) from exc


class Pipeline:
    """The compiled input/output fields of one state.

    Args:
        state: the model state (any type).
        jsonata: the state's effective query language is JSONata.
    """

    __slots__ = (
        "jsonata", "input_path", "parameters", "result_selector", "result_path",
        "output_path", "assign", "output", "has_assign", "has_output",
    )

    def __init__(self, state: Any, *, jsonata: bool) -> None:
        self.jsonata = jsonata
        get = getattr
        self.input_path = compile_path_field(get(state, "input_path", UNSET))
        self.result_path = compile_path_field(get(state, "result_path", UNSET))
        self.output_path = compile_path_field(get(state, "output_path", UNSET))
        params = get(state, "parameters", UNSET)
        selector = get(state, "result_selector", UNSET)
        assign = get(state, "assign", UNSET)
        self.parameters = None if isinstance(params, Unset) else templates.compile_template(params)
        self.result_selector = (
            None if isinstance(selector, Unset) else templates.compile_template(selector)
        )
        self.has_assign = not isinstance(assign, Unset)
        self.assign: Any = assign
        if self.has_assign and not jsonata:
            self.assign = templates.compile_template(assign)
        self.output = get(state, "output", UNSET)
        self.has_output = not isinstance(self.output, Unset)

    # ------------------------------------------------------------------ JSONPath

    def effective_input(self, raw: JSON, context: JSON, variables: Mapping[str, JSON]) -> JSON:
        """``InputPath`` then ``Parameters``."""
        data = self.select_input(raw, context, variables)
        if self.parameters is not None:
            data = self.parameters.render(data, context, variables, field="Parameters")
        return data

    def select_input(self, raw: JSON, context: JSON, variables: Mapping[str, JSON]) -> JSON:
        """``InputPath`` alone (``null`` gives ``{}``)."""
        path = self.input_path
        if path is UNSET:
            return raw
        if path is None:
            return {}
        assert isinstance(path, JsonPath)
        return resolve_path(path, raw, context, variables)

    def select_result(self, result: JSON, context: JSON, variables: Mapping[str, JSON]) -> JSON:
        """``ResultSelector``."""
        if self.result_selector is None:
            return result
        return self.result_selector.render(result, context, variables, field="ResultSelector")

    def place_result(self, raw: JSON, result: JSON) -> JSON:
        """``ResultPath``: unset replaces the input, ``null`` keeps the input."""
        return place_result(raw, result, self.result_path)

    def select_output(self, data: JSON, context: JSON, variables: Mapping[str, JSON]) -> JSON:
        """``OutputPath`` (``null`` gives ``{}``)."""
        path = self.output_path
        if path is UNSET:
            return data
        if path is None:
            return {}
        assert isinstance(path, JsonPath)
        return resolve_path(path, data, context, variables)

    def finish_jsonpath(
        self, raw: JSON, result: JSON, context: JSON, variables: Mapping[str, JSON]
    ) -> tuple[JSON, dict[str, JSON] | None]:
        """``ResultSelector`` → ``Assign`` → ``ResultPath`` → ``OutputPath``."""
        result = self.select_result(result, context, variables)
        assigned = None
        if self.has_assign:
            assigned = self.assign.render(result, context, variables, field="Assign")
        data = self.place_result(raw, result)
        return self.select_output(data, context, variables), assigned

    # ------------------------------------------------------------------ JSONata

    def finish_jsonata(
        self, states: Mapping[str, JSON], default: JSON, variables: Mapping[str, JSON]
    ) -> tuple[JSON, dict[str, JSON] | None]:
        """``Assign`` and ``Output``, both against the variables before this state's Assign."""
        assigned = None
        if self.has_assign:
            assigned = render_jsonata(self.assign, states, variables, "Assign")
        output = default
        if self.has_output:
            output = render_jsonata(self.output, states, variables, "Output")
        return output, assigned
