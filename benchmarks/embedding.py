"""Document embedding speed: fp32 against bf16, and late chunking against two passes.

    python benchmarks/embedding.py [--paragraphs 600] [--repeats 1]

Embeds the first `--paragraphs` paragraphs of SQuAD v1.1 dev (read from the shared data folder,
see `qa.evaluation.default_data_dir`) in one process, each way timed `--repeats` times (the
fastest run counts):

- baseline: plain `SentenceTransformer.encode` in fp32, batch 32, the Embedder's torch threads;
- `Embedder.encode` of the paragraphs in bf16;
- `Embedder.encode_passages` in bf16 and fp32: the paragraphs and their sentences
  (`qa.chunking.split_paragraph`) in one pass;
- `Embedder.encode` of the paragraphs, then of the sentences (what an index did before late
  chunking), in bf16 and fp32.

Then how far late-chunked sentence vectors are from separately encoded ones (cosine, mean and
5th percentile). Speed ratios to the baseline are what to compare across machines; seconds
depend on the machine's load, printed with the table. bf16 needs a CPU with AMX or AVX512-BF16
(without them torch emulates it, slower than fp32).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from qa.chunking import split_paragraph
from qa.embedding import BF16, DEFAULT_MODEL, FP32, MODELS, Embedder, cpu_has_native_bf16
from qa.evaluation import percentile, squad_documents

DEFAULT_PARAGRAPHS = 600
BATCH_SIZE = 32  # sentence-transformers' default, and the Embedder's slice size
WARM_UP_TEXTS = 8  # more than a short call, so each path's batch code is warm


@dataclass(frozen=True)
class Corpus:
    """Paragraph texts and, per paragraph, its sentence spans relative to the paragraph."""

    paragraphs: list[str]
    spans: list[list[tuple[int, int]]]

    @property
    def sentences(self) -> list[str]:
        return [text[s:e] for text, spans in zip(self.paragraphs, self.spans) for s, e in spans]


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: float


def load_corpus(count: int) -> Corpus:
    """The first `count` SQuAD dev paragraphs (their content span, without stray whitespace)."""
    documents, _ = squad_documents()
    paragraphs, spans = [], []
    for document in documents[:count]:
        start, end = document.paragraphs[0]
        paragraphs.append(document.text[start:end])
        spans.append([(s - start, e - start) for s, e in split_paragraph(document.text, start, end)])
    return Corpus(paragraphs, spans)


def best_of(repeats: int, call: Callable[[], object]) -> tuple[float, object]:
    """Fastest wall time of `repeats` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def baseline_model(threads: int) -> Callable[[list[str]], np.ndarray]:
    """Plain sentence-transformers on the packaged model, fp32, with `threads` torch threads."""
    import torch
    from sentence_transformers import SentenceTransformer

    spec = MODELS[DEFAULT_MODEL]
    model = SentenceTransformer(str(resources.files(spec.module) / spec.subdir), device="cpu", local_files_only=True)
    torch.set_num_threads(threads)

    def encode(texts: list[str]) -> np.ndarray:
        torch.set_num_threads(threads)  # the Embedders' short calls may have changed it
        return model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True)

    return encode


def two_passes(embedder: Embedder, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Paragraph vectors and sentence vectors from two separate `encode` calls."""
    return embedder.encode(corpus.paragraphs), embedder.encode(corpus.sentences)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def cosine_cells(values: np.ndarray) -> str:
    return f"{float(np.mean(values)):.4f} | {percentile(values.tolist(), 5):.4f}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=DEFAULT_PARAGRAPHS)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()
    corpus = load_corpus(args.paragraphs)
    sentences = corpus.sentences
    spec = MODELS[DEFAULT_MODEL]
    by_precision = {p: Embedder(spec, precision=p) for p in (BF16, FP32)}
    baseline = baseline_model(by_precision[FP32].threads)
    warm_up = corpus.paragraphs[:WARM_UP_TEXTS]
    baseline(warm_up)
    for embedder in by_precision.values():
        embedder.encode(warm_up)
        embedder.encode_passages(warm_up, corpus.spans[:WARM_UP_TEXTS])

    timings: list[Timing] = []
    results: dict[str, object] = {}

    def measure(label: str, call: Callable[[], object]) -> None:
        log(f"timing: {label}")
        seconds, results[label] = best_of(args.repeats, call)
        timings.append(Timing(label, seconds))

    measure("baseline: SentenceTransformer.encode, fp32", lambda: baseline(corpus.paragraphs))
    measure("Embedder.encode, bf16", lambda: by_precision[BF16].encode(corpus.paragraphs))
    for precision in (BF16, FP32):
        embedder = by_precision[precision]
        measure(
            f"Embedder.encode_passages (paragraphs + sentences, one pass), {precision}",
            lambda e=embedder: e.encode_passages(corpus.paragraphs, corpus.spans),
        )
        measure(
            f"Embedder.encode paragraphs, then sentences (two passes), {precision}",
            lambda e=embedder: two_passes(e, corpus),
        )
    load_after = os.getloadavg()

    print(
        f"\nSQuAD v1.1 dev, first {len(corpus.paragraphs)} paragraphs ({len(sentences)} sentences), "
        f"torch threads {by_precision[FP32].threads}, CPU native bf16: {cpu_has_native_bf16()}, "
        f"best of {args.repeats}; load average (1/5/15 min) "
        f"{' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in load_after)} after\n"
    )
    print("| way | seconds | paragraphs/s | speed vs baseline |")
    print("|---|---|---|---|")
    base = timings[0].seconds
    for timing in timings:
        rate = len(corpus.paragraphs) / timing.seconds
        print(f"| {timing.label} | {timing.seconds:.1f} | {rate:.1f} | {base / timing.seconds:.2f}x |")

    label = "Embedder.encode_passages (paragraphs + sentences, one pass), {}"
    late_text, late_spans = results[label.format(BF16)]  # type: ignore[misc]
    late = np.concatenate(late_spans)
    separate = {p: results[f"Embedder.encode paragraphs, then sentences (two passes), {p}"] for p in (BF16, FP32)}
    print("\n| vectors compared | cosine mean | cosine p5 |")
    print("|---|---|---|")
    print(f"| late-chunked sentences (bf16) vs separately encoded (bf16) | {cosine_cells(cosines(late, separate[BF16][1]))} |")
    print(f"| late-chunked sentences (bf16) vs separately encoded (fp32) | {cosine_cells(cosines(late, separate[FP32][1]))} |")
    print(f"| paragraphs: encode_passages (bf16) vs encode (bf16) | {cosine_cells(cosines(late_text, separate[BF16][0]))} |")
    print(f"| paragraphs: Embedder.encode bf16 vs baseline fp32 | {cosine_cells(cosines(results[timings[1].label], results[timings[0].label]))} |")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
