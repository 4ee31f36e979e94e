"""Named task errors: AWS-style class names, one error tree, lookup and pickling."""

from __future__ import annotations

import pickle

import pytest
from kbflow.errors import KbflowError
from kbflow.tasks.core import errors
from kbflow.tasks.core.errors import ERROR_NAMES, DocumentTooLarge, TaskError, by_name

CONTRACT_NAMES = (
    "Kbflow.UnsupportedMediaType", "Kbflow.DocumentTooLarge", "Kbflow.ExtractionFailed",
    "Kbflow.EmptyDocument", "Kbflow.SourceAccessDenied", "Kbflow.TransientStoreError",
    "Kbflow.InvalidInput", "Kbflow.FetchFailed", "Kbflow.TransientFetchError",
    "Kbflow.InvalidDecision",
)


def test_every_contract_name_has_a_class_named_after_it() -> None:
    assert ERROR_NAMES == CONTRACT_NAMES
    for name in CONTRACT_NAMES:
        cls = by_name(name)
        assert cls.__name__ == name  # what the Lambda runtime reports as errorType
        assert cls.error_name == name
        assert issubclass(cls, TaskError) and issubclass(cls, KbflowError)
        assert getattr(errors, name.split(".", 1)[1]) is cls


def test_error_carries_cause_details_and_failure_shape() -> None:
    exc = DocumentTooLarge("document is 300 bytes (limit 100)", size=300)
    assert type(exc).__name__ == "Kbflow.DocumentTooLarge"
    assert exc.error == "Kbflow.DocumentTooLarge"
    assert exc.cause == str(exc) == "document is 300 bytes (limit 100)"
    assert exc.details == {"size": 300}
    assert exc.to_failure() == {"Error": "Kbflow.DocumentTooLarge",
                                "Cause": "document is 300 bytes (limit 100)"}


def test_only_the_transient_errors_are_retryable() -> None:
    assert [n for n in ERROR_NAMES if by_name(n).retryable] == [
        "Kbflow.TransientStoreError",
        "Kbflow.TransientFetchError",
    ]
    busy = by_name("Kbflow.TransientFetchError")("HTTP 503", url="https://w/a", status=503)
    assert isinstance(busy, errors.FetchFailed)
    back = pickle.loads(pickle.dumps(busy))
    assert type(back).__name__ == "Kbflow.TransientFetchError" and back.details["status"] == 503


def test_errors_pickle_across_processes() -> None:
    exc = DocumentTooLarge("too big", pages=3000)
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, DocumentTooLarge)
    assert type(back).__name__ == "Kbflow.DocumentTooLarge"
    assert (back.cause, back.details) == ("too big", {"pages": 3000})


def test_by_name_rejects_unknown_names() -> None:
    with pytest.raises(KeyError, match="Kbflow.Nope"):
        by_name("Kbflow.Nope")
