"""JSONata for JSONata states: compiled expressions, templates and Step Functions' functions.

API summary (for the engine)::

    is_jsonata("{% $states.input.a %}")          # exactly "{%" ... "%}" (no outer spaces)
    expr = compile_expression("$states.input.a") # text inside {% %}; cached; JsonataSyntaxError
                                                 # (an Expression may be used from any thread)
    expr.evaluate(states, variables)             # -> JSON or UNDEFINED (raises JsonataError)
    expr.evaluate_field(states, variables, field="Output")   # -> JSON, AWS errors on failure
    evaluate_template(template, states, variables, field="Arguments")   # objects/arrays walked
    expect_type(value, "array", text, field="Items")          # AWS's result-type check

``states`` is the ``$states`` binding: ``{"input": ..., "context": ..., "result"?: ...,
"errorOutput"?: ...}``; ``variables`` are bound as ``$name``. Randomness (``$random``,
``$uuid``) and time (``$now``, ``$millis``) come from the optional ``rng=``/``now_millis=``
arguments (``now_millis`` is milliseconds or a function returning them, called only when the
expression reads the time), so runs are reproducible under a fake Clock.

Step Functions' extra functions: ``$partition(array, size)``, ``$range(start, end, step)``
(a one-element result collapses to the element, as AWS's sequence does), ``$hash(value,
algorithm)``, ``$random([seed])``, ``$uuid()``, ``$parse(json)``; ``$eval`` is absent.

Failures raise :class:`QueryEvaluationError` (a ``StatesError`` with error
``States.QueryEvaluationError`` and ``.location`` = the field, e.g. ``Output/result``); the
cause is AWS's text after the engine's ``"An error occurred while executing the state ..."``
prefix, e.g. ``The JSONata expression '$x' specified for the field 'Output' returned nothing
(undefined).`` or ``... threw an error during evaluation. T2001: The left side of the +
operator must evaluate to a number``.

Library choice (measured on this machine, CPython 3.11, 2026-11; script-level comparison of
the 38 single-Pass-state corpus cases with feature ``jsonata`` plus a 70-expression probe of
operators, built-ins, errors and numbers):

=====================  =======================================  =========================
                       jsonatapy 2.2 (Rust)                     jsonata-python 0.7
=====================  =======================================  =========================
corpus cases           38/38 match the AWS recordings           38/38
probe (70 expr.)       same values as jsonata-python except     crashes (TypeError) on a
                       the right-hand cells; lacks a working    function-valued result;
                       ``$random`` (kbflow overrides it)        ``$string(1e20)`` gives
                                                                ``1e+20``; overflow raises
error text             ``T2001: The left side ...`` (code       message without the code
                       first, as AWS prints it)
undefined vs null      distinguishable                          distinguishable
extra functions        ``register``/``register_override``       ``register_lambda``
``$a + $x`` evaluate   ~0.8 µs                                  ~16 µs
compile                ~1.4 µs                                  ~40 µs
=====================  =======================================  =========================

jsonatapy wins on both counts and is used; jsonata-python is not imported.
"""

from __future__ import annotations

import atexit
import contextvars
import ctypes
import functools
import hashlib
import inspect
import math
import random
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jsonatapy
from kbflow.errors import KbflowError, StatesError

from .intrinsic_functions import compact, strict_json_loads
from .jsonpath import JSON

__all__ = [
    "UNDEFINED",
    "Expression",
    "JsonataError",
    "JsonataSyntaxError",
    "QueryEvaluationError",
    "compile_expression",
    "evaluate_template",
    "expect_type",
    "is_jsonata",
    "json_type",
    "strip_jsonata",
]

QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"


class _Undefined:
    """JSONata's *undefined* (no value), distinct from JSON ``null``."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()
"""Returned by :meth:`Expression.evaluate` when the expression produced no value."""


class JsonataSyntaxError(KbflowError):
    """The expression text does not parse (a definition problem)."""

    def __init__(self, text: str, message: str) -> None:
        self.text = text
        self.reason = message
        super().__init__(f"invalid JSONata expression {text!r}: {message}")


class JsonataError(KbflowError):
    """Evaluation failed. ``message`` is JSONata's text, e.g. ``T2001: The left side ...``."""

    def __init__(self, text: str, message: str, *, is_function: bool = False) -> None:
        self.text = text
        self.message = message
        self.is_function = is_function
        super().__init__(message)


class QueryEvaluationError(StatesError):
    """``States.QueryEvaluationError`` with the field (``location``) it happened in."""

    def __init__(self, cause: str, *, location: str) -> None:
        self.location = location
        super().__init__(QUERY_EVALUATION_ERROR, cause)


