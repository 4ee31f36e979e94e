"""Named task errors, whose class ``__name__`` is the AWS-style error string.

The Lambda Python runtime reports ``type(exc).__name__`` as ``errorType`` and the flows'
``Retry``/``Catch`` blocks match on that string, so every error a task can raise on purpose is a
class literally named ``Kbflow.Something`` (a dotted name, which ``type()`` allows)::

    KbflowError                        (kbflow.errors)
    └── TaskError                      error_name, cause; base of every named task error
        ├── Kbflow.UnsupportedMediaType  the content is of a type kbflow cannot extract
        ├── Kbflow.DocumentTooLarge      bytes, pages or decompressed size over a limit
        ├── Kbflow.ExtractionFailed      the document is corrupt or a parser failed on it
        ├── Kbflow.EmptyDocument         extraction succeeded but found no text
        ├── Kbflow.SourceAccessDenied    a source object is unreadable or outside its root
        ├── Kbflow.TransientStoreError   a store failed in a way worth retrying
        ├── Kbflow.InvalidInput          a task payload is malformed
        ├── Kbflow.FetchFailed           an HTTP fetch failed (status, redirects, robots.txt)
        │   └── Kbflow.TransientFetchError  429/502/503/504, timeout or network error: retry
        └── Kbflow.InvalidDecision       a review decision is malformed or not allowed

Use them like ordinary classes under their Python names (``__qualname__`` stays the Python
name, so instances pickle across worker processes)::

    raise UnsupportedMediaType("zip archive is not a supported document", media_type="...")

and map a name back to its class with :func:`by_name`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

from kbflow.errors import KbflowError

__all__ = [
    "ERROR_NAMES",
    "DocumentTooLarge",
    "EmptyDocument",
    "ExtractionFailed",
    "FetchFailed",
    "TransientFetchError",
    "InvalidDecision",
    "InvalidInput",
    "SourceAccessDenied",
    "TaskError",
    "TransientStoreError",
    "UnsupportedMediaType",
    "by_name",
]


class TaskError(KbflowError):
    """Base of the named task errors.

    Attributes:
        error_name: The AWS-style error string (equal to ``type(self).__name__``).
        cause: A one-sentence human-readable reason (what went wrong and what was received).
        details: Structured, non-sensitive context (sizes, media types, page numbers).
    """

    error_name: ClassVar[str] = "Kbflow.TaskError"
    retryable: ClassVar[bool] = False

    def __init__(self, cause: str, **details: Any) -> None:
        self.cause = cause
        self.details: dict[str, Any] = dict(details)
        super().__init__(cause)

    @property
    def error(self) -> str:
        """The error name, as Step Functions shows it in ``Error`` (same as ``error_name``)."""
        return self.error_name

    def to_failure(self) -> dict[str, str]:
        """Return the ``{"Error", "Cause"}`` pair Step Functions shows for this failure."""
        return {"Error": self.error_name, "Cause": self.cause}


_T = TypeVar("_T", bound=type[TaskError])


def _named(name: str) -> Callable[[_T], _T]:
    """Class decorator: give a :class:`TaskError` subclass the AWS-style ``__name__`` ``name``.

    ``__qualname__`` keeps the Python name so instances still pickle (worker processes).
    """

    def apply(cls: _T) -> _T:
        cls.__name__ = name
        cls.error_name = name
        return cls

    return apply


@_named("Kbflow.UnsupportedMediaType")
class UnsupportedMediaType(TaskError):
    """The content is of a media type kbflow cannot extract text from."""


@_named("Kbflow.DocumentTooLarge")
class DocumentTooLarge(TaskError):
    """The document exceeds a limit: bytes, pages, or declared decompressed size (zip bombs)."""


@_named("Kbflow.ExtractionFailed")
class ExtractionFailed(TaskError):
    """The document is corrupt, or a parser failed on it."""


@_named("Kbflow.EmptyDocument")
class EmptyDocument(TaskError):
    """Extraction succeeded but the document holds no text."""


@_named("Kbflow.SourceAccessDenied")
class SourceAccessDenied(TaskError):
    """A source object is unreadable, or its path resolves outside the allowed root."""


@_named("Kbflow.TransientStoreError")
class TransientStoreError(TaskError):
    """A store failed in a way that is worth retrying."""

    retryable: ClassVar[bool] = True


@_named("Kbflow.InvalidInput")
class InvalidInput(TaskError):
    """A task payload is malformed."""


@_named("Kbflow.FetchFailed")
class FetchFailed(TaskError):
    """An HTTP fetch failed: bad status, timeout, redirect loop or size cap."""


@_named("Kbflow.TransientFetchError")
class TransientFetchError(FetchFailed):
    """The site was busy or unreachable (HTTP 429/502/503/504, a timeout, a network error).

    A subclass of :class:`FetchFailed` (code that gives up on a page catches both); the flows
    retry it by name with a slow backoff before giving up.
    """

    retryable: ClassVar[bool] = True


@_named("Kbflow.InvalidDecision")
class InvalidDecision(TaskError):
    """A review decision is malformed or not allowed in the current state."""


_ALL: Final[tuple[type[TaskError], ...]] = (
    UnsupportedMediaType,
    DocumentTooLarge,
    ExtractionFailed,
    EmptyDocument,
    SourceAccessDenied,
    TransientStoreError,
    InvalidInput,
    FetchFailed,
    TransientFetchError,
    InvalidDecision,
)

ERROR_NAMES: Final[tuple[str, ...]] = tuple(cls.error_name for cls in _ALL)
"""Every named task error string, in the order of docs/contracts.md."""

_BY_NAME: Final[dict[str, type[TaskError]]] = {cls.error_name: cls for cls in _ALL}


def by_name(name: str) -> type[TaskError]:
    """Return the error class for an AWS-style error string.

    Args:
        name: For example ``"Kbflow.EmptyDocument"``.

    Returns:
        The :class:`TaskError` subclass whose ``__name__`` is ``name``.

    Raises:
        KeyError: ``name`` is not one of :data:`ERROR_NAMES`.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown task error name {name!r}; expected one of {ERROR_NAMES}") from None
