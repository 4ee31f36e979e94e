"""`kbflow run` and `kbflow executions`: output contract, errors, help, stop."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from durable_helpers import SLOW, kbflow, kill9, map_definition, start_kbflow, wait_for_ends
from kbflow.cli import cli

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$.n"},
                                         "End": True}}}


def test_run_json_contract_and_exit_codes(tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    ok = CliRunner().invoke(cli, ["run", str(flow_file(PASS)), "--input", '{"n": 3}',
                                  "--store", str(tmp_path / "s"), "--name", "a", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:flow:a",
        "status": "SUCCEEDED", "output": {"n": 3}, "error": None, "cause": None}
    fail = flow_file({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E",
                                                      "Cause": "why"}}}, "failing")
    bad = CliRunner().invoke(cli, ["run", str(fail), "--store", str(tmp_path / "s"), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["status"] == "FAILED"
    assert json.loads(bad.output)["error"] == "E" and json.loads(bad.output)["cause"] == "why"
    human = CliRunner().invoke(cli, ["run", str(fail), "--store", str(tmp_path / "s")])
    assert human.exit_code == 1 and "FAILED" in human.output and "why" in human.output
    again = CliRunner().invoke(cli, ["run", str(flow_file(PASS)), "--input", '{"n": 3}',
                                     "--store", str(tmp_path / "s"), "--name", "a"])
    assert again.exit_code == 1 and "Already Exists" in again.output


def test_input_from_file(tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    (tmp_path / "in.json").write_text('{"n": [1, 2]}')
    out = CliRunner().invoke(cli, ["run", str(flow_file(PASS)), "--input",
                                   f"@{tmp_path / 'in.json'}", "--store", str(tmp_path / "s"),
                                   "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["output"] == {"n": [1, 2]}


@pytest.mark.parametrize(("args", "message"), [
    (["run", "{missing}"], "definition file not found"),
    (["run", "{bad_json}"], "invalid JSON at line 2, column 1"),
    (["run", "{bad_def}"], "/States/X/Nxt: unknown field 'Nxt'"),
    (["run", "{flow}", "--input", '{"a": }'], "--input: invalid JSON at line 1, column 7"),
    (["run", "{flow}", "--input", "@{missing}"], "input file not found"),
    (["run", "{tasks}"], "unknown Lambda function(s) slow"),
    (["run", "{tasks}", "--function", "slow"], "is not NAME=module:callable"),
    (["run", "{tasks}", "--function", "slow=nope_mod:fn"], "cannot import handler module"),
    (["run", "{tasks}", "--function", "slow=durable_handlers:slow_item?speed=1"], "unknown option"),
    (["executions", "describe", "ghost", "--store", "{store}"], "no execution named 'ghost'"),
    (["executions", "list", "--store", "{nowhere}"], "no kbflow store"),
])
def test_clear_errors(tmp_path: Path, flow_file: Callable[..., Path], args: list[str],
                      message: str, handlers_on_path: None) -> None:
    bad_json = tmp_path / "bad.asl.json"
    bad_json.write_text('{"StartAt": \n')
    paths = {"missing": str(tmp_path / "missing.json"), "bad_json": str(bad_json),
             "bad_def": str(flow_file({"StartAt": "X", "States": {"X": {
                 "Type": "Pass", "Nxt": "Y", "End": True}}}, "baddef")),
             "flow": str(flow_file(PASS)), "tasks": str(flow_file(map_definition(), "tasks")),
             "store": str(tmp_path / "s"), "nowhere": str(tmp_path / "nowhere")}
    if args[0] == "executions" and "{store}" in args:
        CliRunner().invoke(cli, ["run", paths["flow"], "--store", paths["store"]])
    argv = [paths[a[1:-1]] if a[1:-1] in paths else
            "@" + paths[a[2:-1]] if a.startswith("@{") else a for a in args]
    if argv[0] == "run" and "--store" not in argv:
        argv += ["--store", str(tmp_path / "s")]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code != 0
    assert message in result.output


@pytest.mark.parametrize("command", [["run"], ["executions"], ["executions", "list"],
                                     ["executions", "describe"], ["executions", "history"],
                                     ["executions", "redrive"], ["executions", "stop"]])
def test_help_on_every_command(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and "--store" in (
        result.output if command != ["executions"] else "--store")


def test_list_describe_history(tmp_path: Path, flow_file: Callable[..., Path]) -> None:
    store = str(tmp_path / "s")
    CliRunner().invoke(cli, ["run", str(flow_file(PASS)), "--input", '{"n": 1}', "--store",
                             store, "--name", "one"])
    listed = CliRunner().invoke(cli, ["executions", "list", "--store", store, "--json"])
    rows = json.loads(listed.output)
    assert [(r["name"], r["status"]) for r in rows] == [("one", "SUCCEEDED")]
    described = json.loads(CliRunner().invoke(
        cli, ["executions", "describe", "one", "--store", store, "--json"]).output)
    assert described["Status"] == "SUCCEEDED" and described["RedriveCount"] == 0
    assert described["RedriveStatus"] == "NOT_REDRIVABLE"
    assert described["RedriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert json.loads(described["Output"]) == {"n": 1}
    events = json.loads(CliRunner().invoke(
        cli, ["executions", "history", "one", "--store", store, "--json"]).output)
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered",
                                           "PassStateExited", "ExecutionSucceeded"]
    text = CliRunner().invoke(cli, ["executions", "history", "one", "--store", store]).output
    assert "PassStateEntered" in text


def test_stop_a_running_execution_and_an_orphan(tmp_path: Path,
                                                flow_file: Callable[..., Path]) -> None:
    flow = flow_file(map_definition(concurrency=1))
    log, store = tmp_path / "calls.log", str(tmp_path / "s")
    payload = json.dumps({"items": list(range(50)), "log": str(log), "flag": "", "sleep": 0.1})
    proc = start_kbflow("run", str(flow), "--input", payload, "--store", store, "--name", "live",
                        "--function", SLOW, "--json")
    wait_for_ends(log, 1, proc)
    stopped = kbflow("executions", "stop", "live", "--store", store, "--cause", "enough",
                     "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["Status"] == "ABORTED"
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and json.loads(out)["status"] == "ABORTED"
    log2 = tmp_path / "calls2.log"
    payload = json.dumps({"items": list(range(50)), "log": str(log2), "flag": "", "sleep": 0.1})
    proc = start_kbflow("run", str(flow), "--input", payload, "--store", store, "--name", "dead",
                        "--function", SLOW)
    wait_for_ends(log2, 3, proc)
    kill9(proc)
    orphan = kbflow("executions", "stop", "dead", "--store", store)
    assert orphan.returncode == 0 and orphan.stdout.startswith("ABORTED")
    events = json.loads(kbflow("executions", "history", "dead", "--store", store,
                               "--json").stdout)
    assert events[-1]["type"] == "ExecutionAborted"


def test_functions_next_to_the_user_are_importable(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "usermod.py").write_text("def double(event, context):\n"
                                        "    return event['n'] * 2\n")
    (tmp_path / "f.asl.json").write_text(json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
        "End": True}}}))
    script = Path(sys.executable).parent / "kbflow"  # the console script: cwd is not on sys.path
    if not script.exists():
        pytest.skip("the kbflow console script is not installed next to this Python")
    done = subprocess.run(
        [str(script), "run", "f.asl.json", "--input", '{"n": 21}', "--store", "st", "--function",
         "double=usermod:double", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == 42
