"""Document embedding speed: fp32 against bf16, and late chunking against two passes.

    python benchmarks/embedding.py [--paragraphs 600] [--block 100]

Embeds the first `--paragraphs` paragraphs of SQuAD v1.1 dev (read from the shared data folder,
see `qa.eval.evaluation.default_data_dir`) in one process, in rounds of `--block` paragraphs: every
way embeds a block (ways in rotating order) before any embeds the next, and a way's seconds are
summed over the rounds. On a shared machine the load then falls on every row alike. The ways:

- baseline: plain `SentenceTransformer.encode` in fp32, batch 32, the Embedder's torch threads;
- `Embedder.encode` of the paragraphs in bf16 and fp32, and in bf16 with slices of 32 texts
  whatever their length (the Embedder cuts a slice at 8,000 characters in bf16, 4,000 in fp32,
  so that a waiting question waits for little: this row shows what that costs);
- `Embedder.encode_passages` in bf16 and fp32: the paragraphs and their sentences
  (`qa.text.chunking.split_paragraph`) in one pass;
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

from qa.text.chunking import split_paragraph
from qa.models.embedding import Embedder
from qa.models.packaged import DEFAULT_MODEL, MODELS
from qa.models.precision import BF16, FP32, cpu_has_native_bf16
from qa.eval.evaluation import percentile, squad_documents

DEFAULT_PARAGRAPHS = 600
# Paragraphs per round: every way embeds a block before any embeds the next, so a change in the
# machine's load (2 cores shared with other work) falls on all ways alike instead of on one row.
BLOCK_PARAGRAPHS = 100
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


def load_corpus(count: int) -> Corpus:
    """The first `count` SQuAD dev paragraphs (their content span, without stray whitespace)."""
    documents, _ = squad_documents()
    paragraphs, spans = [], []
    for document in documents[:count]:
        start, end = document.paragraphs[0]
        paragraphs.append(document.text[start:end])
        spans.append([(s - start, e - start) for s, e in split_paragraph(document.text, start, end)])
    return Corpus(paragraphs, spans)


def blocks(corpus: Corpus, size: int) -> list[Corpus]:
    """`corpus` cut into consecutive blocks of `size` paragraphs."""
    return [
        Corpus(corpus.paragraphs[i : i + size], corpus.spans[i : i + size])
        for i in range(0, len(corpus.paragraphs), size)
    ]


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


def whole_batches(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """`embedder.encode` with slices cut by count only (32 texts), not at `slice_chars`
    characters: what the character budget, which bounds a waiting question's delay, costs."""
    budget, embedder.slice_chars = embedder.slice_chars, sys.maxsize
    try:
        return embedder.encode(texts)
    finally:
        embedder.slice_chars = budget


