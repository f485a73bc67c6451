"""What an index was built with: the settings that change its stored vectors or tokens.

Kept apart from the commit point (`qa.index.store`), which records them in every manifest: ingest,
segments, the CLI and the evaluations read settings without importing the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.text.chunking import ChunkingConfig
from qa.index.lexical import BM25Config

# How an index's vectors are made (`IndexSettings.sentence_vectors`; qa.index.ingest embeds them).
SENTENCE_PASS, LATE, SEPARATE = "sentence-pass", "late", "separate"
VECTOR_METHODS = (SENTENCE_PASS, LATE, SEPARATE)
# How new indexes make their vectors (qa.index.ingest): "sentence-pass", one model pass over the
# sentences with chunk vectors pooled from them, builds in about half the time of "separate"
# (chunks and sentences each encoded) at the same SQuAD R@1; "late" (one pass over chunks)
# is as fast but R@1 .838 (benchmarks/README.md, "One model pass").
SENTENCE_VECTORS = SENTENCE_PASS


@dataclass(frozen=True)
class IndexSettings:
    """Everything that changes the stored vectors or tokens; a change means a rebuild.

    `model` is the embedder's name, `model_id` its exact version (for the packaged models, name
    plus package version); `sentence_vectors` says how the chunk and sentence vectors were made,
    one of `VECTOR_METHODS` (see `qa.index.ingest`): "sentence-pass" (sentences encoded, chunks pooled
    from them), "late" (chunks encoded, sentences pooled from them) or "separate" (both encoded).
    """

    model: str
    model_id: str
    dimension: int
    chunking: ChunkingConfig = ChunkingConfig()
    bm25: BM25Config = BM25Config()
    embed_titles: bool = False
    sentence_vectors: str = SEPARATE


def settings_from_json(raw: dict) -> IndexSettings:
    """Settings from a manifest's "settings" object (as `dataclasses.asdict` wrote them); a missing
    key is a `KeyError`, which the store reports as a corrupted manifest."""
    return IndexSettings(
        model=raw["model"],
        model_id=raw["model_id"],
        dimension=int(raw["dimension"]),
        chunking=ChunkingConfig(**raw["chunking"]),
        bm25=BM25Config(**raw["bm25"]),
        embed_titles=bool(raw["embed_titles"]),
        sentence_vectors=str(raw["sentence_vectors"]),
    )


def settings_outdated(settings: IndexSettings) -> bool:
    """Whether an index was built with other chunking, BM25 or sentence-vector settings than
    this qa's defaults (the default index and the evaluations' cached ones are then rebuilt)."""
    fresh = IndexSettings(settings.model, settings.model_id, settings.dimension)
    return (settings.chunking, settings.bm25, settings.embed_titles, settings.sentence_vectors) != (
        fresh.chunking,
        fresh.bm25,
        fresh.embed_titles,
        SENTENCE_VECTORS,
    )
