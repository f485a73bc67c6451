"""Indexing speed: `qa.Index.from_documents` against one plain fp32 encode of the same paragraphs.

    python benchmarks/indexing.py [--paragraphs 600] [--rounds 2] [--methods sentence-pass late separate]

The first 600 SQuAD v1.1 dev paragraphs, in one process, each way timed `--rounds` times in
turn (so load from other jobs falls on every row alike):

- baseline: `SentenceTransformer.encode` of the paragraphs, fp32, batch 32 — what "one plain
  model pass" costs;
- qa build, vectors "sentence-pass" (the default): split, chunk, embed the sentences (bf16
  where the CPU has it) and pool each chunk's vector from its sentences, BM25, write a segment;
- qa build, vectors "late": one pass over the chunks, sentences pooled from it;
- qa build, vectors "separate": two passes, the chunks and then the sentences.

Prints a Markdown table with seconds (median of the rounds), paragraphs/s, the ratio to the
baseline, and the load average. Issue 9's bar: a build ≤ 0.6x the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import qa.index.coordinator as qa_index
from qa.models.embedding import load_embedder
from qa.eval.evaluation import squad_documents
from qa.index.coordinator import Index
from qa.index.settings import VECTOR_METHODS

BATCH = 32


def baseline(texts: list[str]) -> None:
    """One plain fp32 sentence-transformers pass, as a user of the library would write it."""
    model = load_embedder().model  # the packaged model, loaded once (not timed)
    model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)


def build(documents: list, method: str) -> None:
    qa_index.SENTENCE_VECTORS = method
    with tempfile.TemporaryDirectory() as folder:
        Index.from_documents(documents, Path(folder) / "index", progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--methods", nargs="+", choices=VECTOR_METHODS, default=list(VECTOR_METHODS), help="ways to build")
    args = parser.parse_args()
    documents = squad_documents()[0][: args.paragraphs]
    texts = [d.text for d in documents]
    embedder = load_embedder()
    embedder.encode(texts[:8])  # warm-up: weights paged in, kernels chosen
    ways = {
        "baseline: plain fp32 encode of the paragraphs": lambda: baseline(texts),
        **{
            f"qa build, vectors {method} ({embedder.precision})": lambda m=method: build(documents, m)
            for method in args.methods
        },
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, run in ways.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    base = statistics.median(next(iter(seconds.values())))
    print(f"\n### Indexing {len(documents)} SQuAD paragraphs, median of {args.rounds} rounds\n")
    print("| way | seconds | paragraphs/s | / baseline |\n|---|---|---|---|")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {len(documents) / median:.1f} | {median / base:.2f} |")
    print(f"\nload average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
