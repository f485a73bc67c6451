"""Build cost: what indexing costs against one plain fp32 model pass over the same paragraphs.

    python benchmarks/build_cost.py [--paragraphs 600] [--rounds 2] [--methods sentence-pass late separate]
    QA_EMBED_PRECISION=int8 python benchmarks/build_cost.py --methods sentence-pass   # documents in int8
    python benchmarks/build_cost.py --measure passes [--rounds 2]    # each model pass alone, by batch size
    python benchmarks/build_cost.py --measure calls [--block 100]    # each Embedder call, fp32 and bf16

The first `--paragraphs` SQuAD v1.1 dev paragraphs, in one process; every way is timed in turn
each round (so load from other jobs falls on every row alike). The baseline is one plain
`SentenceTransformer.encode` of the paragraphs, fp32, batch 32: what "one model pass" costs a
user of the model. Issue 9's bar: a build <= 0.6x the baseline; ratios are what to compare
across machines, seconds depend on the load (printed).

- `builds` (default): `Index.from_documents` with each way of making vectors: "sentence-pass"
  (qa's default: the sentences encoded, each chunk's vector pooled from its sentences),
  "late" (the chunks encoded, sentences pooled from them) and "separate" (both encoded);
  split, chunk, embed (bf16 where the CPU has it), BM25, write a segment.
- `passes`: the model called directly in bf16 autocast (tokenise, forward, normalise) over the
  paragraphs and over their sentences at several batch sizes: the floor of a two-pass build
  is the sum of the two best passes.
- `calls`: `Embedder.encode` / `encode_passages` / two `encode` calls, in bf16 and fp32, in
  rounds of `--block` paragraphs, then how far late-chunked sentence vectors are from separately
  encoded ones (cosine). bf16 needs AMX or AVX512-BF16 (without them torch emulates it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

import common
from qa.eval.evaluation import percentile, squad_documents
from qa.index.coordinator import Index
from qa.index.settings import VECTOR_METHODS
from qa.loading.documents import Document
from qa.models.embedding import Embedder, load_embedder
from qa.models.packaged import DEFAULT_MODEL, MODELS
from qa.models.precision import BF16, FP32, cpu_has_native_bf16
from qa.text.chunking import split_paragraph, split_sentences

MEASURES = ("builds", "passes", "calls")
BATCH = 32  # sentence-transformers' default, and the Embedder's slice size
MAX_TOKENS = 256  # the model's limit
WARM_UP_TEXTS = 8  # more than a short call, so each path's batch code is warm
BLOCK_PARAGRAPHS = 100  # calls: paragraphs per round
PARAGRAPH_BATCHES = (16, 32, 64)
SENTENCE_BATCHES = (16, 32, 64, 128, 256)


def first_documents(count: int) -> list[Document]:
    """The first `count` SQuAD v1.1 dev paragraphs, one document each."""
    return squad_documents()[0][:count]


def timed_rounds(ways: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each way run once per round, in turn; the median seconds of each."""
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, run in ways.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in seconds.items()}


def plain_encode(texts: list[str]) -> None:
    """One plain fp32 sentence-transformers pass, as a user of the model would write it."""
    load_embedder().model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)


# --- builds --------------------------------------------------------------------------------------


