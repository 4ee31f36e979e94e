"""kbflow's own SDK (``Client.aws(endpoint_url=...)``) works against the local API."""

from __future__ import annotations

import kbflow
import pytest
from console_helpers import Served


def test_sdk_client_against_local_api(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    arn = served.engine.create_state_machine(
        "kbflow-human-review",
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Pass",
                    "Result": {"ok": True},
                    "ResultPath": "$.checked",
                    "End": True,
                }
            },
        },
    )
    client = kbflow.Client.aws(
        endpoint_url=served.url, region="us-east-1", registry={"human-review": arn}
    )
    run = client.start(arn, {"item": {"id": "x"}, "reason": "r"}, name="sdk-1")
    assert client.wait(run, timeout=10) == {
        "item": {"id": "x"},
        "reason": "r",
        "checked": {"ok": True},
    }
    assert [e.type for e in client.history(run)][-1] == "ExecutionSucceeded"
    assert client.describe(run).status.value == "SUCCEEDED"
    assert [e.name for e in client.list(arn)] == ["sdk-1"]
    assert client.console_url(run).startswith(served.url + "/#/execution/arn%3Aaws%3Astates")
    with pytest.raises(kbflow.ExecutionNotFound):
        client.describe(run.arn + "-missing")
