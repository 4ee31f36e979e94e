"""Step Functions Local's MockConfigFile format: mocked task responses per test case.

::

    {"StateMachines": {"Orders": {"TestCases": {"HappyPath": {"Charge": "ChargeOk"}}}},
     "MockedResponses": {"ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {}}},
                                      "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException",
                                                        "Cause": "slow down"}}}}}

A test case maps Task state names to mocked responses; a mocked response maps invocation
numbers (``"0"``, or a range ``"1-2"``, counted per state within one execution, retries
included) to ``Return`` (the task result) or ``Throw`` (``Error``/``Cause``). Past the last
number, the last response repeats. Start an execution with ``test_case="HappyPath"`` (or the
Step Functions Local form ``<stateMachineArn>#HappyPath``) to use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kbflow.errors import ConfigurationError, StatesError

if TYPE_CHECKING:
    from .tasks import TaskCall

__all__ = ["MockConfig", "MockedResponse", "MockStep"]

JSON = Any


@dataclass(frozen=True, slots=True)
class MockStep:
    """One entry of a mocked response: a result or an error, for invocations ``first..last``."""

    first: int
    last: int
    returns: JSON = None
    error: str | None = None
    cause: str | None = None

    @property
    def throws(self) -> bool:
        """True for a ``Throw`` entry."""
        return self.error is not None


@dataclass(frozen=True, slots=True)
class MockedResponse:
    """A named mocked response: its steps in invocation order."""

    name: str
    steps: tuple[MockStep, ...]

    def step(self, invocation: int) -> MockStep:
        """The step for the ``invocation``-th call (0-based); the last one repeats."""
        for step in self.steps:
            if step.first <= invocation <= step.last:
                return step
        return self.steps[-1]


class MockConfig:
    """A parsed MockConfigFile.

    Args:
        test_cases: state machine name → test case name → state name → response name.
        responses: response name → mocked response.
    """

    def __init__(self, test_cases: Mapping[str, Mapping[str, Mapping[str, str]]],
                 responses: Mapping[str, MockedResponse]) -> None:
        self.test_cases = test_cases
        self.responses = responses

    @classmethod
    def from_document(cls, doc: Mapping[str, JSON]) -> MockConfig:
        """Parse a MockConfigFile document.

        Raises:
            ConfigurationError: the document is malformed or names a missing response.
        """
        if not isinstance(doc, Mapping):
            raise ConfigurationError("a MockConfigFile must be a JSON object")
        responses = {name: _response(name, body)
                     for name, body in (doc.get("MockedResponses") or {}).items()}
        cases: dict[str, dict[str, dict[str, str]]] = {}
        for sm, body in (doc.get("StateMachines") or {}).items():
            cases[sm] = {}
            for case, mapping in ((body or {}).get("TestCases") or {}).items():
                for state, response in mapping.items():
                    if response not in responses:
                        raise ConfigurationError(
                            f"test case {sm}/{case}: state {state!r} uses unknown mocked "
                            f"response {response!r}")
                cases[sm][case] = dict(mapping)
        return cls(cases, responses)

    def responders(self, state_machine: str,
                   test_case: str) -> dict[str, Callable[[TaskCall], Awaitable[JSON]]]:
        """The mocked Task states of one test case, as task work functions.

        Raises:
            ConfigurationError: unknown state machine or test case.
        """
        case = self.test_cases.get(state_machine, {}).get(test_case)
        if case is None:
            raise ConfigurationError(
                f"no test case {test_case!r} for state machine {state_machine!r}")
        return {state: _responder(self.responses[name]) for state, name in case.items()}


def _responder(response: MockedResponse) -> Callable[[TaskCall], Awaitable[JSON]]:
    calls = [0]

    async def respond(call: TaskCall) -> JSON:
        step = response.step(calls[0])
        calls[0] += 1
        if step.throws:
            raise StatesError(str(step.error), step.cause)
        return step.returns

    return respond


def _response(name: str, body: JSON) -> MockedResponse:
    if not isinstance(body, Mapping) or not body:
        raise ConfigurationError(f"mocked response {name!r} must be a non-empty object")
    steps = []
    for key, entry in body.items():
        first, _, last = str(key).partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError as exc:
            raise ConfigurationError(
                f"mocked response {name!r}: bad invocation key {key!r}") from exc
        if not isinstance(entry, Mapping) or ("Return" in entry) == ("Throw" in entry):
            raise ConfigurationError(
                f"mocked response {name!r}/{key}: needs exactly one of Return or Throw")
        if "Throw" in entry:
            throw = entry["Throw"] or {}
            steps.append(MockStep(lo, hi, error=str(throw.get("Error", "")),
                                  cause=throw.get("Cause")))
        else:
            steps.append(MockStep(lo, hi, returns=entry["Return"]))
    return MockedResponse(name, tuple(sorted(steps, key=lambda s: s.first)))
