"""The AWS-recorded conformance corpus (../shared/conformance), run in-process."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kbflow.runtime import testing

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance"


def _runner() -> Any:
    spec = importlib.util.spec_from_file_location("conformance_runner", CORPUS / "runner.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance_runner", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (CORPUS / "cases").is_dir(), reason="../shared/conformance is absent")
def test_conformance_corpus() -> None:
    runner = _runner()
    cases = [json.loads(p.read_text()) for p in sorted((CORPUS / "cases").glob("*.json"))]
    start = time.monotonic()
    failures: list[str] = []
    for case in cases:
        result = testing.run(case["definition"], case["input"],
                             state_machine_type=case.get("state_machine_type", "STANDARD"),
                             lambdas=case.get("lambdas"),
                             execution_name=case.get("execution_name"), timeout=60)
        diffs = runner.compare(case, result)
        if diffs:
            failures.append(f"{case['id']}: {diffs[0][:200]}")
    elapsed = time.monotonic() - start
    rate = 1 - len(failures) / len(cases)
    print(f"{len(cases) - len(failures)} passed, {len(failures)} failed in {elapsed:.1f}s")
    print("\n".join(failures))
    assert elapsed < 60
    unexpected = [f for f in failures if f.split(":")[0] not in SNAPSHOT_ARTIFACTS]
    assert not unexpected, "\n".join(unexpected)
    assert rate >= 0.979


# Cases whose recorded values were rewritten by LocalStack's snapshot transformers into
# literals no engine returns: the Lambda response's ``x-amzn-RequestId`` header list became
# the string "x-amzn-RequestId"; a Content-Length measured with a longer, since renamed,
# function name; and "sfn_role_arn" where every other case has "snf_role_arn". A faithful
# engine cannot match them (see docs/engine.md); any other failure fails this test.
SNAPSHOT_ARTIFACTS = frozenset({
    "base_evaluate_expressions__base_task_HEARTBEAT_SECONDS",
    "base_evaluate_expressions__base_task_TIMEOUT_SECONDS",
    "base_evaluate_expressions__base_task_from_input_HEARTBEAT_SECONDS",
    "context_object__result_selector",
    "express_sync__query_runtime_memory",
    "lambda_task_service__invoke",
    "lambda_task_service__invoke_json_values_0.0",
    "lambda_task_service__invoke_json_values_0_0",
    "lambda_task_service__invoke_json_values_0_1",
    "lambda_task_service__invoke_json_values_HelloWorld",
    "lambda_task_service__invoke_json_values_True",
    "lambda_task_service__invoke_json_values_json_value5",
    "lambda_task_service__invoke_json_values_json_value6",
    "lambda_task_service__invoke_unsupported_param",
})
