"""Object stores: the local folder store (confinement, S3 semantics) and S3 through moto."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters.objectstore import (
    LocalObjectStore,
    NoSuchKey,
    ObjectStore,
    S3ObjectStore,
    iter_objects,
)
from kbflow.tasks.core.errors import SourceAccessDenied
from moto import mock_aws


@pytest.fixture
def local(tmp_path: Path) -> LocalObjectStore:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"alpha")
    (source / "sub" / "b.md").write_bytes(b"# beta")
    return LocalObjectStore({"work": tmp_path / "work"}, file_roots=[source])


def _file_key(tmp_path: Path, rel: str) -> str:
    return str((tmp_path / "src").resolve() / rel).lstrip("/")


def test_put_get_head_roundtrip_with_s3_etag(local: LocalObjectStore) -> None:
    put = local.put_object("work", "runs/r1/d/text.txt", b"hello")
    assert put["ETag"] == '"' + hashlib.md5(b"hello").hexdigest() + '"'
    assert local.get_object("work", "runs/r1/d/text.txt") == b"hello"
    head = local.head_object("work", "runs/r1/d/text.txt")
    assert head["ContentLength"] == 5 and head["ETag"] == put["ETag"]
    assert isinstance(head["LastModified"], datetime) and head["LastModified"].tzinfo


def test_write_is_atomic_and_leaves_no_temp_files(local: LocalObjectStore, tmp_path: Path) -> None:
    local.put_object("work", "k", b"one")
    local.put_object("work", "k", b"two")
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["k"]
    assert local.get_object("work", "k") == b"two"


def test_missing_key_is_no_such_key(local: LocalObjectStore) -> None:
    with pytest.raises(NoSuchKey):
        local.get_object("work", "nope")
    with pytest.raises(NoSuchKey):
        local.head_object("work", "nope")
    local.delete_object("work", "nope")  # S3: deleting a missing key is fine


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../escape", "/etc/passwd", "", "a\\..\\b", "nul\x00byte"]
)
def test_escaping_keys_are_refused(local: LocalObjectStore, key: str) -> None:
    with pytest.raises(SourceAccessDenied) as info:
        local.put_object("work", key, b"x")
    assert type(info.value).__name__ == "Kbflow.SourceAccessDenied"


def test_symlink_leading_outside_root_is_refused(local: LocalObjectStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"top secret")
    (tmp_path / "src" / "link.txt").symlink_to(secret)
    with pytest.raises(SourceAccessDenied, match="outside its root"):
        local.get_object("file", _file_key(tmp_path, "link.txt"))


def test_symlinked_folder_outside_root_is_refused_for_writes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "evil").symlink_to(outside, target_is_directory=True)
    store = LocalObjectStore({"work": tmp_path / "work"})
    with pytest.raises(SourceAccessDenied):
        store.put_object("work", "evil/x.txt", b"x")
    assert not (outside / "x.txt").exists()


def test_file_bucket_serves_only_allowed_roots(local: LocalObjectStore, tmp_path: Path) -> None:
    assert local.get_object("file", _file_key(tmp_path, "a.txt")) == b"alpha"
    other = tmp_path / "other.txt"
    other.write_bytes(b"x")
    with pytest.raises(SourceAccessDenied, match="allowed source roots"):
        local.get_object("file", str(other).lstrip("/"))
    with pytest.raises(SourceAccessDenied):
        local.get_object("unknown-bucket", "k")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read unreadable files")
def test_unreadable_file_is_a_clear_error(local: LocalObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "src" / "locked.txt"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(SourceAccessDenied, match="cannot read"):
        local.get_object("file", _file_key(tmp_path, "locked.txt"))


def test_directory_as_key_is_a_clear_error(local: LocalObjectStore, tmp_path: Path) -> None:
    with pytest.raises(SourceAccessDenied, match="cannot read"):
        local.get_object("file", _file_key(tmp_path, "sub"))


def test_list_objects_v2_shape_order_and_pagination(
    local: LocalObjectStore, tmp_path: Path
) -> None:
    prefix = str((tmp_path / "src").resolve()).lstrip("/") + "/"
    for name in ("c.txt", "d.txt", "e.txt"):
        (tmp_path / "src" / name).write_bytes(name.encode())
    page = local.list_objects_v2("file", prefix, max_keys=2)
    assert page["IsTruncated"] and page["KeyCount"] == 2
    assert [i["Key"][len(prefix) :] for i in page["Contents"]] == ["a.txt", "c.txt"]
    item = page["Contents"][0]
    assert set(item) == {"Key", "Size", "ETag", "LastModified", "StorageClass"}
    assert item["Size"] == 5 and item["ETag"] == '"' + hashlib.md5(b"alpha").hexdigest() + '"'
    keys = [i["Key"][len(prefix) :] for i in iter_objects(local, "file", prefix)]
    assert keys == ["a.txt", "c.txt", "d.txt", "e.txt", "sub/b.md"]


def test_listing_includes_escaping_symlink_without_reading_it(
    local: LocalObjectStore, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "src" / "zz.txt").symlink_to(tmp_path / "secret")
    prefix = str((tmp_path / "src").resolve()).lstrip("/") + "/"
    items = {i["Key"][len(prefix) :]: i for i in iter_objects(local, "file", prefix)}
    assert items["zz.txt"]["ETag"] == '""'


def test_listing_a_prefix_outside_roots_is_refused(local: LocalObjectStore) -> None:
    with pytest.raises(SourceAccessDenied):
        local.list_objects_v2("file", "etc/")


def test_bad_continuation_token(local: LocalObjectStore) -> None:
    with pytest.raises(ConfigurationError):
        local.list_objects_v2("work", "", continuation_token="!!!not base64!!!")


def test_copy_object(local: LocalObjectStore, tmp_path: Path) -> None:
    local.copy_object("file", _file_key(tmp_path, "a.txt"), "work", "q/a.txt")
    assert local.get_object("work", "q/a.txt") == b"alpha"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="docs")
        yield client


def test_s3_store_implements_the_protocol(s3: Any) -> None:
    store = S3ObjectStore(s3)
    assert isinstance(store, ObjectStore)
    for i in range(5):
        store.put_object("docs", f"p/{i}.txt", f"doc {i}".encode())
    assert store.get_object("docs", "p/3.txt") == b"doc 3"
    assert store.head_object("docs", "p/3.txt")["ContentLength"] == 5
    page = store.list_objects_v2("docs", "p/", max_keys=2)
    assert page["IsTruncated"] and len(page["Contents"]) == 2
    assert [i["Key"] for i in iter_objects(store, "docs", "p/")] == [f"p/{i}.txt" for i in range(5)]
    store.copy_object("docs", "p/1.txt", "docs", "q/1.txt")
    store.delete_object("docs", "p/1.txt")
    assert store.get_object("docs", "q/1.txt") == b"doc 1"
    with pytest.raises(NoSuchKey):
        store.get_object("docs", "p/1.txt")


def test_s3_missing_bucket_is_access_denied(s3: Any) -> None:
    with pytest.raises(SourceAccessDenied):
        S3ObjectStore(s3).get_object("no-such-bucket", "k")


def test_permission_error_is_a_clear_error_even_as_root(
    local: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(SourceAccessDenied, match="cannot read .*Permission denied"):
        local.get_object("file", _file_key(tmp_path, "a.txt"))
