"""OCR behind a one-method protocol, with RapidOCR (ONNX models shipped in the wheel) as default.

``rapidocr`` 3.x ships its detection, classification and recognition ONNX models inside the
wheel (``rapidocr/models/*.onnx``); with its default configuration it loads them from there and
never downloads. :func:`default_engine` builds one engine per process, lazily, on first use,
because loading the models costs about half a second and a few hundred MB of RAM.

Lines are assembled in reading order (top to bottom, then left to right, with a paragraph break
where the vertical gap is larger than a line) and the confidence is the character-weighted
mean of the recogniser's line scores.
"""

from __future__ import annotations

import difflib
import logging
import re
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kbflow.tasks.core.errors import ExtractionFailed

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "OcrEngine",
    "OcrLine",
    "OcrResult",
    "RapidOcrEngine",
    "assemble_lines",
    "crop_to_ink",
    "default_engine",
    "word_accuracy",
]


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised text line.

    Attributes:
        text: The recognised text.
        confidence: Recogniser score in [0, 1].
        box: ``(left, top, right, bottom)`` in image pixels.
    """

    text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class OcrResult:
    """The OCR result for one image.

    Attributes:
        lines: Recognised lines in reading order.
        text: The lines joined into paragraphs (``\\n`` within, ``\\n\\n`` between).
        confidence: Character-weighted mean line confidence; ``None`` when nothing was read.
    """

    lines: tuple[OcrLine, ...]
    text: str
    confidence: float | None


@runtime_checkable
class OcrEngine(Protocol):
    """Anything that turns an image into text (RapidOCR here, Textract on AWS, fakes in tests)."""

    def recognise(self, image: Image.Image) -> OcrResult:
        """Recognise the text in ``image``.

        Raises:
            ExtractionFailed: The engine failed on this image.
        """
        ...


class RapidOcrEngine:
    """OCR with RapidOCR on onnxruntime, using the models bundled in the ``rapidocr`` wheel.

    Args:
        use_cls: Run the text-direction classifier (needed only for upside-down text).
        threads: onnxruntime intra-op threads; ``-1`` lets onnxruntime decide.
        min_score: Drop lines whose recognition score is below this.
    """

    def __init__(self, *, use_cls: bool = False, threads: int = -1, min_score: float = 0.5) -> None:
        from rapidocr import RapidOCR  # heavy import: only when OCR is used

        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": use_cls,
            "Global.text_score": min_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            # Default "min"/736 upscales any image whose short side is under 736 px, so a
            # one-line crop became ~4000 px wide (2.3 s instead of 0.08 s, same words read).
            # Scale only down, and only images over 2000 px.
            "Det.limit_type": "max",
            "Det.limit_side_len": 2000,
        }
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)

    def recognise(self, image: Image.Image) -> OcrResult:
        """Recognise the text in ``image`` (any PIL mode; converted to RGB).

        The image is first cropped to its dark content (plus a margin): a scanned page is
        mostly paper, and the detector's cost grows with the pixels it sees.
        """
        import numpy as np

        pixels = np.asarray(crop_to_ink(image).convert("RGB"))
        try:
            with self._lock:  # an onnxruntime session is not safe to share across threads here
                output: Any = self._engine(pixels)
        except Exception as exc:  # noqa: BLE001 - any engine failure is an extraction failure
            raise ExtractionFailed(f"OCR engine failed: {type(exc).__name__}") from exc
        boxes = output.boxes if output.boxes is not None else []
        texts = output.txts or ()
        scores = output.scores or ()
        lines = [
            OcrLine(text=str(t).strip(), confidence=float(s), box=_bounds(b))
            for b, t, s in zip(boxes, texts, scores, strict=False)
            if str(t).strip()
        ]
        return assemble_lines(lines)


def assemble_lines(lines: Sequence[OcrLine]) -> OcrResult:
    """Order OCR lines for reading and join them into paragraphs.

    Boxes whose vertical centres are within half a line height of each other form one row
    (joined left to right with a space); a gap above a row larger than the median line height
    starts a new paragraph.

    Args:
        lines: Lines in any order.

    Returns:
        The :class:`OcrResult` with ordered lines, text and confidence.
    """
    if not lines:
        return OcrResult(lines=(), text="", confidence=None)
    height = statistics.median(max(1.0, ln.box[3] - ln.box[1]) for ln in lines)
    rows = _group_rows(sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2), height)
    parts: list[str] = []
    previous_bottom: float | None = None
    ordered: list[OcrLine] = []
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
        ordered.extend(row)
        top = min(ln.box[1] for ln in row)
        if previous_bottom is not None:
            parts.append("\n\n" if top - previous_bottom > height else "\n")
        parts.append(" ".join(ln.text for ln in row))
        previous_bottom = max(ln.box[3] for ln in row)
    return OcrResult(lines=tuple(ordered), text="".join(parts), confidence=_confidence(ordered))


_DEFAULT: RapidOcrEngine | None = None
_DEFAULT_LOCK = threading.Lock()


def default_engine() -> RapidOcrEngine:
    """Return the process-wide :class:`RapidOcrEngine`, creating it on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = RapidOcrEngine()
    return _DEFAULT


def crop_to_ink(image: Image.Image, *, threshold: int = 128, margin: int = 24) -> Image.Image:
    """Crop ``image`` to the bounding box of its dark pixels plus ``margin``; blank stays as is."""
    gray = image.convert("L")
    box = gray.point(lambda v: 255 if v < threshold else 0).getbbox()
    if box is None:
        return image
    left, top, right, bottom = box
    return image.crop((max(0, left - margin), max(0, top - margin),
                       min(image.width, right + margin), min(image.height, bottom + margin)))


def word_accuracy(reference: str, recognised: str) -> float:
    """Share of the reference's words that OCR recognised, in order (case and punctuation ignored).

    Computed with :class:`difflib.SequenceMatcher` over the two word sequences: the matched word
    count divided by the reference word count (1.0 is perfect; extra words are not penalised).
    """
    ref = _words(reference)
    if not ref:
        return 1.0
    matcher = difflib.SequenceMatcher(a=ref, b=_words(recognised), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(ref)


def _words(text: str) -> list[str]:
    tokens = (re.sub(r"[^\w]", "", t).lower() for t in text.replace("#", " ").split())
    return [t for t in tokens if t]


def _group_rows(lines: list[OcrLine], height: float) -> list[list[OcrLine]]:
    rows: list[list[OcrLine]] = []
    centre: float | None = None
    for line in lines:
        mid = (line.box[1] + line.box[3]) / 2
        if centre is None or abs(mid - centre) > height / 2:
            rows.append([line])
            centre = mid
        else:
            rows[-1].append(line)
    return rows


def _confidence(lines: Sequence[OcrLine]) -> float | None:
    weight = sum(len(ln.text) for ln in lines)
    if weight == 0:
        return None
    return round(sum(ln.confidence * len(ln.text) for ln in lines) / weight, 4)


def _bounds(box: Any) -> tuple[float, float, float, float]:
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    return (min(xs), min(ys), max(xs), max(ys))
