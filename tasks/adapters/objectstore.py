"""Object stores: the S3-shaped seam for sources, the work store and quarantine.

``ObjectStore`` is the protocol the task handlers *and* the engine's Distributed Map
``ItemReader``/``ResultWriter`` call. Two implementations:

- :class:`LocalObjectStore` maps bucket names to folders, plus the ``file`` bucket of
  docs/contracts.md (key ``abs/dir/x.pdf`` is the file ``/abs/dir/x.pdf``, served only under the
  allowed roots). Keys never escape their root: ``..`` segments, absolute keys and symlinks that
  resolve outside are refused with ``Kbflow.SourceAccessDenied``. Writes are atomic (temp file +
  ``os.replace``); ETags are quoted MD5 hex digests as S3 gives for single-part uploads.
- :class:`S3ObjectStore` wraps a boto3 S3 client and translates its errors.

Responses mirror boto3's (``LastModified`` is a timezone-aware ``datetime``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from kbflow.errors import ConfigurationError, KbflowError
from kbflow.tasks.core.errors import SourceAccessDenied, TransientStoreError

__all__ = [
    "FILE_BUCKET",
    "LocalObjectStore",
    "NoSuchKey",
    "ObjectStore",
    "S3ObjectStore",
    "etag_of",
    "iter_objects",
]

FILE_BUCKET: Final = "file"
_TMP_PREFIX: Final = ".kbflow-tmp-"


class NoSuchKey(KbflowError):
    """The object does not exist (S3 ``NoSuchKey``)."""

    def __init__(self, bucket: str, key: str) -> None:
        self.bucket = bucket
        self.key = key
        super().__init__(f"no such object: {bucket}/{key}")


@runtime_checkable
class ObjectStore(Protocol):
    """The S3 subset kbflow uses, with S3 semantics and boto3-shaped responses."""

    def list_objects_v2(
        self, bucket: str, prefix: str, continuation_token: str | None = None, max_keys: int = 1000
    ) -> dict[str, Any]:
        """One ListObjectsV2 page: ``Contents`` [{Key, Size, ETag, LastModified, StorageClass}],
        ``IsTruncated``, ``NextContinuationToken``, ``KeyCount``."""
        ...

    def get_object(self, bucket: str, key: str) -> bytes:
        """The object's bytes. Raises NoSuchKey or SourceAccessDenied."""
        ...

    def put_object(self, bucket: str, key: str, data: bytes) -> dict[str, Any]:
        """Store ``data``; returns ``{"ETag"}``."""
        ...

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """``{"ContentLength", "ETag", "LastModified"}``. Raises NoSuchKey."""
        ...

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete; deleting a missing key is not an error (as in S3)."""
        ...

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> dict[str, Any]:
        """Server-side copy; returns ``{"ETag"}``."""
        ...


def etag_of(data: bytes) -> str:
    """The S3 ETag of a single-part upload: the quoted MD5 hex digest."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def iter_objects(store: ObjectStore, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Yield every ListObjectsV2 item under ``prefix``, following continuation tokens."""
    token: str | None = None
    while True:
        page = store.list_objects_v2(bucket, prefix, token)
        yield from page.get("Contents", [])
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise ConfigurationError(f"invalid continuation token {token[:40]!r}") from exc


@dataclass(frozen=True, slots=True)
class _Located:
    root: Path
    path: Path


