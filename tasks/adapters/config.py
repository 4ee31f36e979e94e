"""The adapter bundle handlers use, chosen by environment or installed explicitly.

Handlers call :func:`current` to get an :class:`Adapters` bundle:

- an explicitly installed bundle (:func:`use_adapters`, a context manager for tests, or
  :func:`install` for a host process), else
- :func:`from_env`, read once and cached: ``KBFLOW_ADAPTERS=local|aws`` (default ``local``),
  ``KBFLOW_STORE`` (default ``.kbflow``), ``KBFLOW_FILE_ROOTS`` (``os.pathsep``-separated folders
  the   ``file`` bucket may serve: the ingest sources). On AWS: ``KBFLOW_WORK_BUCKET``,
  ``KBFLOW_QUARANTINE_BUCKET`` (default: the work bucket), the table names of
  :data:`kbflow.tasks.catalog.TABLES` and ``KBFLOW_NOTIFY_TOPIC_ARN``.

Heavy adapters (embedder, index, extractor) are created on first use, so a task that never
embeds never loads the model. Worker *processes* do not inherit an installed bundle: a host that
runs ``cpu`` tasks in processes sets the environment (:func:`local_environ`) before starting them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters.extractors import Extractor
from kbflow.tasks.adapters.objectstore import LocalObjectStore, ObjectStore
from kbflow.tasks.adapters.stores import Audit, Manifest, Notifier, Quarantine, ReviewStore

__all__ = [
    "Adapters",
    "Lazy",
    "aws_adapters",
    "current",
    "from_env",
    "install",
    "local_adapters",
    "local_environ",
    "use_adapters",
]

_T = TypeVar("_T")
WORK_BUCKET: Final = "work"
QUARANTINE_BUCKET: Final = "quarantine"


class Lazy(Generic[_T]):
    """A value built on first :meth:`get` (thread-safe), for heavy adapters.

    Args:
        factory: Builds the value.
    """

    def __init__(self, factory: Callable[[], _T]) -> None:
        self._factory = factory
        self._value: _T | None = None
        self._lock = threading.Lock()

    def get(self) -> _T:
        """The value, built once."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
        return self._value