def two_passes(embedder: Embedder, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Paragraph vectors and sentence vectors from two separate `encode` calls."""
    return embedder.encode(corpus.paragraphs), embedder.encode(corpus.sentences)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def cosine_cells(values: np.ndarray) -> str:
    return f"{float(np.mean(values)):.4f} | {percentile(values.tolist(), 5):.4f}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# One way of embedding a block: its label and the call; results are merged after all rounds.
Way = tuple[str, Callable[[Corpus], object]]
BASELINE = "baseline: SentenceTransformer.encode, fp32"
ENCODE = "Embedder.encode, {}"
ENCODE_BF16 = ENCODE.format(BF16)
WHOLE_BATCHES = "Embedder.encode, bf16, slices of 32 texts whatever their length"
PASSAGES = "Embedder.encode_passages (paragraphs + sentences, one pass), {}"
TWO_PASSES = "Embedder.encode paragraphs, then sentences (two passes), {}"


def ways(by_precision: dict[str, Embedder], baseline: Callable[[list[str]], np.ndarray]) -> list[Way]:
    """Every way the table compares, the baseline first."""
    listed: list[Way] = [(BASELINE, lambda block: baseline(block.paragraphs))]
    for precision in (BF16, FP32):
        listed.append((ENCODE.format(precision), lambda block, e=by_precision[precision]: e.encode(block.paragraphs)))
    listed.append((WHOLE_BATCHES, lambda block: whole_batches(by_precision[BF16], block.paragraphs)))
    for precision in (BF16, FP32):
        embedder = by_precision[precision]
        listed.append((PASSAGES.format(precision), lambda block, e=embedder: e.encode_passages(block.paragraphs, block.spans)))
        listed.append((TWO_PASSES.format(precision), lambda block, e=embedder: two_passes(e, block)))
    return listed


def run_rounds(
    listed: list[Way], corpus: Corpus, block_size: int
) -> tuple[dict[str, float], dict[str, list[object]], list[float]]:
    """Seconds per way summed over the blocks, each way's result per block, and the 1-minute
    load average at each round's start. Each round starts with a different way (rotation)."""
    seconds = {label: 0.0 for label, _ in listed}
    results: dict[str, list[object]] = {label: [] for label, _ in listed}
    loads = []
    for number, block in enumerate(blocks(corpus, block_size)):
        loads.append(os.getloadavg()[0])
        log(f"round {number + 1}: {len(block.paragraphs)} paragraphs, load {loads[-1]:.2f}")
        shift = number % len(listed)
        for label, call in listed[shift:] + listed[:shift]:
            started = time.perf_counter()
            results[label].append(call(block))
            seconds[label] += time.perf_counter() - started
    return seconds, results, loads


def print_speed(seconds: dict[str, float], paragraphs: int) -> None:
    print("| way | seconds | paragraphs/s | speed vs baseline |")
    print("|---|---|---|---|")
    base = seconds[BASELINE]
    for label, taken in seconds.items():
        print(f"| {label} | {taken:.1f} | {paragraphs / taken:.1f} | {base / taken:.2f}x |")


def print_cosines(results: dict[str, list[object]]) -> None:
    """How far late-chunked vectors are from those of separate `encode` calls."""
    late_text = np.concatenate([text for text, _ in results[PASSAGES.format(BF16)]])  # type: ignore[misc]
    late = np.concatenate([v for _, spans in results[PASSAGES.format(BF16)] for v in spans])  # type: ignore[misc]
    separate = {
        p: [np.concatenate(part) for part in zip(*results[TWO_PASSES.format(p)])] for p in (BF16, FP32)
    }
    bf16 = np.concatenate(results[ENCODE_BF16])  # type: ignore[arg-type]
    baseline = np.concatenate(results[BASELINE])  # type: ignore[arg-type]
    print("\n| vectors compared | cosine mean | cosine p5 |")
    print("|---|---|---|")
    print(f"| late-chunked sentences (bf16) vs separately encoded (bf16) | {cosine_cells(cosines(late, separate[BF16][1]))} |")
    print(f"| late-chunked sentences (bf16) vs separately encoded (fp32) | {cosine_cells(cosines(late, separate[FP32][1]))} |")
    print(f"| paragraphs: encode_passages (bf16) vs encode (bf16) | {cosine_cells(cosines(late_text, separate[BF16][0]))} |")
    print(f"| paragraphs: Embedder.encode bf16 vs baseline fp32 | {cosine_cells(cosines(bf16, baseline))} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=DEFAULT_PARAGRAPHS)
    parser.add_argument("--block", type=int, default=BLOCK_PARAGRAPHS, help="paragraphs per round")
    args = parser.parse_args()
    corpus = load_corpus(args.paragraphs)
    spec = MODELS[DEFAULT_MODEL]
    by_precision = {p: Embedder(spec, precision=p) for p in (BF16, FP32)}
    baseline = baseline_model(by_precision[FP32].threads)
    listed = ways(by_precision, baseline)
    warm_up = blocks(corpus, WARM_UP_TEXTS)[0]
    for _, call in listed:
        call(warm_up)
    load_before = os.getloadavg()
    seconds, results, loads = run_rounds(listed, corpus, args.block)
    load_after = os.getloadavg()
    print(
        f"\nSQuAD v1.1 dev, first {len(corpus.paragraphs)} paragraphs ({len(corpus.sentences)} sentences), "
        f"rounds of {args.block}, torch threads {by_precision[FP32].threads}, "
        f"CPU native bf16: {cpu_has_native_bf16()}. Load average (1/5/15 min): "
        f"{' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in load_after)} after; "
        f"1-min at each round's start {', '.join(f'{x:.2f}' for x in loads)}\n"
    )
    print_speed(seconds, len(corpus.paragraphs))
    print_cosines(results)


if __name__ == "__main__":
    main()
