"""The document half of an embedder: its settings (device, precision, threads) and the
sentence-transformers model, loaded only where documents do not run in int8 alone; and one
forward pass's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

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
    """The document half of an `Embedder`, made on the first document batch: the settings of
    its batches (device, precision, threads) and the sentence-transformers model that runs them,
    or None where they run in int8 through the ONNX export alone (no torch is then imported)."""

    model: Any  # a sentence_transformers.SentenceTransformer, or None (int8 without torch)
    device: str
    precision: str
    slice_chars: int
    threads: int
    dimension: int
    max_tokens: int


def load_model(folder: Path, threads: int | None, device: str, precision: str) -> LoadedModel:
    """Load the sentence-transformers model in `folder` (torch, ~5 s cold on 2 cores) to run
    document batches on `device` in `precision` (`resolve_precision` decided both)."""
    model = load_torch_model(folder, device)
    import torch

    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return LoadedModel(
        model=model,
        device=device,
        precision=precision,
        slice_chars=slice_chars(device, precision),
        threads=threads or torch.get_num_threads(),
        dimension=int(dimension()),
        max_tokens=int(model.max_seq_length),
    )


def load_torch_model(folder: Path, device: str) -> Any:
    """The sentence-transformers model in `folder` on `device`, in eval mode, nothing fetched."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
    model = SentenceTransformer(str(folder), device=device, local_files_only=True)
    model.eval()
    return model
