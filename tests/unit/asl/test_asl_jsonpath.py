"""AWS Step Functions JSONPath: syntax, definite/indefinite reads, set_path and roots."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kbflow.errors import KbflowError
from kbflow.runtime.asl.jsonpath import (
    PathNotFound,
    PathSyntaxError,
    ResultPathError,
    compile_path,
    resolve,
    set_path,
)

DATA: dict[str, Any] = {
    "a": {"b": [1, 2, {"c": 3}]},
    "space key": "sk",
    "items": [{"x": 1, "b": 2}, {"x": 5}, {"x": 3, "b": "q"}, {"x": "7", "b": None}],
    "n": None,
    "empty": [],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b", [1, 2, {"c": 3}]),
        ("$.a.b[0]", 1),
        ("$.a.b[-1].c", 3),
        ("$['space key']", "sk"),
        ('$["space key"]', "sk"),
        ("$.['a']['b'][1]", 2),
        ("$.n", None),
        ("$.items[3].b", None),
    ],
)
def test_definite_paths_return_the_value(path: str, expected: Any) -> None:
    compiled = compile_path(path)
    assert compiled.is_definite and compiled.is_reference
    assert compiled.get(DATA) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].b", [2, "q", None]),  # items lacking "b" are skipped
        ("$.items[*].x", [1, 5, 3, "7"]),
        ("$.items.*.x", [1, 5, 3, "7"]),
        ("$.a.*", [[1, 2, {"c": 3}]]),
        ("$.items[1:3].x", [5, 3]),
        ("$.items[:2].x", [1, 5]),
        ("$.items[-2:].x", [3, "7"]),
        ("$.items[::2].x", [1, 3]),
        ("$.items[0,2].x", [1, 3]),
        ("$.items[?(@.x > 1)].x", [5, 3]),
        ("$.items[?(@.x >= 3 && @.b == 'q')].x", [3]),
        ("$.items[?(@.x == 1 || @.x == 5)].x", [1, 5]),
        ("$.items[?(@.x != 1)].x", [5, 3, "7"]),
        ("$.items[?(@.x < 3)].x", [1]),
        ("$.items[?(@.x <= 3)].x", [1, 3]),
        ("$.items[?(@.x == '7')].x", ["7"]),
        ("$.items[?(@.x == '5')].x", [5]),  # Jayway: a number equals a string of its value
        ("$.items[?(@.x == 7)].x", ["7"]),
        ("$.items[?(@.x != '5')].x", [1, 3, "7"]),
        ("$.items[?(@.x < '2')].x", []),  # ordering never mixes kinds (1 < '2' is false)
        ("$.items[?(@.b)].x", [1, 3, "7"]),  # existence test
        ("$.items[?(!@.b)].x", [5]),
        ("$.items[?(@.b == null)].x", ["7"]),
        ("$.items[?(@.b == true)].x", []),
        ("$.items[?((@.x > 1) && !(@.x == 5))].x", [3]),
        ("$.items[?(@.x == $.a.b[0])].x", [1]),  # $ inside a filter is the document root
        ("$.items[?(@.b =~ /Q/i)].x", [3]),
        ("$.items[?(@.x =~ /7/)].x", ["7"]),  # regex only matches strings, whole string
        ("$.items[?(@.b =~ /q.+/)].x", []),
        ("$.items[?(@.x in [1, '7'])].x", [1, "7"]),
        ("$.items[?(@.x nin [1, 5])].x", [3, "7"]),
        ("$.items[?(@.x in $.a.b)].x", [1]),
        ("$.items[?(@.nope in [1])].x", []),
        ("$.items[?(@.nope != @.other)].x", [1, 5, 3, "7"]),
        ("$..c", [3]),
        ("$..b", [[1, 2, {"c": 3}], 2, "q", None]),
        ("$.missing[*]", []),
        ("$.empty[*]", []),
        ("$.items[7:9]", []),
    ],
)
def test_indefinite_paths_return_a_list(path: str, expected: Any) -> None:
    compiled = compile_path(path)
    assert not compiled.is_definite and not compiled.is_reference
    assert compiled.get(DATA) == expected


def test_leaf_name_union_merges_into_an_object() -> None:
    compiled = compile_path("$['a','n','nope']")
    assert compiled.is_definite and not compiled.is_reference
    assert compiled.get(DATA) == {"a": DATA["a"], "n": None}


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        ("$.nope", "$['nope']"),
        ("$.a.nope", "$['a']['nope']"),
        ("$.a.b[7]", "$['a']['b'][7]"),
        ("$.a.b[-4]", "$['a']['b'][-4]"),
        ("$.a.b.c", "$['a']['b']['c']"),  # a field of an array
        ("$.a[0]", "$['a'][0]"),  # an index of an object
        ("$.n.x", "$['n']['x']"),  # a field of null
        ("$['space key'].x", "$['space key']['x']"),
    ],
)
def test_missing_definite_path_raises_path_not_found(path: str, normalized: str) -> None:
    with pytest.raises(PathNotFound) as info:
        compile_path(path).get(DATA)
    assert isinstance(info.value, KbflowError)
    assert info.value.path == path
    assert info.value.normalized == normalized
    assert info.value.detail == f"No results for path: {normalized}"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("$.nope.x", "Missing property in path $['nope']"),
        ("$.a.nope.x.y", "Missing property in path $['a']['nope']"),
        ("$.a.a.b", "Missing property in path $['a']['a']"),
        ("$.a.b[0].nope", "No results for path: $['a']['b'][0]['nope']"),
    ],
)
def test_missing_intermediate_property_is_worded_as_jayway(path: str, detail: str) -> None:
    with pytest.raises(PathNotFound) as info:
        compile_path(path).get(DATA)
    assert info.value.detail == detail


@pytest.mark.parametrize(
    "path",
    [
        "",
        "a.b",
        "$.",
        "$[",
        "$[1",
        "$.a[?(@.x >)]",
        "$['a",
        "$[a]",
        "$.a.length()",
        "$..",
        "$[::0]",
        "$[?(@.a =~ /(/)]",
        "$[?(@.a =~ 'x')]",
        "$[?(@.a in [@.b])]",
        "$[?(@.a in [1,)]",
        "$.a b",
        "$[?(1)]",
        "$[1,]",
        "$['a',b]",
        42,
    ],
)
def test_bad_syntax_raises_path_syntax_error(path: Any) -> None:
    with pytest.raises(PathSyntaxError):
        compile_path(path)


def test_compile_is_cached() -> None:
    assert compile_path("$.a.b") is compile_path("$.a.b")


@pytest.mark.parametrize(
    ("text", "root", "expected"),
    [
        ("$.a.b[0]", "$", 1),
        ("$$.Execution.Id", "$$", "arn:x"),
        ("$$", "$$", {"Execution": {"Id": "arn:x"}}),
        ("$var", "var", {"y": [10, 20]}),
        ("$var.y[1]", "var", 20),
        ("$var_2", "var_2", 5),
    ],
)
def test_resolve_picks_the_root(text: str, root: str, expected: Any) -> None:
    context = {"Execution": {"Id": "arn:x"}}
    variables = {"var": {"y": [10, 20]}, "var_2": 5}
    assert compile_path(text).root == root
    assert resolve(text, DATA, context, variables) == expected


def test_resolve_of_an_unknown_variable_raises() -> None:
    with pytest.raises(PathNotFound) as info:
        resolve("$nope.x", DATA, {}, {"var": 1})
    assert info.value.normalized == "$nope['x']"


# --------------------------------------------------------------------------- set_path


def test_set_path_root_replaces_everything() -> None:
    assert set_path(DATA, compile_path("$"), 7) == 7


def test_set_path_creates_missing_objects_without_mutating() -> None:
    before = copy.deepcopy(DATA)
    out = set_path(DATA, compile_path("$.new.deep.er"), {"v": 1})
    assert out["new"] == {"deep": {"er": {"v": 1}}}
    assert before == DATA
    assert out["a"] is DATA["a"]  # untouched branches are shared, not copied


def test_set_path_replaces_existing_values_and_array_items() -> None:
    out = set_path(DATA, compile_path("$.a.b[2].c"), "x")
    assert out["a"]["b"] == [1, 2, {"c": "x"}]
    assert DATA["a"]["b"][2] == {"c": 3}
    assert set_path({"l": [1, 2]}, compile_path("$.l[-1]"), 9) == {"l": [1, 9]}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ("text", "$.x"),
        ({"a": 1}, "$.a.b"),
        ({"a": [1]}, "$.a[3]"),
        ({"a": {}}, "$.a[0]"),
        ({"a": [1]}, "$.a[*]"),
    ],
)
def test_set_path_into_a_non_container_raises(data: Any, path: str) -> None:
    with pytest.raises(ResultPathError) as info:
        set_path(data, compile_path(path), 1)
    assert info.value.error == "States.ResultPathMatchFailure"


def test_set_path_error_names_the_path_and_input() -> None:
    with pytest.raises(ResultPathError) as info:
        set_path({"a": "é"}, compile_path("$.a.b"), 1)
    assert str(info.value) == 'Unable to apply ReferencePath $.a.b to input {"a":"é"}'


_names = st.text(
    alphabet=st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), min_size=1
)


@given(st.lists(_names, min_size=1, max_size=5), st.integers())
def test_set_then_get_round_trips(names: list[str], value: int) -> None:
    path = compile_path("$" + "".join(f"['{n}']" for n in names))
    assert path.get(set_path({}, path, value)) == value


# The reference document of Jayway JsonPath's README (the library AWS's dialect follows).
STORE: dict[str, Any] = {
    "store": {
        "book": [
            {
                "category": "reference",
                "author": "Nigel Rees",
                "title": "Sayings of the Century",
                "price": 8.95,
            },
            {
                "category": "fiction",
                "author": "Evelyn Waugh",
                "title": "Sword of Honour",
                "price": 12.99,
            },
            {
                "category": "fiction",
                "author": "Herman Melville",
                "title": "Moby Dick",
                "isbn": "0-553-21311-3",
                "price": 8.99,
            },
            {
                "category": "fiction",
                "author": "J. R. R. Tolkien",
                "title": "The Lord of the Rings",
                "isbn": "0-395-19395-8",
                "price": 22.99,
            },
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
}
AUTHORS = ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]
BOOKS = STORE["store"]["book"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.store.book[*].author", AUTHORS),
        ("$..author", AUTHORS),
        ("$.store.*", [BOOKS, STORE["store"]["bicycle"]]),
        ("$.store..price", [8.95, 12.99, 8.99, 22.99, 19.95]),
        ("$..book[2]", [BOOKS[2]]),
        ("$..book[-2]", [BOOKS[2]]),
        ("$..book[0,1]", BOOKS[:2]),
        ("$..book[:2]", BOOKS[:2]),
        ("$..book[1:2]", BOOKS[1:2]),
        ("$..book[-2:]", BOOKS[2:]),
        ("$..book[2:]", BOOKS[2:]),
        ("$..book[?(@.isbn)]", BOOKS[2:]),
        ("$.store.book[?(@.price < 10)]", [BOOKS[0], BOOKS[2]]),
        ("$..book[?(@.price <= $['expensive'])]", [BOOKS[0], BOOKS[2]]),
        ("$..book[?(@.author =~ /.*REES/i)]", [BOOKS[0]]),
        ("$.store.book[?(@.category in ['reference'])].title", ["Sayings of the Century"]),
    ],
)
def test_jayway_readme_examples(path: str, expected: Any) -> None:
    assert compile_path(path).get(STORE) == expected


SCAN_DOC: dict[str, Any] = {
    "k": 0,
    "l": [{"k": 1, "x": "a"}, {"x": "b"}, [{"k": 2, "x": "c"}], 5],
    "o": {"k": 3, "m": {"x": "d"}},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # A filter scan tests every object once (itself included), never twice.
        ("$..[?(@.k)]", [SCAN_DOC, SCAN_DOC["l"][0], SCAN_DOC["l"][2][0], SCAN_DOC["o"]]),
        ("$..[?(@.k > 1)].x", ["c"]),
        ("$..[0]", [SCAN_DOC["l"][0], SCAN_DOC["l"][2][0]]),
        # Jayway quirk: a non-final index under '..' applies the rest to every element.
        ("$..[0].x", ["a", "b", "c"]),
        ("$..x", ["a", "b", "c", "d"]),
        ("$..['k','x']", [{"k": 1, "x": "a"}, {"k": 2, "x": "c"}]),
        ("$..['k','x'].y", []),
        ("$..*.x", ["a", "b", "c", "d"]),
    ],
)
def test_deep_scan_follows_jayway(path: str, expected: Any) -> None:
    assert compile_path(path).get(SCAN_DOC) == expected


def test_jayway_readme_deep_wildcard_counts_every_node() -> None:
    # store + expensive, book + bicycle, 4 books, 18 book fields, 2 bicycle fields = 28
    assert len(compile_path("$..*").get(STORE)) == 28
