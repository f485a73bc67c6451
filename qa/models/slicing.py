"""How a long encode call is cut into slices, so that a question waiting for the model waits for
one slice, not a whole upload (`qa.models.embedding.Embedder`).
"""

from __future__ import annotations

import sys

import numpy as np

from qa.models.precision import BF16
# Texts embedded per hold of the model lock, and calls this small that go first (`Embedder.encode`).
# A slice of 32 texts is one forward pass, as a plain sentence-transformers batch: fewer,
# smaller slices made indexing 1.6x slower than one plain pass on a busy machine
# (benchmarks/build_cost.py --measure calls: "slices of 32 texts whatever their length" 0.98x the baseline, a
# 4,000-character budget 0.42x). The character budget only stops a slice of very long texts
# holding the model for long: a question waiting behind an upload waits ~0.5 s at most.
ENCODE_SLICE = 32
# On a CUDA GPU a forward pass of 32 short texts takes well under a millisecond: bigger slices
# keep it busy (benchmarks/README.md, "GPU").
GPU_ENCODE_SLICE = 256
ENCODE_SLICE_CHARS = 16_000
# bf16 embeds ~2.2x the text per second of fp32 on AMX, so a bf16 slice of twice the characters
# holds the model about as long: a waiting question waits no longer, and there are half as many
# forward passes, each with a fixed cost that is large on a busy machine (on 100 SQuAD
# paragraphs at load 8, 4,000 -> 8,000 characters took bf16 from ~44 s to ~20 s).
BF16_SLICE_FACTOR = 2


def slice_chars(device: str, precision: str) -> int:
    """Characters per slice of a long call (`encode_slices`): `ENCODE_SLICE_CHARS` of fp32 CPU
    time. A GPU slice of `ENCODE_SLICE` texts takes milliseconds, so there only the count counts."""
    if device == "cuda":
        return sys.maxsize
    return ENCODE_SLICE_CHARS * (BF16_SLICE_FACTOR if precision == BF16 else 1)


def slice_texts(device: str) -> int:
    """Texts per slice: `GPU_ENCODE_SLICE` on a CUDA GPU, else `ENCODE_SLICE`."""
    return GPU_ENCODE_SLICE if device == "cuda" else ENCODE_SLICE


def encode_slices(texts: list[str], max_chars: int = ENCODE_SLICE_CHARS, max_texts: int = ENCODE_SLICE) -> list[list[int]]:
    """Row numbers of `texts`, longest first, in slices of at most `max_texts` texts and
    `max_chars` characters (a slice holds at least one text): one hold of the model lock each,
    and one batch, since a slice is never larger than a batch.

        >>> encode_slices(["aaaa", "b", "cc"], max_chars=5)
        [[0, 1], [2]]
    """
    order = np.argsort([-len(t) for t in texts], kind="stable")
    slices: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for i in order:
        if current and (len(current) >= max_texts or chars + len(texts[i]) > max_chars):
            slices.append(current)
            current, chars = [], 0
        current.append(int(i))
        chars += len(texts[i])
    slices.append(current)
    return slices
