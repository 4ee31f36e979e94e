"""Measure the document-processing pure functions on this machine.

Usage::

    python benchmarks/core_extraction.py [CORPUS] [--ocr-limit N]

Without CORPUS it measures the generated sample corpus (``kbflow sample``). With CORPUS (a folder
made by ``../shared/corpus/fetch-corpus.sh``) it also runs detect + extract + clean + PII + chunk
on every document under ``CORPUS/docs`` and OCR on ``CORPUS/docs/img`` against
``CORPUS/ocr-truth``. Prints: PDF text-layer pages/s, HTML docs/s, OCR seconds per page and word
accuracy, the outcome per document type, and the slowest documents.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from kbflow.tasks.core import media
from kbflow.tasks.core.chunking import chunk
from kbflow.tasks.core.clean import clean_text
from kbflow.tasks.core.errors import TaskError
from kbflow.tasks.core.extract import extract
from kbflow.tasks.core.ocr import default_engine, word_accuracy
from kbflow.tasks.core.pii import find_pii
from kbflow.tasks.core.samples import pdf_bytes, sample_files


def _rate(label: str, count: int, seconds: float, unit: str) -> None:
    print(f"{label:42} {count / seconds:9.1f} {unit}/s   ({count} in {seconds:.2f} s)")


def bench_generated() -> None:
    """Throughput on generated documents and OCR accuracy on the sample images."""
    files = sample_files()
    long_pdf = pdf_bytes("\n\n".join(
        f"## Section {i}\n\n" + "The bank must verify the identity of every customer. " * 40
        for i in range(60)), title="long", running_header="Bank", page_per_section=True)
    pages = extract(long_pdf, media.PDF).pages
    start = time.perf_counter()
    for _ in range(5):
        extract(long_pdf, media.PDF)
    _rate("PDF text layer (generated, 60 pages)", 5 * pages, time.perf_counter() - start, "pages")
    htmls = [f.data for f in files if f.media_type == media.HTML]
    start = time.perf_counter()
    for _ in range(40):
        for data in htmls:
            extract(data, media.HTML)
    _rate("HTML (generated sample pages)", 40 * len(htmls), time.perf_counter() - start, "docs")
    engine = default_engine()
    for sample in (f for f in files if f.text):
        start = time.perf_counter()
        result = extract(sample.data, sample.media_type, ocr=engine)
        took = time.perf_counter() - start
        print(f"OCR {sample.path:42} {took:5.2f} s/page  conf {result.ocr_confidence:.3f}  "
              f"word accuracy {word_accuracy(sample.text, result.text):.3f}")


def bench_corpus(root: Path, ocr_limit: int) -> None:
    """Every document of a fetched corpus through detect/extract/clean/PII/chunk."""
    docs = sorted(p for p in (root / "docs").rglob("*") if p.is_file() and "/img/" not in str(p))
    outcomes: Counter[str] = Counter()
    pdf_pages, pdf_time, html_docs, html_time = 0, 0.0, 0, 0.0
    slow: list[tuple[float, str]] = []
    for path in docs:
        data = path.read_bytes()
        kind = path.relative_to(root / "docs").parts[0]
        start = time.perf_counter()
        try:
            detected = media.detect_media_type(data, path.name)
            result = extract(data, detected, ocr=default_engine())
            chunk(clean_text(result.text))
            find_pii(result.text)
            outcomes[f"{kind}: ok"] += 1
        except TaskError as exc:
            outcomes[f"{kind}: {exc.error_name}"] += 1
            print(f"  {exc.error_name}: {path.relative_to(root)}: {exc.cause[:120]}")
            continue
        except Exception as exc:  # noqa: BLE001 - a bug: report it and go on
            outcomes[f"{kind}: UNEXPECTED {type(exc).__name__}"] += 1
            print(f"  UNEXPECTED {type(exc).__name__}: {path.relative_to(root)}: {exc}")
            continue
        finally:
            took = time.perf_counter() - start
            slow.append((took, str(path.relative_to(root))))
        if detected == media.PDF and not result.ocr_used:
            pdf_pages, pdf_time = pdf_pages + result.pages, pdf_time + took
        elif detected == media.HTML:
            html_docs, html_time = html_docs + 1, html_time + took
    for key, n in sorted(outcomes.items()):
        print(f"  {key:40} {n}")
    if pdf_time:
        _rate("PDF text layer + clean/PII/chunk (corpus)", pdf_pages, pdf_time, "pages")
    if html_time:
        _rate("HTML + clean/PII/chunk (corpus)", html_docs, html_time, "docs")
    for took, name in sorted(slow, reverse=True)[:5]:
        print(f"  slow: {took:6.2f} s  {name}")
    _ocr_truth(root, ocr_limit)


def _ocr_truth(root: Path, limit: int) -> None:
    images = sorted((root / "docs" / "img").rglob("*.png"))[:limit]
    times, accuracies = [], []
    for image in images:
        truth = root / "ocr-truth" / (image.stem + ".gt.txt")
        if not truth.exists():
            continue
        start = time.perf_counter()
        result = extract(image.read_bytes(), media.PNG, ocr=default_engine())
        times.append(time.perf_counter() - start)
        accuracies.append(word_accuracy(truth.read_text(errors="replace"), result.text))
        print(f"  OCR {image.name[:60]:60} {times[-1]:5.2f} s  acc {accuracies[-1]:.3f}")
    if times:
        print(f"OCR on corpus page images: {statistics.mean(times):.2f} s/page, word accuracy "
              f"mean {statistics.mean(accuracies):.3f} min {min(accuracies):.3f} "
              f"(n={len(times)})")


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--ocr-limit", type=int, default=10)
    args = parser.parse_args()
    bench_generated()
    if args.corpus:
        bench_corpus(args.corpus, args.ocr_limit)


if __name__ == "__main__":
    main()
