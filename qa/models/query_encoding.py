"""Questions -> vectors fast: the same model as the index, int8-quantised, run by ONNX Runtime.

Why: a question is one short text, and encoding it is nearly all of a query's time. Through
torch, all-MiniLM-L6-v2 takes ~22 ms per question on this 2-core machine (the fp32 weights are
streamed from memory for a dozen tokens). qa ships its own int8 export of the same packaged
weights, `qa/models/question_encoder.onnx` (scripts/export_question_encoder.py rebuilds it byte for
byte): ~2 ms for a 16-token question on one thread, vectors at cosine .993 to fp32 on average
(.989 for 99 % of held-out questions), SQuAD retrieval measured with both in
benchmarks/README.md. Documents are still embedded in fp32 by `qa.models.embedding.Embedder`; only
questions take this path.

    >>> encoder = load_query_encoder(INT8_MINILM, tokenizer_json)
    >>> encoder.encode(["what is the US backstop position?"]).shape
    (1, 384)

`load_query_encoder` returns None when onnxruntime is missing or the model file does not match
its sha256; the caller then encodes questions with torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from qa.checksums import sha256_file

# One thread. Two encode a question a little faster on an idle machine, but the second
# competes with indexing and the web server for 2 cores, and one thread is already far inside
# the 20 ms budget for a whole query (benchmarks/latency.py).
ONNX_THREADS = 1
# Set QA_QUERY_ENCODER=torch to encode questions with the fp32 model instead.
BACKEND_VARIABLE = "QA_QUERY_ENCODER"


@dataclass(frozen=True)
class QuantizedModel:
    """An int8 ONNX export of an index model, shipped in a package (`module`) with its file's
    sha256."""

    package: str
    module: str
    filename: str
    sha256: str
    max_tokens: int


INT8_MINILM = QuantizedModel(
    package="qa",  # this project: the file ships inside qa.models
    module="qa.models",
    filename="question_encoder.onnx",
    sha256="5ae0424dea70951b18c358cf05765f9775029010833449308a1ee189f97f1186",
    max_tokens=256,  # the sentence-transformers model's max_seq_length
)


class OnnxQueryEncoder:
    """Mean-pooled, L2-normalised vectors from an ONNX transformer, as sentence-transformers
    computes them for all-MiniLM-L6-v2. Safe to call from several threads at once.

    Questions use one thread; `qa.models.embedding.Embedder` makes a second one with its document
    threads for `precision="int8"` document batches (`hidden_states` gives their token vectors)."""

    name = "onnx-int8"

    def __init__(self, model_path: Path, tokenizer_json: Path, max_tokens: int, threads: int = ONNX_THREADS) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()  # one text at a time (see `encode`)
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """An (n, dimension) float32 array of unit vectors, one per text.

        Each text is run alone: dynamic int8 quantises a layer's activations with one scale
        for the whole batch, so in a batch a question's vector would depend on its batch-mates
        (and on their padding). Questions are short and few at a time (a second hop encodes
        at most `qa.answering.bridging.MAX_HOP_NAMES`), so the loop costs little."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.vstack([self._encode_one(text) for text in texts])

    def hidden_states(self, text: str) -> np.ndarray:
        """The (tokens, dimension) float32 token vectors of `text` alone, special tokens
        included, truncated at the model's window: what the model's mean pooling averages."""
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0][0]

    def _encode_one(self, text: str) -> np.ndarray:
        pooled = self.hidden_states(text).mean(axis=0)
        pooled /= max(float(np.linalg.norm(pooled)), 1e-12)
        return np.ascontiguousarray(pooled[None, :], dtype=np.float32)


def load_query_encoder(model: QuantizedModel, tokenizer_json: Path) -> OnnxQueryEncoder | None:
    """The ONNX encoder for `model`, or None where it cannot be used (see the module doc)."""
    if os.environ.get(BACKEND_VARIABLE, "").strip().lower() == "torch":
        return None
    return load_onnx_encoder(model, tokenizer_json, ONNX_THREADS)


def load_onnx_encoder(model: QuantizedModel, tokenizer_json: Path, threads: int) -> OnnxQueryEncoder | None:
    """`model`'s ONNX encoder with `threads` threads, or None when onnxruntime or tokenizers is
    missing or the file is missing or fails its sha256 (whatever $QA_QUERY_ENCODER says)."""
    try:
        path = Path(str(resources.files(model.module) / model.filename))
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except (ModuleNotFoundError, ImportError):
        return None
    if not path.is_file() or not tokenizer_json.is_file() or sha256_file(path) != model.sha256:
        return None
    return OnnxQueryEncoder(path, tokenizer_json, model.max_tokens, threads)