class LocalObjectStore:
    """Buckets as folders on one machine, with keys confined to their roots.

    Args:
        buckets: ``{bucket name: root folder}``; folders are created on first write.
        file_roots: Absolute folders the ``file`` bucket may serve (the ingest sources).
    """

    def __init__(
        self,
        buckets: Mapping[str, str | os.PathLike[str]] | None = None,
        *,
        file_roots: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self._buckets = {name: Path(root).absolute() for name, root in (buckets or {}).items()}
        self._file_roots = [Path(r).resolve() for r in file_roots]
        self._etags: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def allow_file_root(self, root: str | os.PathLike[str]) -> None:
        """Allow the ``file`` bucket to serve keys under ``root`` (an ingest source)."""
        resolved = Path(root).resolve()
        if resolved not in self._file_roots:
            self._file_roots.append(resolved)

    # -- path confinement -------------------------------------------------------------------

    def _locate(self, bucket: str, key: str) -> _Located:
        if not key or "\x00" in key or key.startswith("/") or "\\" in key:
            raise SourceAccessDenied(
                f"refused key {key!r}: empty, absolute or malformed", bucket=bucket, key=key
            )
        if any(part == ".." for part in key.split("/")):
            raise SourceAccessDenied(
                f"refused key {key!r}: '..' segments are not allowed", bucket=bucket, key=key
            )
        if bucket == FILE_BUCKET:
            path = Path("/" + key)
            roots = [r for r in self._file_roots if path.is_relative_to(r)]
            if not roots:
                raise SourceAccessDenied(
                    f"refused file:///{key}: outside the allowed source roots",
                    bucket=bucket,
                    key=key,
                )
            return self._confine(roots[0], path, bucket, key)
        root = self._buckets.get(bucket)
        if root is None:
            raise SourceAccessDenied(f"unknown local bucket {bucket!r}", bucket=bucket, key=key)
        return self._confine(root, root / key, bucket, key)

    @staticmethod
    def _confine(root: Path, path: Path, bucket: str, key: str) -> _Located:
        resolved_root = root.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(resolved_root):
            raise SourceAccessDenied(
                f"refused {bucket}/{key}: resolves outside its root (symlink or traversal)",
                bucket=bucket,
                key=key,
            )
        return _Located(resolved_root, resolved)

    def _root_for_listing(self, bucket: str, prefix: str) -> tuple[Path, str]:
        """Return (folder to walk, key prefix of that folder's entries)."""
        if bucket == FILE_BUCKET:
            path = Path("/" + prefix)
            for allowed in self._file_roots:
                if path.is_relative_to(allowed) or Path("/" + prefix.rstrip("/")) == allowed:
                    return allowed, str(allowed).lstrip("/") + "/"
            raise SourceAccessDenied(
                f"refused file:///{prefix}: outside the allowed source roots",
                bucket=bucket,
                key=prefix,
            )
        root = self._buckets.get(bucket)
        if root is None:
            raise SourceAccessDenied(f"unknown local bucket {bucket!r}", bucket=bucket, key=prefix)
        return root, ""

    # -- reads ---------------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str) -> bytes:
        """Read an object. Raises NoSuchKey, or SourceAccessDenied when unreadable or escaping."""
        located = self._locate(bucket, key)
        try:
            return located.path.read_bytes()
        except FileNotFoundError:
            raise NoSuchKey(bucket, key) from None
        except (PermissionError, IsADirectoryError) as exc:
            raise SourceAccessDenied(
                f"cannot read {bucket}/{key}: {exc.strerror or exc}", bucket=bucket, key=key
            ) from exc
        except OSError as exc:
            raise TransientStoreError(f"cannot read {bucket}/{key}: {exc}") from exc

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """Size, ETag and modification time of an object."""
        located = self._locate(bucket, key)
        try:
            st = located.path.stat()
        except FileNotFoundError:
            raise NoSuchKey(bucket, key) from None
        if not located.path.is_file():
            raise NoSuchKey(bucket, key)
        return {
            "ContentLength": st.st_size,
            "ETag": self._etag(located.path, st),
            "LastModified": datetime.fromtimestamp(st.st_mtime, UTC),
        }

    def _etag(self, path: Path, st: os.stat_result) -> str:
        cache_key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._etags.get(cache_key)
        if cached is None:
            digest = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            cached = f'"{digest.hexdigest()}"'
            with self._lock:
                self._etags[cache_key] = cached
        return cached

    def list_objects_v2(
        self, bucket: str, prefix: str, continuation_token: str | None = None, max_keys: int = 1000
    ) -> dict[str, Any]:
        """List keys under ``prefix`` in S3 order (byte-wise), ``max_keys`` per page."""
        root, key_prefix = self._root_for_listing(bucket, prefix)
        after = _decode_token(continuation_token) if continuation_token else ""
        keys = sorted(k for k in self._walk(root, key_prefix) if k.startswith(prefix) and k > after)
        page, truncated = keys[:max_keys], len(keys) > max_keys
        contents = [self._item(root, key_prefix, k) for k in page]
        result: dict[str, Any] = {
            "Name": bucket,
            "Prefix": prefix,
            "MaxKeys": max_keys,
            "KeyCount": len(contents),
            "IsTruncated": truncated,
            "Contents": contents,
        }
        if continuation_token:
            result["ContinuationToken"] = continuation_token
        if truncated:
            result["NextContinuationToken"] = _encode_token(page[-1])
        return result

    @staticmethod
    def _walk(root: Path, key_prefix: str) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = [d for d in dirnames if not d.startswith(_TMP_PREFIX)]
            rel = Path(dirpath).relative_to(root).as_posix()
            base = key_prefix if rel == "." else f"{key_prefix}{rel}/"
            for name in filenames:
                if not name.startswith(_TMP_PREFIX):
                    yield base + name

    def _item(self, root: Path, key_prefix: str, key: str) -> dict[str, Any]:
        path = root / key[len(key_prefix) :]
        st = path.lstat()
        etag = '""'
        try:
            resolved = path.resolve()
            if resolved.is_relative_to(root) and resolved.is_file():
                st = resolved.stat()
                etag = self._etag(resolved, st)
        except OSError:
            pass  # unreadable: listed anyway, so FetchDocument reports (and quarantines) it
        return {
            "Key": key,
            "Size": st.st_size,
            "ETag": etag,
            "LastModified": datetime.fromtimestamp(st.st_mtime, UTC),
            "StorageClass": "STANDARD",
        }

    # -- writes --------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, data: bytes) -> dict[str, Any]:
        """Write atomically (temp file in the same folder, then ``os.replace``)."""
        located = self._locate(bucket, key)
        located.path.parent.mkdir(parents=True, exist_ok=True)
        self._locate(bucket, key)  # re-check: a parent may have been a symlink
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=located.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, located.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return {"ETag": etag_of(data)}

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete an object; a missing key is not an error."""
        self._locate(bucket, key).path.unlink(missing_ok=True)

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> dict[str, Any]:
        """Copy an object (read + atomic write)."""
        return self.put_object(bucket, key, self.get_object(src_bucket, src_key))


_TRANSIENT_CODES: Final = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestTimeTooSkewed",
        "500",
        "503",
    }
)


class S3ObjectStore:
    """The object store on Amazon S3.

    Args:
        client: A boto3 S3 client (``boto3.client("s3")``).
    """

    def __init__(self, client: Any) -> None:
        self._s3 = client

    def _translate(self, exc: Exception, bucket: str, key: str) -> Exception:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in {"NoSuchKey", "404", "NotFound"}:
            return NoSuchKey(bucket, key)
        if code in {"AccessDenied", "403", "AllAccessDisabled", "NoSuchBucket"}:
            return SourceAccessDenied(f"S3 refused {bucket}/{key}: {code}", bucket=bucket, key=key)
        if code in _TRANSIENT_CODES:
            return TransientStoreError(f"S3 {code} on {bucket}/{key}")
        return exc

    def _call(self, op: str, bucket: str, key: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

        try:
            return getattr(self._s3, op)(Bucket=bucket, **kwargs)
        except ClientError as exc:
            translated = self._translate(exc, bucket, key)
            if translated is exc:
                raise
            raise translated from exc
        except (ConnectionError, ReadTimeoutError) as exc:
            raise TransientStoreError(f"S3 unreachable for {bucket}/{key}: {exc}") from exc

    def list_objects_v2(
        self, bucket: str, prefix: str, continuation_token: str | None = None, max_keys: int = 1000
    ) -> dict[str, Any]:
        """One ListObjectsV2 page (boto3's response)."""
        kwargs: dict[str, Any] = {"Prefix": prefix, "MaxKeys": max_keys}
        if continuation_token:
            kwargs["ContinuationToken"] = continuation_token
        response = self._call("list_objects_v2", bucket, prefix, **kwargs)
        response.setdefault("Contents", [])
        return dict(response)

    def get_object(self, bucket: str, key: str) -> bytes:
        """The object's bytes."""
        body = self._call("get_object", bucket, key, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def put_object(self, bucket: str, key: str, data: bytes) -> dict[str, Any]:
        """Upload ``data``."""
        response = self._call("put_object", bucket, key, Key=key, Body=data)
        return {"ETag": response.get("ETag", etag_of(data))}

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """Size, ETag, modification time."""
        r = self._call("head_object", bucket, key, Key=key)
        return {
            "ContentLength": r["ContentLength"],
            "ETag": r["ETag"],
            "LastModified": r["LastModified"],
        }

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete (S3 does not fail on a missing key)."""
        self._call("delete_object", bucket, key, Key=key)

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> dict[str, Any]:
        """Server-side copy."""
        r = self._call(
            "copy_object", bucket, key, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key}
        )
        return {"ETag": r.get("CopyObjectResult", {}).get("ETag", "")}