def is_jsonata(value: object) -> bool:
    """True when ``value`` is a string of the form ``{% ... %}`` (nothing outside)."""
    return (
        isinstance(value, str)
        and len(value) >= 4
        and value.startswith("{%")
        and value.endswith("%}")
    )


def strip_jsonata(value: str) -> str:
    """The expression inside ``{% ... %}``, without surrounding whitespace."""
    return value[2:-2].strip()


# --------------------------------------------------------------------------- runtime hooks

_RNG: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar("rng", default=None)
NowMillis = int | Callable[[], int] | None
"""Epoch milliseconds for ``$now``/``$millis``, a function giving them, or None (real time)."""

_NOW: contextvars.ContextVar[NowMillis] = contextvars.ContextVar("now", default=None)
_DEFAULT_RNG: Final = random.Random()
_HOST_PREFIX: Final = re.compile(r"^host function raised \w+: ")
_CODED: Final = re.compile(r"^[A-Z]\d{4}: ")


class _HostError(Exception):
    """Raised inside a registered function; its text becomes the JSONata message."""


def _rng() -> random.Random:
    return _RNG.get() or _DEFAULT_RNG


def _now_millis() -> int:
    now = _NOW.get()
    if now is None:
        return int(time.time() * 1000)
    return now() if callable(now) else now


def _fn_partition(array: Any, size: Any = None) -> Any:
    if not isinstance(array, list):
        array = [array]
    if isinstance(size, bool) or not isinstance(size, int | float) or int(size) != size:
        raise _HostError("D3101: The chunk size argument of $partition must be an integer")
    if size <= 0:
        raise _HostError("D3101: The chunk size argument of $partition must be positive")
    n = int(size)
    return [array[i : i + n] for i in range(0, len(array), n)]


def _fn_range(start: Any, end: Any, step: Any = 1) -> Any:
    for value in (start, end, step):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise _HostError("D3102: The arguments of $range must be integers")
    if step == 0:
        raise _HostError("D3102: The step argument of $range cannot be zero")
    values = list(range(int(start), int(end) + (1 if step > 0 else -1), int(step)))
    if len(values) > 1000:
        raise _HostError("D3102: $range cannot produce more than 1000 items")
    return values[0] if len(values) == 1 else values


_HASHES: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _fn_hash(value: Any, algorithm: Any = "SHA-256") -> Any:
    if algorithm not in _HASHES:
        raise _HostError(
            f"D3103: The hashing algorithm '{algorithm}' is not supported; use one of "
            + ", ".join(_HASHES)
        )
    text = value if isinstance(value, str) else compact(value)
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def _fn_random(seed: Any = None) -> Any:
    if seed is None:
        return _rng().random()
    return random.Random(seed if isinstance(seed, int | float | str) else compact(seed)).random()


def _fn_uuid() -> Any:
    return str(uuid.UUID(int=_rng().getrandbits(128), version=4))


def _fn_parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise _HostError("D3104: The argument of $parse must be a string")
    try:
        return strict_json_loads(text)
    except ValueError:
        raise _HostError(f"D3104: The string '{text}' is not valid JSON") from None


def _fn_eval(*args: Any) -> Any:
    raise _HostError("T1006: Attempted to invoke a non-function")