def measure_builds(args: argparse.Namespace) -> None:
    """`Index.from_documents` per vector method against the baseline."""
    documents = first_documents(args.paragraphs)
    texts = [d.text for d in documents]
    embedder = load_embedder()
    embedder.encode(texts[:WARM_UP_TEXTS])  # warm-up: weights paged in, kernels chosen

    def build(method: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            Index.from_documents(documents, Path(folder) / "index", progress=False, sentence_vectors=method)

    ways: dict[str, Callable[[], object]] = {"baseline: plain fp32 encode of the paragraphs": lambda: plain_encode(texts)}
    for method in args.methods:
        ways[f"qa build, vectors {method} ({embedder.precision})"] = lambda m=method: build(m)
    load_before = os.getloadavg()[0]
    medians = timed_rounds(ways, args.rounds)
    base = next(iter(medians.values()))
    common.print_table(
        ("way", "seconds", "paragraphs/s", "/ baseline"),
        [(name, f"{s:.1f}", f"{len(documents) / s:.1f}", f"{s / base:.2f}") for name, s in medians.items()],
        f"Indexing {len(documents)} SQuAD paragraphs, median of {args.rounds} rounds",
    )
    print(f"\nload average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {common.cpu_description()}")


# --- passes ----------------------------------------------------------------------------------------


def forward_pass(model: object, texts: list[str], batch: int, pad_multiple: int | None) -> None:
    """bf16 forward passes over `texts`, longest first, `batch` texts at a time."""
    import torch

    order = np.argsort([-len(t) for t in texts], kind="stable")
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for start in range(0, len(texts), batch):
            rows = [texts[i] for i in order[start : start + batch]]
            features = model.tokenizer(  # type: ignore[attr-defined]
                rows, padding=True, truncation=True, max_length=MAX_TOKENS,
                pad_to_multiple_of=pad_multiple, return_tensors="pt",
            )
            output = model(dict(features))["sentence_embedding"].float()  # type: ignore[operator]
            torch.nn.functional.normalize(output, dim=1)


def measure_passes(args: argparse.Namespace) -> None:
    """Each model pass alone: the paragraphs, or their sentences, by batch size and padding."""
    import torch

    documents = first_documents(args.paragraphs)
    paragraphs = [d.text for d in documents]
    sentences = [s.text for d in documents for s in split_sentences(d)]
    model = load_embedder().model
    model.encode(paragraphs[:64], batch_size=BATCH)  # warm-up: weights paged in
    texts = {"paragraphs": paragraphs, "sentences": sentences}
    tokens = {name: sum(len(ids) for ids in model.tokenizer(t, truncation=True, max_length=MAX_TOKENS)["input_ids"])
              for name, t in texts.items()}
    ways: dict[str, tuple[str, Callable[[], object]]] = {
        "baseline: sentence-transformers encode, fp32, batch 32": ("paragraphs", lambda: plain_encode(paragraphs)),
    }
    for batch in PARAGRAPH_BATCHES:
        ways[f"paragraphs, bf16, batch {batch}"] = ("paragraphs", lambda b=batch: forward_pass(model, paragraphs, b, None))
    ways["paragraphs, bf16, batch 32, padded to 32 tokens"] = ("paragraphs", lambda: forward_pass(model, paragraphs, 32, 32))
    for batch in SENTENCE_BATCHES:
        ways[f"sentences, bf16, batch {batch}"] = ("sentences", lambda b=batch: forward_pass(model, sentences, b, None))
    ways["sentences, bf16, batch 128, padded to 16 tokens"] = ("sentences", lambda: forward_pass(model, sentences, 128, 16))
    load_before = common.load_text()
    medians = timed_rounds({name: run for name, (_, run) in ways.items()}, args.rounds)
    base = next(iter(medians.values()))
    print(f"\n{len(paragraphs)} paragraphs ({tokens['paragraphs']:,} tokens), {len(sentences)} sentences "
          f"({tokens['sentences']:,} tokens); torch threads {torch.get_num_threads()}; "
          f"load average before {load_before}, after {common.load_text()}\n")
    common.print_table(("pass", "texts", "s", "x baseline"),
                       [(name, ways[name][0], f"{s:.2f}", f"{s / base:.2f}") for name, s in medians.items()])


# --- calls -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """Paragraph texts and, per paragraph, its sentence spans relative to the paragraph."""

    paragraphs: list[str]
    spans: list[list[tuple[int, int]]]

    @property
    def sentences(self) -> list[str]:
        return [text[s:e] for text, spans in zip(self.paragraphs, self.spans) for s, e in spans]

    def blocks(self, size: int) -> list["Corpus"]:
        """Consecutive blocks of `size` paragraphs."""
        return [Corpus(self.paragraphs[i : i + size], self.spans[i : i + size]) for i in range(0, len(self.paragraphs), size)]


def load_corpus(count: int) -> Corpus:
    """The first `count` SQuAD dev paragraphs (their content span, without stray whitespace)."""
    paragraphs, spans = [], []
    for document in first_documents(count):
        start, end = document.paragraphs[0]
        paragraphs.append(document.text[start:end])
        spans.append([(s - start, e - start) for s, e in split_paragraph(document.text, start, end)])
    return Corpus(paragraphs, spans)


def baseline_model(threads: int) -> Callable[[list[str]], np.ndarray]:
    """Plain sentence-transformers on the packaged model, fp32, with `threads` torch threads."""
    import torch
    from sentence_transformers import SentenceTransformer

    spec = MODELS[DEFAULT_MODEL]
    model = SentenceTransformer(str(resources.files(spec.module) / spec.subdir), device="cpu", local_files_only=True)

    def encode(texts: list[str]) -> np.ndarray:
        torch.set_num_threads(threads)  # the Embedders' short calls may have changed it
        return model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)

    return encode


