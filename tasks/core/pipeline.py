"""The per-document stages after fetch: extract, clean, PII, chunk, embed, index.

Each stage reads its input artifact from the work store, writes its output artifact and returns
the doc with the artifact key and a few small fields added (docs/contracts.md "Payloads").
Document text only ever travels through the work store.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from kbflow.tasks.core.errors import EmptyDocument, InvalidInput
from kbflow.tasks.core.extract import Limits
from kbflow.tasks.core.ingest import artifact_key, options_of, read_original, relative_key

if TYPE_CHECKING:
    from kbflow.tasks.adapters.config import Adapters

__all__ = [
    "TEXT_ORDER",
    "chunk_document",
    "clean_document",
    "embed_chunks",
    "extract_document",
    "index_document",
    "put_text",
    "read_text",
    "redact_document",
    "reindex_text",
]

TEXT_ORDER: Final = ("redacted", "clean", "text")
"""Which text artifact later stages read: the most processed one present."""


def put_text(doc: dict[str, Any], adapters: Adapters, name: str, text: str) -> str:
    """Write a UTF-8 text artifact and return its key."""
    key = artifact_key(doc, f"{name}.txt")
    adapters.objects.put_object(adapters.work_bucket, key, text.encode("utf-8"))
    return key


def read_text(doc: dict[str, Any], adapters: Adapters, names: tuple[str, ...] = TEXT_ORDER) -> str:
    """Read the first text artifact of ``names`` the doc has.

    Raises:
        InvalidInput: The doc has none of them (a stage ran out of order).
    """
    artifacts = doc.get("artifacts") or {}
    for name in names:
        if artifacts.get(name):
            return adapters.objects.get_object(adapters.work_bucket, artifacts[name]).decode(
                "utf-8"
            )
    raise InvalidInput(
        f"doc {doc.get('doc_id')} has no {'/'.join(names)} artifact", pointer="/artifacts"
    )


def _with(doc: dict[str, Any], artifacts: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {**doc, **fields, "artifacts": {**(doc.get("artifacts") or {}), **artifacts}}


def _flag(doc: dict[str, Any], reason: str) -> dict[str, Any]:
    review = dict(doc.get("review") or {"required": False, "reasons": []})
    reasons = list(review.get("reasons") or [])
    if reason not in reasons:
        reasons.append(reason)
    return {"required": True, "reasons": reasons}


def extract_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Extract text (any supported type) into ``artifacts.text``.

    Returns:
        The doc with ``artifacts.text``, ``pages``, ``title``, and ``ocr`` plus a review flag
        when OCR confidence is under ``options.ocr_min_confidence``.
    """
    options = options_of(doc)
    data = read_original(doc, adapters)
    source = doc.get("source") or {}
    result = adapters.extractor.extract(
        data,
        doc["media_type"],
        limits=Limits(max_bytes=int(options["max_bytes"])),
        bucket=source.get("bucket"),
        key=doc.get("key"),
    )
    out = _with(
        doc,
        {"text": put_text(doc, adapters, "text", result.text)},
        pages=result.pages,
        title=result.title[:300],
    )
    if result.ocr_used:
        confidence = result.ocr_confidence
        out["ocr"] = {"confidence": confidence, "pages": result.ocr_pages}
        if confidence is not None and confidence < float(options["ocr_min_confidence"]):
            out["review"] = _flag(out, "low_ocr_confidence")
    return out