def _fn_now(picture: Any = None, timezone: Any = None) -> Any:
    millis = _now_millis()
    if picture is None and timezone is None:
        seconds, ms = divmod(millis, 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
    # $now(picture, timezone) is $fromMillis($millis(), picture, timezone).
    if timezone is None:
        return _compiled("$fromMillis($m, $p)").evaluate(None, {"m": millis, "p": picture})
    return _compiled("$fromMillis($m, $p, $t)").evaluate(
        None, {"m": millis, "p": picture, "t": timezone}
    )


def _fn_millis() -> Any:
    return _now_millis()


_EXTRA: Final[dict[str, Callable[..., Any]]] = {
    "partition": _fn_partition,
    "range": _fn_range,
    "hash": _fn_hash,
    "uuid": _fn_uuid,
    "parse": _fn_parse,
}
# jsonatapy knows these names as built-ins; they are replaced when the expression uses them.
_OVERRIDES: Final[dict[str, Callable[..., Any]]] = {
    "random": _fn_random,
    "eval": _fn_eval,
    "now": _fn_now,
    "millis": _fn_millis,
}


# --------------------------------------------------------------------------- Expression


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled JSONata expression. Build with :func:`compile_expression`.

    An Expression holds only its text, so it may be shared between threads: jsonatapy's
    compiled objects are bound to the thread that compiled them (using one elsewhere panics,
    dropping one elsewhere reports an error), so each thread evaluates its own copy from a
    per-thread cache.
    """

    text: str

    def evaluate(
        self,
        states: Mapping[str, JSON],
        variables: Mapping[str, JSON] | None = None,
        *,
        rng: random.Random | None = None,
        now_millis: NowMillis = None,
    ) -> JSON:
        """Evaluate with ``$states`` and the workflow variables bound.

        Returns:
            The value, or :data:`UNDEFINED` when the expression produced nothing.

        Raises:
            JsonataError: evaluation failed (``is_function`` is set when the result was a
                function, which JSON cannot hold).
        """
        bindings = dict(variables) if variables else {}
        bindings["states"] = states
        tokens = (_RNG.set(rng), _NOW.set(now_millis))
        try:
            # No local names the thread-bound object: a traceback must not carry it away.
            try:
                result = _compiled(self.text).evaluate(None, bindings)
            except OverflowError:  # an integer beyond 64 bits: JSONata numbers are doubles
                bindings = _as_doubles(bindings)
                result = _compiled(self.text).evaluate(None, bindings)
            if result is None:
                return self._disambiguate_none(bindings)
            if not _finite(result):
                raise JsonataError(self.text, "D1001: Number out of range")
            return result
        except ValueError as exc:
            raise JsonataError(self.text, _HOST_PREFIX.sub("", str(exc))) from None
        except TypeError as exc:  # a binding that is not JSON (e.g. a tuple)
            raise JsonataError(self.text, f"D1001: {exc}") from None
        finally:
            _RNG.reset(tokens[0])
            _NOW.reset(tokens[1])

    def _disambiguate_none(self, bindings: dict[str, JSON]) -> JSON:
        """``evaluate`` maps null, undefined and functions to None; ask again as JSON text."""
        text = _compiled(self.text).evaluate_json_or_none(None, bindings)
        if text is None:
            return UNDEFINED
        if text == "null":
            return None
        raise JsonataError(self.text, "function result", is_function=True)

    def evaluate_field(
        self,
        states: Mapping[str, JSON],
        variables: Mapping[str, JSON] | None = None,
        *,
        field: str,
        rng: random.Random | None = None,
        now_millis: NowMillis = None,
    ) -> JSON:
        """Evaluate for an ASL field; undefined, function results and errors fail as AWS does.

        Raises:
            QueryEvaluationError: with AWS's cause and ``location == field``.
        """
        try:
            value = self.evaluate(states, variables, rng=rng, now_millis=now_millis)
        except JsonataError as exc:
            raise _evaluation_failure(self.text, field, exc) from None
        if value is UNDEFINED:
            raise QueryEvaluationError(
                f"The JSONata expression '{self.text}' specified for the field '{field}' "
                "returned nothing (undefined).",
                location=field,
            )
        return value


def _evaluation_failure(text: str, field: str, exc: JsonataError) -> QueryEvaluationError:
    head = f"The JSONata expression '{text}' specified for the field '{field}'"
    if exc.is_function:
        return QueryEvaluationError(f"{head} returned an unsupported result type.", location=field)
    separator = ". " if _CODED.match(exc.message) else ": "
    return QueryEvaluationError(
        f"{head} threw an error during evaluation{separator}{exc.message}", location=field
    )


def _finite(value: Any) -> bool:
    """False when a number in the result is infinite or NaN (JSON cannot hold it)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _checked(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Report a call with the wrong number of arguments as JSONata does (T0410)."""

    signature = inspect.signature(func)

    @functools.wraps(func)
    def call(*args: Any) -> Any:
        try:
            signature.bind(*args)
        except TypeError:
            raise _HostError(
                f'T0410: Argument {len(args)} of function "{name}" does not match function '
                "signature"
            ) from None
        return func(*args)

    return call


def _as_doubles(value: Any) -> Any:
    """Copy of ``value`` with integers outside 64 bits turned into floats (JS numbers)."""
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    return value


@functools.lru_cache(maxsize=2048)
def compile_expression(text: str) -> Expression:
    """Compile the text of a JSONata expression (without ``{% %}``), cached.

    The result may be used from any thread (see :class:`Expression`).

    Raises:
        JsonataSyntaxError: the text does not parse.
    """
    _compiled(text)  # check the syntax now (and keep this thread's copy)
    return Expression(text)


THREAD_CACHE_SIZE: Final = 2048
"""Compiled expressions kept per thread (the oldest is dropped first, on its own thread)."""


class _Compiled(dict[str, Any]):
    """One thread's compiled jsonatapy objects, by expression text."""

    __slots__ = ("__weakref__",)


class _ThreadCache(threading.local):
    """The current thread's :class:`_Compiled`.

    It dies with its thread (CPython clears a thread's locals on that thread when it ends),
    so no compiled object is dropped on another thread; see :func:`_keep_running_threads_caches`
    for threads still running at exit.
    """

    def __init__(self) -> None:
        self.compiled = _Compiled()
        _BY_THREAD[threading.get_ident()] = self.compiled


_BY_THREAD: Final[weakref.WeakValueDictionary[int, _Compiled]] = weakref.WeakValueDictionary()
_THREAD_CACHE: Final = _ThreadCache()


@atexit.register
def _keep_running_threads_caches() -> None:
    """Leak, on purpose, the caches of threads still running at exit.

    Daemon threads (an engine that was never closed) are not cleaned up at exit, but module
    teardown would free their caches on this thread, which jsonatapy reports as
    ``RuntimeError: ... is being dropped on another thread``. The process is ending anyway.
    """
    me = threading.get_ident()
    for ident, cache in list(_BY_THREAD.items()):
        if ident != me:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(cache))


def _compiled(text: str) -> Any:
    """This thread's compiled jsonatapy object for ``text`` (compiled on first use)."""
    found = _THREAD_CACHE.compiled.get(text)
    if found is None:
        found = _remember(text, _compile(text))
    return found


def _remember(text: str, compiled: Any) -> Any:
    cache = _THREAD_CACHE.compiled
    if len(cache) >= THREAD_CACHE_SIZE:
        del cache[next(iter(cache))]
    cache[text] = compiled
    return compiled


def _compile(text: str) -> Any:
    try:
        compiled = jsonatapy.compile(text)
    except ValueError as exc:
        message = str(exc).removeprefix("Parse error: ")
        raise JsonataSyntaxError(text, message) from None
    for name, func in _EXTRA.items():
        compiled.register(name, _checked(name, func))
    for name, func in _OVERRIDES.items():
        if f"${name}" in text:
            compiled.register_override(name, _checked(name, func))
    return compiled


# --------------------------------------------------------------------------- templates


def evaluate_template(
    template: JSON,
    states: Mapping[str, JSON],
    variables: Mapping[str, JSON] | None = None,
    *,
    field: str,
    rng: random.Random | None = None,
    now_millis: NowMillis = None,
) -> JSON:
    """Evaluate a JSONata-mode template (Arguments, Output, Assign, ItemSelector, ...).

    Strings that are exactly ``{% ... %}`` are evaluated; objects and arrays are walked
    (locations ``Field/key`` and ``Field[i]``); every other value is taken literally.

    Raises:
        QueryEvaluationError: an expression failed or returned nothing.
        JsonataSyntaxError: an expression does not parse.
    """
    if isinstance(template, str):
        if not is_jsonata(template):
            return template
        expression = compile_expression(strip_jsonata(template))
        return expression.evaluate_field(
            states, variables, field=field, rng=rng, now_millis=now_millis
        )
    if isinstance(template, dict):
        return {
            key: evaluate_template(
                value, states, variables, field=f"{field}/{key}", rng=rng, now_millis=now_millis
            )
            for key, value in template.items()
        }
    if isinstance(template, list):
        return [
            evaluate_template(
                value, states, variables, field=f"{field}[{i}]", rng=rng, now_millis=now_millis
            )
            for i, value in enumerate(template)
        ]
    return template


_TYPE_NAMES: Final = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: JSON) -> str:
    """JSON type name of a value as AWS prints it (``array``, ``boolean``, ``null``, ...)."""
    return _TYPE_NAMES.get(type(value), "object")


def expect_type(value: JSON, expected: str, text: str, *, field: str) -> JSON:
    """Check the type of an evaluated field (e.g. Map ``Items`` must be an ``array``).

    Raises:
        QueryEvaluationError: ``The JSONata expression '<text>' specified for the field
            '<field>' returned an unexpected result type. Expected 'array', but was 'boolean'
            for value: true``.
    """
    actual = json_type(value)
    if actual == expected or (expected == "integer" and _is_integer(value)):
        return value
    raise QueryEvaluationError(
        f"The JSONata expression '{text}' specified for the field '{field}' returned an "
        f"unexpected result type. Expected '{expected}', but was '{actual}' for value: "
        f"{compact(value)}",
        location=field,
    )


def _is_integer(value: JSON) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
