"""Test doubles for kbflow.tasks.core."""

from __future__ import annotations

from dataclasses import dataclass, field

from kbflow.tasks.core.ocr import OcrResult
from PIL import Image

__all__ = ["FakeOcr"]


@dataclass
class FakeOcr:
    """An OcrEngine that returns fixed text and records the images it was given."""

    text: str = "Recognised text from a scanned page"
    confidence: float | None = 0.9
    images: list[tuple[int, int]] = field(default_factory=list)

    def recognise(self, image: Image.Image) -> OcrResult:
        self.images.append(image.size)
        return OcrResult(lines=(), text=self.text, confidence=self.confidence)
