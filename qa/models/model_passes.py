"""The model passes an `Embedder` (`qa.models.embedding`) schedules: sentence-transformers'
torch model in fp32, bf16 or fp16, and qa's int8 ONNX export for documents on a CPU (the default there).

The `Embedder` decides what runs when (slices, questions first, one lock); `ModelPasses` only
runs the model on the texts it is given, in the precision and threads it is told. Every method
expects the caller to hold the embedder's lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import ModelUnavailable
from qa.models.pooling import pool_spans
from qa.models.precision import BF16, FP16, FP32, INT8
from qa.models.query_encoding import OnnxQueryEncoder
from qa.models.torch_model import ForwardPass, LoadedModel

if TYPE_CHECKING:  # torch loads lazily, with the model
    import torch


class ModelPasses:
    """Forward passes over one loaded model, and its int8 export when documents run in int8."""

    def __init__(self, loaded: LoadedModel, int8: OnnxQueryEncoder | None, dimension: int) -> None:
        """`int8`: the int8 document encoder (None unless the loaded precision is int8)."""
        self.loaded = loaded
        self.int8 = int8
        self.dimension = dimension

    def autocast(self, precision: str) -> AbstractContextManager[object]:
        """torch autocast to `precision` on this device; nothing for fp32."""
        import torch

        if precision == FP32:
            return nullcontext()
        return torch.autocast(self.loaded.device, dtype=_torch_dtype(precision))

    def use_threads(self, threads: int) -> None:
        """Set torch's thread count for the next pass (a question: one; a batch: the machine's)."""
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def encode(self, texts: list[str], batch_size: int, precision: str, threads: int) -> np.ndarray:
        """Unit vectors of `texts`: one sentence-transformers call, or the int8 export."""
        if precision == INT8:
            return self._int8().encode(texts)
        self.use_threads(threads)
        with self.autocast(precision):
            vectors = self.loaded.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def forward(self, texts: list[str], precision: str, threads: int, offsets: bool = False) -> ForwardPass:
        """One forward pass over `texts` (the caller holds the lock), tokenised as
        sentence-transformers does (padding, truncation at `max_tokens`), so the text vectors
        are those `encode` gives for the same batch; with the character `offsets` when asked."""
        import torch

        self.use_threads(threads)
        features = self.loaded.model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.loaded.max_tokens,
            return_tensors="pt",
            return_offsets_mapping=offsets,
        )
        token_offsets = features.pop("offset_mapping").numpy() if offsets else None
        inputs = {key: value.to(self.loaded.device) for key, value in features.items()}
        with torch.inference_mode(), self.autocast(precision):
            output = self.loaded.model(inputs)
        vectors = torch.nn.functional.normalize(output["sentence_embedding"].float(), p=2, dim=1)
        return ForwardPass(vectors, output["token_embeddings"].float(), inputs["attention_mask"], token_offsets)

    def token_sums(
        self, texts: list[str], precision: str, threads: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text its vector, the sum of its token vectors and its token count (special tokens
        included, padding not, as the model's mean pooling counts them)."""
        if precision == INT8:
            return self._int8_token_sums(texts)
        forward = self.forward(texts, precision, threads)
        mask = forward.attention_mask.unsqueeze(-1).float()
        sums = (forward.tokens * mask).sum(dim=1)
        return forward.vectors.cpu().numpy(), sums.cpu().numpy(), mask.sum(dim=(1, 2)).cpu().numpy()

    def late_chunk(
        self, texts: list[str], spans: list[list[tuple[int, int]]], precision: str, threads: int
    ) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
        """Per text its vector, its pooled span vectors and the spans left for a separate
        encoding (`pool_spans`). Late chunking needs torch's token offsets: under int8 the spans
        come from an fp32 pass and the texts' vectors from the int8 one, as `encode` gives them."""
        forward = self.forward(texts, FP32 if precision == INT8 else precision, threads, offsets=True)
        vectors = self._int8().encode(texts) if precision == INT8 else forward.vectors.cpu().numpy()
        tokens = forward.tokens.cpu().numpy()
        results = []
        for row, (text, text_spans) in enumerate(zip(texts, spans)):
            pooled, missing = pool_spans(tokens[row], forward.offsets[row], text, text_spans)
            results.append((vectors[row], pooled, missing))
        return results

    def _int8(self) -> OnnxQueryEncoder:
        if self.int8 is None:  # only reached with precision int8, made with the torch model
            raise ModelUnavailable("no int8 document encoder was loaded")
        return self.int8

    def _int8_token_sums(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`token_sums` through the int8 export, a text at a time (its activation scale must
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
