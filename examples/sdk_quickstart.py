"""Use kbflow from another service: start an ingestion run, follow it, get its summary.

On AWS, after ``kbflow deploy apply`` (which records the stack's state machine ARNs for the
SDK), or with ``KBFLOW_WORKFLOW_INGESTION_ARN`` set::

    python examples/sdk_quickstart.py s3://my-docs/inbox/

On this machine, with the embedded engine and a local store folder::

    python examples/sdk_quickstart.py --local .kbflow file:///srv/docs

Exit status: 0 when the run succeeded, 1 when it did not (or is still running), 2 when the
input was refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta

import kbflow


def ingest(
    client: kbflow.Client,
    uri: str,
    *,
    name: str | None = None,
    timeout: timedelta = timedelta(minutes=30),
) -> kbflow.Execution:
    """Start an ingestion of ``uri``, print each state as it is entered, and return the run.

    Raises:
        kbflow.ValidationError: ``uri`` is not an ``s3://`` or ``file:///`` URI (nothing started).
        kbflow.WaitTimeout: the run was still going after ``timeout``.
    """
    run = client.start("ingestion", {"source": {"uri": uri}}, name=name)
    print(f"started {run.name}\n  {client.console_url(run)}")
    for event in client.events(run, timeout=timeout):  # ends with the run's last event
        if event.type.endswith("StateEntered"):
            print(f"  {event.timestamp:%H:%M:%S}  {event.details.get('name')}")
    return client.describe(run)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``sdk_quickstart.py [--local STORE] URI``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri", help="s3://bucket/prefix or file:///absolute/dir")
    parser.add_argument(
        "--local", metavar="STORE", help="run on the embedded engine with this store"
    )
    parser.add_argument("--name", help="execution name (starting twice with one name is safe)")
    args = parser.parse_args(argv)

    if args.local:  # a file:/// source must be allowed explicitly
        roots = [args.uri.removeprefix("file://")] if args.uri.startswith("file:///") else []
        client = kbflow.Client.local(store=args.local, file_roots=roots)
    else:
        client = kbflow.Client.aws()
    with client:
        try:
            run = ingest(client, args.uri, name=args.name)
            summary = client.wait(run, timeout=timedelta(seconds=30))
        except kbflow.ValidationError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
        except kbflow.ExecutionFailed as exc:
            print(f"failed: {exc.error}: {exc.cause}", file=sys.stderr)
            return 1
        except (kbflow.ExecutionError, kbflow.WaitTimeout) as exc:  # timed out, aborted, slow
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    # `wait` returns only once DescribeExecution reports SUCCEEDED; the status `ingest` saw right
    # after the last history event may still read RUNNING (the two APIs are not read atomically).
    print(f"{kbflow.ExecutionStatus.SUCCEEDED.value}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
