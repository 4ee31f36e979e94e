"""Fakes shared by the handler tests (a Lambda context, a deterministic embedder)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:kbflow-ingestion:run-1"


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda runtime's context object that handlers may read."""

    function_name: str = "kbflow-Test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:kbflow-Test"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "req-0001"
    log_group_name: str = "/aws/lambda/kbflow-Test"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class HashEmbedder:
    """A deterministic bag-of-words embedder (16 dims), so tests need no model."""

    dimension = 16
    model_id = "test-hash-16"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        self.batches.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, hashlib.md5(word.encode()).digest()[0] % self.dimension] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())
