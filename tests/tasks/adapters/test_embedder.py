"""Embedders: the local int8 MiniLM against reference vectors, and Bedrock Titan v2 via Stubber."""

from __future__ import annotations

import io
import json
import os
import socket
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from kbflow.errors import ConfigurationError
from kbflow.tasks.adapters.embedder import (
    BedrockEmbedder,
    Embedder,
    EmbeddingError,
    LocalEmbedder,
    default_local_embedder,
    default_tokenizer_path,
    l2_normalise,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # proves nothing is fetched from a hub
REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(threads=2)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def test_local_embedder_matches_reference_model(
    embedder: LocalEmbedder, reference: dict[str, Any]
) -> None:
    texts = [item["text"] for item in reference["items"]]
    ref = np.array([item["vector"] for item in reference["items"]], dtype=np.float32)
    got = embedder.embed(texts)
    cosine = (got * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    assert len(texts) >= 40
    assert cosine.min() >= 0.99, f"min cosine {cosine.min():.4f}"
    assert cosine.mean() >= 0.995


def test_reference_fixture_covers_truncation(
    embedder: LocalEmbedder, reference: dict[str, Any]
) -> None:
    # Some reference texts exceed 256 tokens, so the cosine check above also checks truncation.
    counts = [embedder.count_tokens(item["text"]) for item in reference["items"]]
    assert max(counts) > embedder.max_input_tokens
    assert min(counts) < 64


def test_embed_shape_dtype_and_unit_norm(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["short", "a somewhat longer sentence about indexes", ""])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dimension == 384 and embedder.model_id == "all-MiniLM-L6-v2-onnx-int8"
    assert isinstance(embedder, Embedder)


def test_embed_empty_and_rejects_bare_string(embedder: LocalEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_batching_and_length_sorting_do_not_change_vectors(embedder: LocalEmbedder) -> None:
    texts = [
        "tiny",
        "a medium length text about search " * 3,
        "word " * 400,
        "another short one",
        "x y z",
    ]
    together = embedder.embed(texts)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    small_batches = LocalEmbedder(threads=1, batch_size=2).embed(texts)
    np.testing.assert_allclose(together, one_by_one, atol=2e-5)
    np.testing.assert_allclose(together, small_batches, atol=2e-5)


def test_similar_texts_are_closer_than_unrelated(embedder: LocalEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            "How do I reset my password?",
            "Steps to change a forgotten account password",
            "The recipe needs two cups of flour and an egg",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_count_tokens_is_wordpiece_without_specials(embedder: LocalEmbedder) -> None:
    assert embedder.count_tokens("") == 0
    assert embedder.count_tokens("hello world") == 2
    # "embeddings" is split into word pieces (em ##bed ##ding ##s) by the BERT uncased vocabulary.
    assert embedder.count_tokens("embeddings") == 4
    assert embedder.count_tokens("Hello, World!") == 4
    long = "token " * 1000
    assert embedder.count_tokens(long) == 1000  # not truncated
    assert len(embedder.tokenize([long])[0]) == 256  # but inference input is


def test_tokenizer_file_ships_in_a_package() -> None:
    path = default_tokenizer_path()
    assert path.is_file()
    assert any(part in {"site-packages", "dist-packages"} for part in path.parts)
    vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    assert len(vocab) == 30522


def test_vocab_txt_gives_the_same_vectors(tmp_path: Path, embedder: LocalEmbedder) -> None:
    vocab = json.loads(default_tokenizer_path().read_text(encoding="utf-8"))["model"]["vocab"]
    vocab_txt = tmp_path / "vocab.txt"
    vocab_txt.write_text("\n".join(sorted(vocab, key=vocab.__getitem__)) + "\n", encoding="utf-8")
    other = LocalEmbedder(tokenizer_path=vocab_txt, threads=1)
    texts = ["Licence terms apply to the Software.", "Ünïcödé àccents are stripped"]
    np.testing.assert_allclose(other.embed(texts), embedder.embed(texts), atol=1e-5)


def test_missing_files_raise_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tokenizer not found"):
        LocalEmbedder(tokenizer_path=tmp_path / "nope.json").embed(["x"])
    with pytest.raises(ConfigurationError, match="model not found"):
        LocalEmbedder(model_path=tmp_path / "nope.onnx").embed(["x"])
    with pytest.raises(ConfigurationError):
        LocalEmbedder(batch_size=0)


def test_wrong_vocabulary_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A cased or re-ordered vocabulary would give wrong vectors without any error: refuse it.
    vocab = json.loads(default_tokenizer_path().read_text(encoding="utf-8"))["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.__getitem__)
    tokens[101], tokens[102] = tokens[102], tokens[101]  # swap [CLS] and [SEP]
    swapped = tmp_path / "vocab.txt"
    swapped.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="bert-base-uncased"):
        LocalEmbedder(tokenizer_path=swapped).count_tokens("x")
    short = tmp_path / "short.txt"
    short.write_text("\n".join(tokens[:1000]) + "\n", encoding="utf-8")
    monkeypatch.setenv("KBFLOW_EMBEDDING_TOKENIZER", str(short))
    with pytest.raises(ConfigurationError, match="size 1000"):
        LocalEmbedder().count_tokens("x")


def test_no_network_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = LocalEmbedder(threads=1)  # loads model and tokenizer from installed packages
    assert fresh.embed(["offline"]).shape == (1, 384)


def test_forked_child_builds_its_own_session(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = LocalEmbedder(threads=1)
    before = fresh.embed(["fork safety"])
    parent = fresh._session
    monkeypatch.setattr(os, "getpid", lambda: -7)  # what a child process after fork() sees
    np.testing.assert_allclose(fresh.embed(["fork safety"]), before, atol=1e-6)
    assert fresh._session is not parent and parent in fresh._inherited


def test_counting_tokens_does_not_load_the_model(tmp_path: Path) -> None:
    counter = LocalEmbedder(model_path=tmp_path / "absent.onnx")
    assert counter.count_tokens("three little words") == 3
    with pytest.raises(ConfigurationError, match="model not found"):
        counter.embed(["now the model is needed"])


def test_default_local_embedder_is_a_singleton() -> None:
    assert default_local_embedder() is default_local_embedder()


def test_l2_normalise_keeps_zero_rows() -> None:
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


# -- Bedrock ---------------------------------------------------------------------------------


def _bedrock() -> Any:
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def _titan_response(vector: list[float], tokens: int) -> dict[str, Any]:
    body = json.dumps(
        {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}}
    )
    raw = body.encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


def _titan_request(text: str, dims: int) -> dict[str, Any]:
    body = {"inputText": text, "dimensions": dims, "normalize": True, "embeddingTypes": ["float"]}
    return {
        "modelId": "amazon.titan-embed-text-v2:0",
        "body": json.dumps(body).encode(),
        "contentType": "application/json",
        "accept": "application/json",
    }


def test_bedrock_titan_v2_request_and_response_shapes() -> None:
    client = _bedrock()
    emb = BedrockEmbedder(client, dimensions=256)
    v1, v2 = [0.0] * 256, [0.0] * 256
    v1[0], v2[1] = 2.0, 0.5  # not unit length: the embedder normalises anyway
    with Stubber(client) as stub:
        stub.add_response("invoke_model", _titan_response(v1, 3), _titan_request("first text", 256))
        stub.add_response("invoke_model", _titan_response(v2, 5), _titan_request("second", 256))
        out = emb.embed(["first text", "second"])
        stub.assert_no_pending_responses()
    assert out.shape == (2, 256) and out.dtype == np.float32
    assert out[0, 0] == pytest.approx(1.0) and out[1, 1] == pytest.approx(1.0)
    assert emb.input_tokens == 8
    assert emb.model_id == "amazon.titan-embed-text-v2:0/256" and emb.dimension == 256
    assert isinstance(emb, Embedder)


@pytest.mark.parametrize(
    ("code", "transient"), [("ThrottlingException", True), ("ValidationException", False)]
)
def test_bedrock_errors_are_typed(code: str, transient: bool) -> None:
    client = _bedrock()
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", service_error_code=code, http_status_code=400)
        with pytest.raises(EmbeddingError) as info:
            BedrockEmbedder(client, dimensions=512).embed(["x"])
    assert info.value.transient is transient and code in str(info.value)


def test_bedrock_wrong_dimension_in_response_is_an_error() -> None:
    client = _bedrock()
    with Stubber(client) as stub:
        stub.add_response("invoke_model", _titan_response([0.1] * 10, 1), _titan_request("x", 512))
        with pytest.raises(EmbeddingError, match="expected 512"):
            BedrockEmbedder(client, dimensions=512).embed(["x"])


def test_bedrock_config_and_token_estimate() -> None:
    with pytest.raises(ConfigurationError):
        BedrockEmbedder(_bedrock(), dimensions=300)
    emb = BedrockEmbedder(_bedrock())
    assert emb.count_tokens("") == 0
    assert 3 <= emb.count_tokens("one two three") <= 5
    assert BedrockEmbedder(_bedrock(), token_counter=len).count_tokens("abcd") == 4


def test_bedrock_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("KBFLOW_BEDROCK_EMBED_DIMENSIONS", "256")
    emb = BedrockEmbedder.from_env()
    assert emb.dimension == 256 and emb.model_id.startswith("amazon.titan-embed-text-v2:0")
