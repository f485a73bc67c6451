"""The torch half of an embedder: the sentence-transformers model loaded with the settings torch
decides (device, precision, threads), and one forward pass's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qa.models.precision import default_device, resolve_precision
from qa.models.slicing import slice_chars


@dataclass(frozen=True)
class ForwardPass:
    """One batch through the model: unit text vectors (n, d), token vectors (n, tokens, d) in
    fp32, the attention mask (n, tokens) and, when asked, the character offsets (n, tokens, 2).
    Tensors stay on the model's device."""

    vectors: Any
    tokens: Any
    attention_mask: Any
    offsets: np.ndarray | None


# What a slice of work gets: the rows of the call's texts, a precision and a torch thread count.
SliceWork = Callable[[list[int], str, int], None]


@dataclass(frozen=True)
class LoadedModel:
    """The torch half of an `Embedder`: the sentence-transformers model and the settings that
    need torch to decide (device, precision, threads), made on the first document batch."""

    model: Any  # a sentence_transformers.SentenceTransformer
    device: str
    precision: str
    slice_chars: int
    threads: int
    dimension: int
    max_tokens: int


def load_model(folder: Path, threads: int | None, precision: str | None, int8: bool = False) -> LoadedModel:
    """Load the sentence-transformers model in `folder` (torch, ~5 s cold on 2 cores); `int8`:
    whether the model has an int8 export that may be detected as the precision."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
    device = default_device()
    resolved = resolve_precision(precision, device, int8)  # a bad value fails before loading
    model = SentenceTransformer(str(folder), device=device, local_files_only=True)
    model.eval()
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return LoadedModel(
        model=model,
        device=device,
        precision=resolved,
        slice_chars=slice_chars(device, resolved),
        threads=threads or torch.get_num_threads(),
        dimension=int(dimension()),
        max_tokens=int(model.max_seq_length),
    )
