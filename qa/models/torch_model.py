"""The document half of an embedder: its settings (device, precision, threads) and the
sentence-transformers model, loaded only where documents do not run in int8 alone; and one
forward pass's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qa.errors import ModelUnavailable
from qa.models.packaged import ModelSpec
from qa.models.precision import CPU, FP32, INT8, cpu_threads, default_device, requested_precision, resolve_precision
from qa.models.query_encoding import OnnxQueryEncoder, load_onnx_encoder
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


def load_document_model(
    spec: ModelSpec, folder: Path, threads: int | None, requested: str | None, dimension: int | None
) -> tuple[LoadedModel, OnnxQueryEncoder | None]:
    """The document model of `spec` and, where documents run in int8, its int8 encoder.

    Where documents run in int8 (a CPU, by default) that encoder alone: no torch. Else the
    torch model; fp32 instead of int8 when that encoder cannot run here and int8 was only
    detected, `ModelUnavailable` when it was asked for (`requested`, else $QA_EMBED_PRECISION).
    """
    device = default_device()
    precision = resolve_precision(requested, device, int8=spec.quantized is not None)
    if precision == INT8:
        int8 = _int8_model(spec, folder, threads, dimension)
        if int8 is not None:
            return int8
        if requested_precision(requested)[0] is not None:
            raise ModelUnavailable(
                f"int8 document batches need onnxruntime and the model's int8 export, which {spec.name!r} lacks here"
            )
        precision = FP32
    return load_model(folder, threads, device, precision), None


def _int8_model(
    spec: ModelSpec, folder: Path, threads: int | None, dimension: int | None
) -> tuple[LoadedModel, OnnxQueryEncoder] | None:
    """Document batches through the int8 ONNX export, without the torch model; None when that
    export cannot run here (onnxruntime missing, a file that fails its sha256)."""
    if spec.quantized is None or dimension is None:
        return None
    threads = threads or cpu_threads()
    encoder = load_onnx_encoder(spec.quantized, folder / "tokenizer.json", threads)
    if encoder is None:
        return None
    settings = LoadedModel(
        model=None,
        device=CPU,
        precision=INT8,
        slice_chars=slice_chars(CPU, INT8),
        threads=threads,
        dimension=dimension,
        max_tokens=spec.quantized.max_tokens,
    )
    return settings, encoder


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
