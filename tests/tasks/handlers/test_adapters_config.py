"""Adapter selection (local | aws), explicit installation, lazy heavy adapters; AWS end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from handler_fakes import FakeLambdaContext, HashEmbedder
from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters import config
from kbflow.tasks.adapters.dynamo import DynamoManifest, SnsNotifier
from kbflow.tasks.adapters.index import LocalIndex
from kbflow.tasks.adapters.objectstore import LocalObjectStore, S3ObjectStore
from kbflow.tasks.adapters.stores import SqliteManifest
from kbflow.tasks.catalog import AWS_ENVIRONMENT, TABLES
from kbflow.tasks.handlers import ingestion as ing
from moto import mock_aws


@pytest.fixture(autouse=True)
def fresh_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("KBFLOW_ADAPTERS", "KBFLOW_STORE", "KBFLOW_FILE_ROOTS"):
        monkeypatch.delenv(name, raising=False)
    config.reset_from_env()
    yield
    config.reset_from_env()


def test_from_env_local_is_cached_and_uses_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBFLOW_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("KBFLOW_FILE_ROOTS", str(tmp_path))
    first = config.from_env()
    assert first is config.from_env() and first.mode == "local"
    assert isinstance(first.objects, LocalObjectStore) and isinstance(
        first.manifest, SqliteManifest
    )
    assert (tmp_path / "s" / "kbflow.sqlite3").exists()
    (tmp_path / "doc.txt").write_text("x")
    assert first.objects.get_object("file", str(tmp_path.resolve() / "doc.txt").lstrip("/")) == b"x"


def test_local_environ_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in config.local_environ(tmp_path / "s", [tmp_path]).items():
        monkeypatch.setenv(key, value)
    assert config.from_env().extras["store"] == str((tmp_path / "s").absolute())


def test_unknown_mode_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBFLOW_ADAPTERS", "azure")
    with pytest.raises(ConfigurationError, match="local' or 'aws"):
        config.from_env()


def test_aws_mode_needs_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBFLOW_ADAPTERS", "aws")
    with pytest.raises(ConfigurationError, match="KBFLOW_WORK_BUCKET"):
        config.from_env()


def test_use_adapters_wins_over_env_and_nests(tmp_path: Path) -> None:
    a = config.local_adapters(tmp_path / "a")
    b = config.local_adapters(tmp_path / "b")
    with config.use_adapters(a):
        assert config.current() is a
        with config.use_adapters(b):
            assert config.current() is b
        assert config.current() is a


def test_heavy_adapters_are_lazy(tmp_path: Path) -> None:
    built: list[str] = []

    def make() -> HashEmbedder:
        built.append("embedder")
        return HashEmbedder()

    bundle = config.local_adapters(tmp_path, embedder_=config.Lazy(make))
    assert built == []
    assert bundle.embedder is bundle.embedder and built == ["embedder"]


def _tables(ddb: Any) -> dict[str, str]:
    names = {}
    for spec in TABLES:
        keys = [(spec.partition_key, "HASH")] + (
            [(spec.sort_key, "RANGE")] if spec.sort_key else []
        )
        attrs = {k for k, _ in keys} | {a for _, p, s in spec.indexes for a in (p, s) if a}
        gsis = [
            {
                "IndexName": n,
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": p, "KeyType": "HASH"}]
                + ([{"AttributeName": s, "KeyType": "RANGE"}] if s else []),
            }
            for n, p, s in spec.indexes
        ]
        ddb.create_table(
            TableName=f"kbflow-{spec.kind.value}",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)
            ],
            **({"GlobalSecondaryIndexes": gsis} if gsis else {}),
        )
        names[spec.env] = f"kbflow-{spec.kind.value}"
    return names


def test_aws_adapters_run_the_document_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: FakeLambdaContext
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("source-docs", "kbflow-work"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(
            Bucket="source-docs",
            Key="policies/loan.md",
            Body=b"# Loans\n\nThe loan limit is 50000 EUR. Write to a@b.example.",
        )
        env = {
            **_tables(boto3.resource("dynamodb")),
            "KBFLOW_WORK_BUCKET": "kbflow-work",
            "KBFLOW_NOTIFY_TOPIC_ARN": boto3.client("sns").create_topic(Name="t")["TopicArn"],
        }
        assert set(env) <= set(AWS_ENVIRONMENT)  # the deploy stack sets all of them
        bundle = config.aws_adapters(
            env, embedder_=HashEmbedder(), index_=LocalIndex(tmp_path / "index.sqlite3")
        )
        assert isinstance(bundle.objects, S3ObjectStore)
        assert isinstance(bundle.manifest, DynamoManifest) and isinstance(
            bundle.notifier, SnsNotifier
        )
        assert bundle.quarantine_prefix == "quarantine/"
        with config.use_adapters(bundle):
            plan = ing.plan_ingestion(
                {"source": {"uri": "s3://source-docs/policies"}, "run_id": "r"}, context
            )
            doc: dict[str, Any] = {**plan, "key": "policies/loan.md"}
            for step in (
                ing.fetch_document,
                ing.extract_text,
                ing.clean_text,
                ing.redact_pii,
                ing.chunk_text,
                ing.embed_chunks,
                ing.index_document,
                ing.record_manifest,
            ):
                doc = step(doc, context)
            assert doc["status"] == "new" and doc["pii"]["found"]
            again = ing.fetch_document({**plan, "key": "policies/loan.md"}, context)
            assert again["status"] == "unchanged"
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="kbflow-work")["Contents"]]
            assert f"runs/r/{doc['doc_id']}/redacted.txt" in keys
            bad = ing.quarantine_document(
                {**plan, "key": "policies/loan.md", "error": {"Error": "Kbflow.X", "Cause": "c"}},
                context,
            )
            assert bad["original"].startswith("quarantine/r/")
            assert (
                s3.get_object(Bucket="kbflow-work", Key=bad["original"])["Body"]
                .read()
                .startswith(b"# Loans")
            )


def test_threads_with_different_bundles_each_see_their_own(tmp_path: Path) -> None:
    import threading

    bundles = [config.local_adapters(tmp_path / str(i)) for i in range(4)]
    barrier = threading.Barrier(len(bundles))
    seen: dict[int, bool] = {}

    def work(i: int) -> None:
        with config.use_adapters(bundles[i]):
            barrier.wait()
            seen[i] = all(config.current() is bundles[i] for _ in range(200))
            barrier.wait()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(bundles))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {i: True for i in range(len(bundles))}


def test_other_threads_see_a_bundle_used_around_them(tmp_path: Path) -> None:
    import threading

    bundle = config.local_adapters(tmp_path)
    seen: list[config.Adapters] = []
    with config.use_adapters(bundle):
        thread = threading.Thread(target=lambda: seen.append(config.current()))
        thread.start()
        thread.join()
    assert seen == [bundle]