def clean_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Normalise the extracted text into ``artifacts.clean``.

    Raises:
        EmptyDocument: Nothing is left after cleaning.
    """
    from kbflow.tasks.core.clean import clean_text

    cleaned = clean_text(read_text(doc, adapters, ("text",)))
    if not cleaned:
        raise EmptyDocument(f"{relative_key(doc)}: no text left after cleaning")
    return _with(doc, {"clean": put_text(doc, adapters, "clean", cleaned)})


def redact_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Detect (and in ``redact`` mode redact) PII; flag the doc for review when found.

    Returns:
        The doc with ``pii`` (``found``, ``kinds``, ``count``), ``artifacts.redacted`` in redact
        mode, and ``review`` when PII was found and ``options.review_pii`` is on.
    """
    from kbflow.tasks.core.pii import scan

    options = options_of(doc)
    report = scan(read_text(doc, adapters, ("clean", "text")), mode=options["pii"])
    summary = {k: report.summary[k] for k in ("found", "kinds", "count")}
    artifacts = {}
    if options["pii"] == "redact":
        artifacts["redacted"] = put_text(doc, adapters, "redacted", report.text)
    out = _with(doc, artifacts, pii=summary)
    if summary["found"] and options["review_pii"]:
        out["review"] = _flag(out, "pii")
    return out


