"""The embedding paths on a CUDA GPU: do they run, agree with fp32 on CPU, and how fast are they?

    python benchmarks/gpu_embedding.py [--model-folder DIR] [--texts 20000]

qa picks the GPU by itself when torch sees one (`qa.models.precision.default_device`), in bf16 where
the GPU has it, else fp16. This machine has no GPU; a lent one may lack the model's package,
so `--model-folder` points at a sentence-transformers folder carried along instead (e.g. the
packaged model saved in fp16 to fit the transfer limit: the reference below uses the same
weights, so the comparison stays exact).

Texts: the seed article's paragraphs and sentences, plus the project's Markdown files',
repeated up to `--texts` sentences. For `encode` (paragraphs), `encode_groups` (sentences with
their paragraph pooled from them, the default build) and `encode_passages` (late chunking), it
prints texts/s on the GPU and the smallest cosine to the same call in fp32 on the CPU (on the
first 512 texts; the CPU pass is also the in-process baseline for speed, on the same texts).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import qa.models.embedding as embedding
from qa.text.chunking import split_paragraph
from qa.loading.documents import find_files, load_file

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
CHECKED = 512  # texts compared with fp32 on the CPU


def corpus() -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Paragraphs of the seed article and the project's Markdown, with their sentence spans."""
    paragraphs, spans = [], []
    for path in [*find_files([PROJECT / "seeds"]), *sorted(PROJECT.glob("*.md")), *sorted((PROJECT / "docs").glob("*.md"))]:
        document = load_file(path)
        for start, end in document.paragraphs:
            if end - start < 40:
                continue
            paragraphs.append(document.text[start:end])
            spans.append([(s - start, e - start) for s, e in split_paragraph(document.text, start, end)])
    return paragraphs, spans


def grown(paragraphs: list[str], spans: list[list[tuple[int, int]]], sentences: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """The corpus repeated until it holds about `sentences` sentences."""
    per_round = sum(len(s) for s in spans)
    rounds = max(1, sentences // per_round)
    return paragraphs * rounds, spans * rounds


def embedder(folder: Path | None, precision: str | None) -> embedding.Embedder:
    """qa's Embedder on its own device choice, from `folder` when the model package is absent."""
    if folder is not None:
        embedding.model_folder = lambda spec: folder  # type: ignore[assignment]
    made = embedding.Embedder(embedding.MODELS[embedding.DEFAULT_MODEL], precision=precision)
    made.loaded().model.float()  # fp32 weights, as the packaged model has (a carried copy may be fp16)
    return made


def groups_of(spans: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Each paragraph's (first, last) sentence row: how `encode_groups` pools."""
    groups, first = [], 0
    for text_spans in spans:
        groups.append((first, first + len(text_spans) - 1))
        first += len(text_spans)
    return groups


def calls(e: embedding.Embedder, paragraphs: list[str], spans: list[list[tuple[int, int]]]) -> dict[str, tuple[int, object]]:
    """Each embedding path as (texts it embeds, the call)."""
    sentences = [p[s:t] for p, text_spans in zip(paragraphs, spans) for s, t in text_spans]
    return {
        "encode (paragraphs)": (len(paragraphs), lambda: e.encode(paragraphs)),
        "encode_groups (sentences, paragraphs pooled)": (len(sentences), lambda: e.encode_groups(sentences, groups_of(spans))),
        "encode_passages (paragraphs, sentences pooled)": (len(paragraphs), lambda: e.encode_passages(paragraphs, spans)),
    }


def all_rows(result: object) -> np.ndarray:
    """Every vector a call returned, as one array (texts first, then groups or spans)."""
    if not isinstance(result, tuple):
        return result  # type: ignore[return-value]
    texts, rest = result
    return np.concatenate([texts, *(rest if isinstance(rest, list) else [rest])])


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds of `run()` with the GPU's queue drained before and after, and its result."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def main() -> None:
    """Each path on the device against fp32 on the CPU: texts/s and the smallest cosine."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-folder", type=Path, default=None)
    parser.add_argument("--texts", type=int, default=20_000, help="sentences to embed (about)")
    args = parser.parse_args()
    paragraphs, spans = corpus()
    many_paragraphs, many_spans = grown(paragraphs, spans, args.texts)
    device_embedder = embedder(args.model_folder, None)
    cpu = embedder(args.model_folder, "fp32")
    cpu.loaded().model.to("cpu")
    cpu._loaded = replace(cpu.loaded(), device="cpu", slice_chars=embedding.slice_chars("cpu", embedding.FP32))
    name = torch.cuda.get_device_name() if device_embedder.device == "cuda" else "CPU"
    print(f"\n### Embedding on {name} ({device_embedder.device}, {device_embedder.precision}), "
          f"{len(many_paragraphs):,} paragraphs / {sum(len(s) for s in many_spans):,} sentences\n")
    print("| call | texts | seconds | texts/s | CPU fp32 texts/s (same texts, first 512) | min cosine to CPU fp32 |")
    print("|---|---|---|---|---|---|")
    small_paragraphs, small_spans = many_paragraphs[:CHECKED], many_spans[:CHECKED]
    for (label, (count, run)), (_, (small_count, check)), (_, (_, reference)) in zip(
        calls(device_embedder, many_paragraphs, many_spans).items(),
        calls(device_embedder, small_paragraphs, small_spans).items(),
        calls(cpu, small_paragraphs, small_spans).items(),
    ):
        run()  # warm-up: kernels chosen, memory allocated
        seconds, _ = timed(run)
        cpu_seconds, expected = timed(reference)
        got = all_rows(check())
        cosine = float(np.min(np.sum(got * all_rows(expected), axis=1)))
        print(f"| {label} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {small_count / cpu_seconds:,.0f} | {cosine:.5f} |", flush=True)


if __name__ == "__main__":
    main()
