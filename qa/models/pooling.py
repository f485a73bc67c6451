"""Vectors pooled from token vectors: a group of texts' mean (a chunk from its sentences' pass)
and a text's character spans ("late chunking").
"""

from __future__ import annotations

import numpy as np


def check_spans(texts: list[str], spans: list[list[tuple[int, int]]]) -> None:
    """ValueError unless there is one span list per text and each (start, end) lies in its text."""
    if len(spans) != len(texts):
        raise ValueError(f"need one span list per text: {len(texts)} texts, {len(spans)} span lists")
    for number, (text, text_spans) in enumerate(zip(texts, spans)):
        for start, end in text_spans:
            if not 0 <= start <= end <= len(text):
                raise ValueError(f"span ({start}, {end}) of text {number} is outside 0..{len(text)}")


def check_groups(count: int, groups: list[tuple[int, int]]) -> None:
    """ValueError unless each (first, last) group names rows 0 <= first <= last < `count`."""
    for first, last in groups:
        if not 0 <= first <= last < count:
            raise ValueError(f"group ({first}, {last}) is outside rows 0..{count - 1}")


def group_means(token_sums: np.ndarray, token_counts: np.ndarray, groups: list[tuple[int, int]]) -> np.ndarray:
    """Per (first, last) group of rows: the sum of their token vectors over the sum of their
    token counts, L2-normalised (one vector per group; a group of one row is that row's mean).

        >>> group_means(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]), [(0, 1)])
        array([[0.4472136, 0.8944272]], dtype=float32)
    """
    if not groups:
        return np.zeros((0, token_sums.shape[1]), dtype=np.float32)
    # Cumulative sums make each group two subtractions, however long it is.
    sums = np.concatenate([np.zeros((1, token_sums.shape[1])), np.cumsum(token_sums, axis=0, dtype=np.float64)])
    counts = np.concatenate([[0.0], np.cumsum(token_counts, dtype=np.float64)])
    first = np.array([g[0] for g in groups])
    after = np.array([g[1] for g in groups]) + 1
    means = (sums[after] - sums[first]) / np.maximum(counts[after] - counts[first], 1.0)[:, None]
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return means.astype(np.float32)


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, text: str, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, list[int]]:
    """Mean of each span's own token vectors, L2-normalised, and the spans this cannot give.

    `tokens` is (sequence, dimension), `offsets` the tokenizer's (sequence, 2) character
    offsets; special and padding tokens have empty offsets and belong to no span. A token belongs
    to a span when their characters overlap. A span is left out (listed, its row zero) when it
    has no token, or when any of its non-space text lies past the last token: the 256-token
    limit cut it.

        >>> pool_spans(tokens, offsets, "Hi. Bye.", [(0, 3), (4, 8)])[0].shape
        (2, 384)
    """
    real = offsets[:, 1] > offsets[:, 0]
    starts, ends = offsets[real, 0], offsets[real, 1]
    covered_end = int(ends.max()) if ends.size else 0
    members = np.zeros((len(spans), int(real.sum())), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        members[row] = (starts < end) & (ends > start)
    counts = members.sum(axis=1)
    cut = [text[max(start, covered_end) : end].strip() != "" for start, end in spans]
    missing = [row for row in range(len(spans)) if counts[row] == 0 or cut[row]]
    pooled = members @ tokens[real].astype(np.float32, copy=False)
    pooled /= np.maximum(counts, 1.0)[:, None]
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled /= np.maximum(norms, 1e-12)
    pooled[missing] = 0.0
    return pooled, missing
