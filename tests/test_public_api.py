"""Guards the public surface of the ``kbflow`` package (as httpx's test_exported_members does)."""

from __future__ import annotations

import kbflow
from kbflow import errors


def test_all_names_exist_and_are_exported() -> None:
    for name in kbflow.__all__:
        assert hasattr(kbflow, name), name
    public = {n for n in dir(kbflow) if not n.startswith("_")} - {
        "annotations", "errors", "cli", "runtime", "tasks", "workflows", "deploy", "definitions",
    }
    assert public <= set(kbflow.__all__), public - set(kbflow.__all__)


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, kbflow.KbflowError), name


def test_definition_error_lists_every_problem() -> None:
    err = kbflow.DefinitionError(
        [kbflow.Problem("/States/A/Next", "no state named 'B'"),
         kbflow.Problem("", "no terminal state")],
        file="x.asl.json",
    )
    text = str(err)
    assert "x.asl.json" in text and "/States/A/Next: no state named 'B'" in text
    assert "/: no terminal state" in text
    assert len(err.problems) == 2


def test_states_error_carries_name_and_cause() -> None:
    err = kbflow.StatesError("States.Runtime", "boom", state="S")
    assert (err.error, err.cause, err.state) == ("States.Runtime", "boom", "S")