def _resolve(value: Any) -> Any:
    return value.get() if isinstance(value, Lazy) else value


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Adapters:
    """Everything a task handler touches outside pure code.

    Heavy members may be given as :class:`Lazy`; read them through the properties
    (:attr:`extractor`, :attr:`embedder`, :attr:`index`).
    """

    objects: ObjectStore
    """Serves source buckets, the ``file`` bucket, the work and quarantine buckets."""
    manifest: Manifest
    quarantine: Quarantine
    reviews: ReviewStore
    audit: Audit
    notifier: Notifier
    extractor_: Extractor | Lazy[Extractor]
    embedder_: Any
    """An ``Embedder`` (kbflow.tasks.adapters.embedder) or ``Lazy`` of one."""
    index_: Any
    """An ``Index`` (kbflow.tasks.adapters.index) or ``Lazy`` of one."""
    work_bucket: str = WORK_BUCKET
    quarantine_bucket: str = QUARANTINE_BUCKET
    quarantine_prefix: str = ""
    """Key prefix of quarantined originals (``quarantine/`` when sharing the work bucket)."""
    clock: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], None] = time.sleep
    http_transport: Any = None
    """An ``httpx`` transport for fetch/crawl (tests pass ``httpx.MockTransport``)."""
    mode: str = "local"
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Host-specific settings (e.g. the reviewer console URL)."""

    @property
    def extractor(self) -> Extractor:
        """The extractor (built on first use)."""
        return _resolve(self.extractor_)  # type: ignore[no-any-return]

    @property
    def embedder(self) -> Any:
        """The embedder (built on first use)."""
        return _resolve(self.embedder_)

    @property
    def index(self) -> Any:
        """The search index (built on first use)."""
        return _resolve(self.index_)


def local_adapters(
    store: str | os.PathLike[str],
    *,
    file_roots: Sequence[str | os.PathLike[str]] = (),
    **overrides: Any,
) -> Adapters:
    """The embedded adapters over one store folder (docs/contracts.md "Local store directory").

    Args:
        store: The store folder (``.kbflow`` by default in the CLI).
        file_roots: Folders the ``file`` bucket may serve (the ingest sources).
        **overrides: Replace any :class:`Adapters` field (e.g. ``embedder_=FakeEmbedder()``).

    Returns:
        The bundle; the embedder, index and extractor load on first use.
    """
    from kbflow.tasks.adapters import stores
    from kbflow.tasks.adapters.extractors import LocalExtractor

    root = Path(store).absolute()
    db = stores.SqliteDatabase(root / "kbflow.sqlite3")
    fields: dict[str, Any] = {
        "objects": LocalObjectStore(
            {WORK_BUCKET: root / "work", QUARANTINE_BUCKET: root / "quarantine"},
            file_roots=file_roots,
        ),
        "manifest": stores.SqliteManifest(db),
        "quarantine": stores.SqliteQuarantine(db),
        "reviews": stores.SqliteReviewStore(db),
        "audit": stores.SqliteAudit(db),
        "notifier": stores.SqliteNotifier(db),
        "extractor_": Lazy(LocalExtractor),
        "embedder_": Lazy(_local_embedder),
        "index_": Lazy(lambda: _local_index(root)),
        "mode": "local",
        "extras": {"store": str(root)},
    }
    fields.update(overrides)
    return Adapters(**fields)


def _local_embedder() -> Any:
    from kbflow.tasks.adapters.embedder import default_local_embedder

    return default_local_embedder()


def _local_index(root: Path) -> Any:
    from kbflow.tasks.adapters.index import LocalIndex

    return LocalIndex(root / "index.sqlite3")


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigurationError(f"KBFLOW_ADAPTERS=aws needs the environment variable {name}")
    return value


def aws_adapters(env: Mapping[str, str] | None = None, **overrides: Any) -> Adapters:
    """The AWS adapters (S3, DynamoDB, SNS, Textract, Bedrock, OpenSearch/Kendra) from ``env``.

    Raises:
        ConfigurationError: A required variable is missing.
    """
    import boto3
    from kbflow.tasks.adapters import dynamo
    from kbflow.tasks.adapters.objectstore import S3ObjectStore

    env = os.environ if env is None else env
    work = _require(env, "KBFLOW_WORK_BUCKET")
    quarantine_bucket = env.get("KBFLOW_QUARANTINE_BUCKET") or work
    ddb = boto3.resource("dynamodb")
    fields: dict[str, Any] = {
        "objects": S3ObjectStore(boto3.client("s3")),
        "manifest": dynamo.DynamoManifest(ddb.Table(_require(env, "KBFLOW_MANIFEST_TABLE"))),
        "quarantine": dynamo.DynamoQuarantine(ddb.Table(_require(env, "KBFLOW_QUARANTINE_TABLE"))),
        "reviews": dynamo.DynamoReviewStore(ddb.Table(_require(env, "KBFLOW_REVIEWS_TABLE"))),
        "audit": dynamo.DynamoAudit(ddb.Table(_require(env, "KBFLOW_AUDIT_TABLE"))),
        "notifier": dynamo.SnsNotifier(
            boto3.client("sns"), _require(env, "KBFLOW_NOTIFY_TOPIC_ARN")
        ),
        "extractor_": Lazy(_textract),
        "embedder_": Lazy(_bedrock),
        "index_": Lazy(lambda: _aws_index(env)),
        "work_bucket": work,
        "quarantine_bucket": quarantine_bucket,
        "quarantine_prefix": "" if quarantine_bucket != work else "quarantine/",
        "mode": "aws",
    }
    fields.update(overrides)
    return Adapters(**fields)


def _textract() -> Extractor:
    import boto3
    from kbflow.tasks.adapters.extractors import TextractExtractor

    return TextractExtractor(boto3.client("textract"))


def _bedrock() -> Any:
    from kbflow.tasks.adapters.embedder import BedrockEmbedder

    return BedrockEmbedder.from_env()


def _aws_index(env: Mapping[str, str]) -> Any:
    from kbflow.tasks.adapters import index

    if env.get("KBFLOW_INDEX", "opensearch") == "kendra":
        return index.KendraIndex.from_env()
    return index.OpenSearchIndex.from_env()


def local_environ(
    store: str | os.PathLike[str], file_roots: Sequence[str | os.PathLike[str]] = ()
) -> dict[str, str]:
    """Environment variables making :func:`from_env` build the local bundle in a worker process."""
    return {
        "KBFLOW_ADAPTERS": "local",
        "KBFLOW_STORE": str(Path(store).absolute()),
        "KBFLOW_FILE_ROOTS": os.pathsep.join(str(Path(r).resolve()) for r in file_roots),
    }


_cache_lock = threading.Lock()
_from_env: Adapters | None = None
_installed: list[Adapters] = []
_stack_lock = threading.Lock()
_scoped: ContextVar[Adapters | None] = ContextVar("kbflow_adapters", default=None)


def from_env() -> Adapters:
    """The bundle described by the environment, built once per process.

    Raises:
        ConfigurationError: ``KBFLOW_ADAPTERS`` is neither ``local`` nor ``aws``, or AWS settings
            are missing.
    """
    global _from_env
    with _cache_lock:
        if _from_env is None:
            mode = os.environ.get("KBFLOW_ADAPTERS", "local")
            if mode == "local":
                roots = [r for r in os.environ.get("KBFLOW_FILE_ROOTS", "").split(os.pathsep) if r]
                _from_env = local_adapters(
                    os.environ.get("KBFLOW_STORE", ".kbflow"), file_roots=roots
                )
            elif mode == "aws":
                _from_env = aws_adapters()
            else:
                raise ConfigurationError(f"KBFLOW_ADAPTERS must be 'local' or 'aws', got {mode!r}")
        return _from_env


def reset_from_env() -> None:
    """Forget the cached :func:`from_env` bundle (tests; after changing the environment)."""
    global _from_env
    with _cache_lock:
        _from_env = None


def current() -> Adapters:
    """The bundle for this call.

    In order: the bundle of the innermost :func:`use_adapters` block in this thread/context,
    else the innermost one active in any thread (so engine worker threads see a bundle a test
    or host installed around them), else :func:`install`'s, else :func:`from_env`.
    """
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    with _stack_lock:
        if _installed:
            return _installed[-1]
    return from_env()


def install(adapters: Adapters) -> None:
    """Install ``adapters`` for this process (a host such as the CLI), replacing any installed."""
    with _stack_lock:
        _installed[:] = [adapters]


@contextmanager
def use_adapters(adapters: Adapters) -> Iterator[Adapters]:
    """Use ``adapters`` for the duration of a ``with`` block (tests, hosts, per-call wrappers).

    Safe when several threads use different bundles at once: each thread sees its own.
    """
    token = _scoped.set(adapters)
    with _stack_lock:
        _installed.append(adapters)
    try:
        yield adapters
    finally:
        _scoped.reset(token)
        with _stack_lock:
            for i in range(len(_installed) - 1, -1, -1):
                if _installed[i] is adapters:
                    del _installed[i]
                    break