def whole_batches(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """`encode` with slices cut by count only (32 texts), not at `slice_chars` characters: what
    the character budget, which bounds a waiting question's delay, costs."""
    budget, embedder.slice_chars = embedder.slice_chars, sys.maxsize
    try:
        return embedder.encode(texts)
    finally:
        embedder.slice_chars = budget


BASELINE = "baseline: SentenceTransformer.encode, fp32"
ENCODE = "Embedder.encode, {}"
WHOLE_BATCHES = "Embedder.encode, bf16, slices of 32 texts whatever their length"
PASSAGES = "Embedder.encode_passages (paragraphs + sentences, one pass), {}"
TWO_PASSES = "Embedder.encode paragraphs, then sentences (two passes), {}"
Way = Callable[[Corpus], object]


def call_ways(by_precision: dict[str, Embedder], baseline: Callable[[list[str]], np.ndarray]) -> dict[str, Way]:
    """Every call the table compares, the baseline first."""
    ways: dict[str, Way] = {BASELINE: lambda block: baseline(block.paragraphs)}
    for precision in (BF16, FP32):
        ways[ENCODE.format(precision)] = lambda block, e=by_precision[precision]: e.encode(block.paragraphs)
    ways[WHOLE_BATCHES] = lambda block: whole_batches(by_precision[BF16], block.paragraphs)
    for precision in (BF16, FP32):
        e = by_precision[precision]
        ways[PASSAGES.format(precision)] = lambda block, e=e: e.encode_passages(block.paragraphs, block.spans)
        ways[TWO_PASSES.format(precision)] = lambda block, e=e: (e.encode(block.paragraphs), e.encode(block.sentences))
    return ways


def run_blocks(ways: dict[str, Way], corpus: Corpus, size: int) -> tuple[dict[str, float], dict[str, list], list[float]]:
    """Seconds per way summed over the blocks (each round starts with another way), each way's
    result per block, and the 1-minute load average at each round's start."""
    seconds = {label: 0.0 for label in ways}
    results: dict[str, list] = {label: [] for label in ways}
    loads, listed = [], list(ways.items())
    for number, block in enumerate(corpus.blocks(size)):
        loads.append(os.getloadavg()[0])
        common.log(f"round {number + 1}: {len(block.paragraphs)} paragraphs, load {loads[-1]:.2f}")
        shift = number % len(listed)
        for label, call in listed[shift:] + listed[:shift]:
            started = time.perf_counter()
            results[label].append(call(block))
            seconds[label] += time.perf_counter() - started
    return seconds, results, loads


def cosine_cells(a: np.ndarray, b: np.ndarray) -> tuple[str, str]:
    """Mean and 5th percentile of the row-wise cosine of two sets of unit vectors."""
    values = np.sum(a * b, axis=1)
    return f"{float(np.mean(values)):.4f}", f"{percentile(values.tolist(), 5):.4f}"


def print_cosines(results: dict[str, list]) -> None:
    """How far late-chunked vectors are from those of separate `encode` calls."""
    late_text = np.concatenate([text for text, _ in results[PASSAGES.format(BF16)]])
    late = np.concatenate([v for _, spans in results[PASSAGES.format(BF16)] for v in spans])
    separate = {p: [np.concatenate(part) for part in zip(*results[TWO_PASSES.format(p)])] for p in (BF16, FP32)}
    bf16, baseline = np.concatenate(results[ENCODE.format(BF16)]), np.concatenate(results[BASELINE])
    common.print_table(("vectors compared", "cosine mean", "cosine p5"), [
        ("late-chunked sentences (bf16) vs separately encoded (bf16)", *cosine_cells(late, separate[BF16][1])),
        ("late-chunked sentences (bf16) vs separately encoded (fp32)", *cosine_cells(late, separate[FP32][1])),
        ("paragraphs: encode_passages (bf16) vs encode (bf16)", *cosine_cells(late_text, separate[BF16][0])),
        ("paragraphs: Embedder.encode bf16 vs baseline fp32", *cosine_cells(bf16, baseline)),
    ])


def measure_calls(args: argparse.Namespace) -> None:
    """Each Embedder call in bf16 and fp32 against the baseline, in rotating rounds."""
    corpus = load_corpus(args.paragraphs)
    by_precision = {p: Embedder(MODELS[DEFAULT_MODEL], precision=p) for p in (BF16, FP32)}
    ways = call_ways(by_precision, baseline_model(by_precision[FP32].threads))
    warm_up = corpus.blocks(WARM_UP_TEXTS)[0]
    for call in ways.values():
        call(warm_up)
    load_before = common.load_text()
    seconds, results, loads = run_blocks(ways, corpus, args.block)
    print(
        f"\nSQuAD v1.1 dev, first {len(corpus.paragraphs)} paragraphs ({len(corpus.sentences)} sentences), "
        f"rounds of {args.block}, torch threads {by_precision[FP32].threads}, CPU native bf16: {cpu_has_native_bf16()}. "
        f"Load average (1/5/15 min): {load_before} before, {common.load_text()} after; "
        f"1-min at each round's start {', '.join(f'{x:.2f}' for x in loads)}\n"
    )
    base = seconds[BASELINE]
    common.print_table(("way", "seconds", "paragraphs/s", "speed vs baseline"),
                       [(label, f"{s:.1f}", f"{len(corpus.paragraphs) / s:.1f}", f"{base / s:.2f}x") for label, s in seconds.items()])
    print_cosines(results)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", choices=MEASURES, default="builds", help="what to time (default: builds)")
    parser.add_argument("--paragraphs", type=int, default=600, help="SQuAD paragraphs (default 600)")
    parser.add_argument("--rounds", type=int, default=2, help="builds, passes: rounds, the median reported")
    parser.add_argument("--methods", nargs="+", choices=VECTOR_METHODS, default=list(VECTOR_METHODS), help="builds: ways")
    parser.add_argument("--block", type=int, default=BLOCK_PARAGRAPHS, help="calls: paragraphs per round")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    args = parse_args(argv)
    {"builds": measure_builds, "passes": measure_passes, "calls": measure_calls}[args.measure](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
