"""The ObjectStore protocol (S3 semantics) and an in-memory implementation for tests.

The engine's distributed Map reads items (``ItemReader``) and writes results
(``ResultWriter``) through an ObjectStore handed to the engine (see docs/contracts.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from kbflow.errors import KbflowError

__all__ = ["InMemoryObjectStore", "NoSuchKey", "ObjectStore"]


class NoSuchKey(KbflowError):
    """The object does not exist (S3 ``NoSuchKey``)."""

    def __init__(self, bucket: str, key: str) -> None:
        self.bucket = bucket
        self.key = key
        super().__init__(f"The specified key does not exist: s3://{bucket}/{key}")


@runtime_checkable
class ObjectStore(Protocol):
    """S3-shaped storage: ListObjectsV2, GetObject, PutObject."""

    def list_objects_v2(self, bucket: str, prefix: str = "",
                        continuation: str | None = None) -> Mapping[str, Any]:
        """One page: ``{"Contents": [{"Key", "Size", "ETag", "LastModified", "StorageClass"}],
        "IsTruncated": bool, "NextContinuationToken"?: str}``."""
        ...

    def get_object(self, bucket: str, key: str) -> bytes:
        """The object's bytes (raises :class:`NoSuchKey`)."""
        ...

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """Store ``body`` at ``key``."""
        ...


class InMemoryObjectStore:
    """A thread-safe dict-backed ObjectStore.

    Args:
        page_size: objects per ListObjectsV2 page (S3: 1,000).
    """

    def __init__(self, page_size: int = 1000) -> None:
        self._objects: dict[tuple[str, str], tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()
        self._page_size = page_size

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """Store an object."""
        with self._lock:
            self._objects[(bucket, key)] = (bytes(body), datetime.now(UTC))

    def get_object(self, bucket: str, key: str) -> bytes:
        """Read an object.

        Raises:
            NoSuchKey: the key does not exist.
        """
        with self._lock:
            found = self._objects.get((bucket, key))
        if found is None:
            raise NoSuchKey(bucket, key)
        return found[0]

    def list_objects_v2(self, bucket: str, prefix: str = "",
                        continuation: str | None = None) -> Mapping[str, Any]:
        """List keys under ``prefix`` in key order, one page at a time."""
        with self._lock:
            keys = sorted(k for (b, k) in self._objects if b == bucket and k.startswith(prefix))
            start = int(continuation) if continuation else 0
            page = keys[start:start + self._page_size]
            contents = [self._entry(bucket, k) for k in page]
        out: dict[str, Any] = {"Contents": contents,
                               "IsTruncated": start + self._page_size < len(keys)}
        if out["IsTruncated"]:
            out["NextContinuationToken"] = str(start + self._page_size)
        return out

    def _entry(self, bucket: str, key: str) -> dict[str, Any]:
        body, modified = self._objects[(bucket, key)]
        return {"Key": key, "Size": len(body), "ETag": f'"{hashlib.md5(body).hexdigest()}"',
                "LastModified": modified, "StorageClass": "STANDARD"}

    def keys(self, bucket: str) -> list[str]:
        """All keys of ``bucket`` (test helper)."""
        with self._lock:
            return sorted(k for (b, k) in self._objects if b == bucket)
