"""What one model pass costs: the paragraphs, or their sentences, against the fp32 baseline.

    python benchmarks/model_passes.py [--paragraphs 600] [--rounds 1]

Issue 9 asks for a build at most 0.6x one plain fp32 encode of the paragraphs. A build with
separately encoded sentences makes two passes: one over the chunks (here, the paragraphs) and
one over their sentences (about as many tokens, 4x as many sequences). This measures each pass
alone, in bf16 autocast as qa runs them, with the model called directly (tokenise, forward,
normalise: no sentence-transformers overhead) at several batch sizes, so the floor of a
two-pass build can be read off: the sum of the two best passes.

Prints a Markdown table: seconds (median of the rounds), ratio to the baseline, tokens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from qa.text.chunking import split_sentences
from qa.models.embedding import load_embedder
from qa.eval.evaluation import squad_documents

BASELINE_BATCH = 32
MAX_TOKENS = 256


def forward_pass(model, texts: list[str], batch: int, pad_multiple: int | None) -> None:
    """bf16 forward passes over `texts`, longest first, `batch` texts at a time."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for start in range(0, len(texts), batch):
            rows = [texts[i] for i in order[start : start + batch]]
            features = model.tokenizer(
                rows, padding=True, truncation=True, max_length=MAX_TOKENS,
                pad_to_multiple_of=pad_multiple, return_tensors="pt",
            )
            output = model(dict(features))["sentence_embedding"].float()
            torch.nn.functional.normalize(output, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    documents = squad_documents()[0][: args.paragraphs]
    paragraphs = [d.text for d in documents]
    sentences = [s.text for d in documents for s in split_sentences(d)]
    model = load_embedder().model
    model.encode(paragraphs[:64], batch_size=BASELINE_BATCH)  # warm-up: weights paged in
    tokens = {
        name: sum(len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"])
        for name, texts in (("paragraphs", paragraphs), ("sentences", sentences))
    }
    ways: dict[str, tuple[str, Callable[[], None]]] = {
        "baseline: sentence-transformers encode, fp32, batch 32": (
            "paragraphs", lambda: model.encode(paragraphs, batch_size=BASELINE_BATCH, normalize_embeddings=True)
        ),
    }
    for batch in (16, 32, 64):
        ways[f"paragraphs, bf16, batch {batch}"] = ("paragraphs", lambda b=batch: forward_pass(model, paragraphs, b, None))
    ways["paragraphs, bf16, batch 32, padded to 32 tokens"] = ("paragraphs", lambda: forward_pass(model, paragraphs, 32, 32))
    for batch in (16, 32, 64, 128, 256):
        ways[f"sentences, bf16, batch {batch}"] = ("sentences", lambda b=batch: forward_pass(model, sentences, b, None))
    ways["sentences, bf16, batch 128, padded to 16 tokens"] = ("sentences", lambda: forward_pass(model, sentences, 128, 16))
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name, (_, run) in ways.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    baseline = statistics.median(next(iter(seconds.values())))
    print(f"\n{len(paragraphs)} paragraphs ({tokens['paragraphs']:,} tokens), {len(sentences)} sentences "
          f"({tokens['sentences']:,} tokens); torch threads {torch.get_num_threads()}; "
          f"load average before {tuple(round(x, 2) for x in load_before)}, after {tuple(round(x, 2) for x in os.getloadavg())}\n")
    print("| pass | texts | s | x baseline |")
    print("|---|---|---|---|")
    for name, (texts, _) in ways.items():
        median = statistics.median(seconds[name])
        print(f"| {name} | {texts} | {median:.2f} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
