"""Fuzzing: arbitrary text never escapes the parsers as anything but their syntax errors."""

from __future__ import annotations

import contextlib
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kbflow.errors import KbflowError, StatesError
from kbflow.runtime.asl.intrinsics import IntrinsicSyntaxError, evaluate, parse_intrinsic
from kbflow.runtime.asl.jsonpath import PathNotFound, PathSyntaxError, compile_path

_path_alphabet = st.sampled_from(list("$@.[]*?()'\"ab0123-:,!=<>&|/ ~\\"))
_path_text = st.lists(_path_alphabet, max_size=25).map("".join)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner),
    max_leaves=8,
)


@settings(max_examples=150)
@given(_path_text, _json)
def test_paths_fail_only_with_path_errors(text: str, data: Any) -> None:
    try:
        path = compile_path("$" + text)
    except PathSyntaxError:
        return
    try:
        result = path.get(data)
    except PathNotFound:
        assert path.is_definite
        return
    if not path.is_definite:
        assert isinstance(result, list)


_call_alphabet = st.sampled_from(
    ["States.", "Array", "Format", "MathAdd", "(", ")", ",", " ", "'", "\\", "{}", "$.a", "1", "-"]
)


@settings(max_examples=150)
@given(st.lists(_call_alphabet, max_size=12).map("".join))
def test_intrinsics_fail_only_with_their_errors(text: str) -> None:
    try:
        call = parse_intrinsic(text)
    except IntrinsicSyntaxError:
        return
    try:
        evaluate(call, {"a": 1}, {}, {}, rng=random.Random(0))
    except StatesError as exc:
        assert exc.error == "States.Runtime"


@given(st.text(max_size=40))
def test_any_text_is_handled(text: str) -> None:
    for parse in (compile_path, parse_intrinsic):
        with contextlib.suppress(KbflowError):
            parse(text)