def _chunks_of(text: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    from kbflow.tasks.core.chunking import chunk

    pieces = chunk(
        text, max_tokens=int(options["chunk_tokens"]), overlap_tokens=int(options["chunk_overlap"])
    )
    return [
        {"index": i, "text": c.text, "heading": c.heading, "embed_text": c.embed_text}
        for i, c in enumerate(pieces)
    ]


def chunk_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Split the current text into heading-aware token chunks (``artifacts.chunks``, JSON).

    Raises:
        EmptyDocument: No chunk came out.
    """
    chunks = _chunks_of(read_text(doc, adapters), options_of(doc))
    if not chunks:
        raise EmptyDocument(f"{relative_key(doc)}: no chunks")
    key = artifact_key(doc, "chunks.json")
    adapters.objects.put_object(
        adapters.work_bucket, key, json.dumps(chunks, ensure_ascii=False).encode("utf-8")
    )
    return _with(doc, {"chunks": key}, chunks=len(chunks))


def _load_chunks(doc: dict[str, Any], adapters: Adapters) -> list[dict[str, Any]]:
    key = (doc.get("artifacts") or {}).get("chunks")
    if not key:
        raise InvalidInput(f"doc {doc.get('doc_id')} has no chunks artifact", pointer="/artifacts")
    chunks: list[dict[str, Any]] = json.loads(
        adapters.objects.get_object(adapters.work_bucket, key)
    )
    return chunks


def _embed(texts: list[str], adapters: Adapters, batch: int) -> np.ndarray[Any, Any]:
    parts = [
        np.asarray(adapters.embedder.embed(texts[i : i + batch]), dtype=np.float32)
        for i in range(0, len(texts), batch)
    ]
    return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def _chunk_vectors(
    chunks: list[dict[str, Any]], options: dict[str, Any], adapters: Adapters
) -> np.ndarray[Any, Any]:
    """Each chunk's embedding (its ``embed_text`` when chunking made one), in option batches."""
    texts = [c.get("embed_text") or c["text"] for c in chunks]
    return _embed(texts, adapters, max(1, int(options["embed_batch"])))


def embed_chunks(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Embed the chunks in batches of ``options.embed_batch`` (``artifacts.embeddings``, .npy).

    With ``doc["slice"] = {"start", "size"}`` only that slice is embedded (the ingestion flow
    spreads a long document over several tasks); see :func:`embed_slice`.
    """
    if "slice" in doc:
        return embed_slice(doc, adapters)
    key, matrix = _embed_into(doc, _load_chunks(doc, adapters), "embeddings.npy", adapters)
    return _with(
        doc,
        {"embeddings": key},
        embedding={"model": str(adapters.embedder.model_id), "dimension": int(matrix.shape[1])},
    )


def embed_slice(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Embed ``chunks[start:start + size]`` into its own ``.npy`` in the work store.

    Returns:
        ``{"start", "stop", "key"}``: Index Document stacks the slices in ``start`` order.

    Raises:
        InvalidInput: the slice is malformed or starts outside the document's chunks.
    """
    # The handler's schema (EmbedChunks.input.json) has checked the slice's types.
    start, size = int(doc["slice"]["start"]), int(doc["slice"]["size"])
    chunks = _load_chunks(doc, adapters)
    if not (0 <= start < len(chunks) and size > 0):
        raise InvalidInput(
            f"slice {doc['slice']!r} is not within the document's {len(chunks)} chunks",
            pointer="/slice",
        )
    stop = min(start + size, len(chunks))
    key, _ = _embed_into(doc, chunks[start:stop], f"embeddings-{start:07d}.npy", adapters)
    return {"start": start, "stop": stop, "key": key}


def _embed_into(
    doc: dict[str, Any], chunks: list[dict[str, Any]], name: str, adapters: Adapters
) -> tuple[str, Any]:
    """Embed ``chunks`` in batches of ``options.embed_batch`` into the work-store artifact."""
    matrix = _chunk_vectors(chunks, options_of(doc), adapters)
    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    key = artifact_key(doc, name)
    adapters.objects.put_object(adapters.work_bucket, key, buffer.getvalue())
    return key, matrix


def _load_vectors(doc: dict[str, Any], chunks: int, adapters: Adapters) -> Any:
    """The document's embedding matrix: one ``.npy``, or its slices stacked in order."""
    slices = doc.get("embedding_slices")
    if slices is None:
        key = (doc.get("artifacts") or {}).get("embeddings")
        if not key:
            raise InvalidInput(
                f"doc {doc.get('doc_id')} has no embeddings artifact", pointer="/artifacts"
            )
        return _load_npy(adapters, key)
    ordered = sorted(slices, key=lambda s: int(s["start"])) if isinstance(slices, list) else []
    covered = 0
    for piece in ordered:
        if int(piece["start"]) != covered:
            break
        covered = int(piece["stop"])
    if not ordered or covered != chunks:
        raise InvalidInput(
            f"doc {doc.get('doc_id')}: embedding slices cover chunks 0..{covered}, "
            f"not all {chunks}",
            pointer="/embedding_slices",
        )
    return np.vstack([_load_npy(adapters, str(piece["key"])) for piece in ordered])


def _load_npy(adapters: Adapters, key: str) -> Any:
    return np.load(
        io.BytesIO(adapters.objects.get_object(adapters.work_bucket, key)), allow_pickle=False
    )


def _upsert(
    doc: dict[str, Any], adapters: Adapters, chunks: list[dict[str, Any]], vectors: Any
) -> None:
    from kbflow.tasks.adapters.index import ChunkRecord, IndexedDocument

    source = doc.get("source") or {}
    indexed = IndexedDocument(
        doc_id=doc["doc_id"],
        key=relative_key(doc),
        sha256=str(doc.get("sha256", "")),
        media_type=str(doc.get("media_type", "")),
        title=str(doc.get("title") or ""),
        metadata={
            "source": source.get("site") or source.get("bucket", ""),
            "run_id": doc.get("run_id"),
            "review": bool((doc.get("review") or {}).get("required")),
        },
    )
    records = [
        ChunkRecord(chunk_index=int(c["index"]), text=c["text"], heading=c.get("heading", ""))
        for c in chunks
    ]
    adapters.index.upsert(indexed, records, vectors)


def index_document(doc: dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Replace the document's chunks in the index, atomically (old chunks go in the same write)."""
    chunks = _load_chunks(doc, adapters)
    vectors = _load_vectors(doc, len(chunks), adapters)
    _upsert(doc, adapters, chunks, vectors)
    # The slice plan and list only served this step: later states carry a small doc again.
    rest = {k: v for k, v in doc.items() if k not in ("embed_slices", "embedding_slices")}
    return {**rest, "indexed": {"chunks": len(chunks)}}


def reindex_text(doc: dict[str, Any], text: str, adapters: Adapters) -> int:
    """Chunk, embed and index ``text`` as the document's new content (review edits).

    Returns:
        The number of chunks indexed.

    Raises:
        EmptyDocument: ``text`` yields no chunks.
    """
    options = options_of(doc)
    chunks = _chunks_of(text, options)
    if not chunks:
        raise EmptyDocument(f"{relative_key(doc)}: the edited text is empty")
    vectors = _chunk_vectors(chunks, options, adapters)
    _upsert(doc, adapters, chunks, vectors)
    return len(chunks)
