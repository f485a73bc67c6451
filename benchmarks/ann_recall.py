"""HNSW recall on real MiniLM vectors: qa's graph settings against exact search.

    python benchmarks/ann_recall.py        # needs the cached pooled index of benchmarks/retrieval.py

Why: benchmarks/scale.py measures recall with random unit vectors, the worst case for any
graph (no neighbourhoods to follow). Here the database is every chunk and sentence vector of
the cached SQuAD index (~12,600 real vectors) and the queries are the 2,000 sample questions
encoded as qa encodes them. Reports recall@10 (the exact top 10 found) and how much of the exact
top 10 lies inside the `FusionConfig.candidates` rows the graph returns (what search needs).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import qa
from qa.index import ann
from qa.text.chunking import ChunkingConfig
from qa.eval.evaluation import sample_questions, squad_documents
from qa.index.retrieval import FusionConfig
from retrieval import cache_name  # benchmarks/retrieval.py: the same cached pooled index

CACHE = Path(__file__).resolve().parent / ".cache"
TOP = 10


def database(index: qa.Index) -> np.ndarray:
    view = index.view()
    parts = []
    for segment in view.segments:
        parts.append(np.asarray(segment.chunk_vectors, dtype=np.float32))
        parts.append(np.asarray(segment.sentence_vectors, dtype=np.float32))
    vectors = np.concatenate(parts)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    index = qa.Index.open(CACHE / cache_name(ChunkingConfig()))
    vectors = database(index)
    _, questions = squad_documents()
    queries = index.embedder().encode_queries([q.question for q in sample_questions(questions, 2000)])
    depth = FusionConfig().candidates
    exact = ann.ExactSearch(vectors)
    with tempfile.TemporaryDirectory() as folder:
        ann.ANN_MIN_CHUNKS = 0  # build the graph whatever the size
        ann.build_graph(vectors, Path(folder))
        graph = ann.open_search(Path(folder), vectors)
    found_top, found_in_depth = [], []
    for query in queries:
        truth = set(exact.top(query, TOP)[1].tolist())
        found_top.append(len(truth & set(graph.top(query, TOP)[1].tolist())) / TOP)
        found_in_depth.append(len(truth & set(graph.top(query, depth)[1].tolist())) / TOP)
    print(f"\n### HNSW on {len(vectors):,} real MiniLM vectors (SQuAD chunks + sentences), {len(queries):,} questions\n")
    print(f"graph: M={ann.HNSW_NEIGHBOURS}, efConstruction={ann.HNSW_BUILD_DEPTH}, efSearch={ann.HNSW_SEARCH_DEPTH}, 8-bit codes, exact re-scoring\n")
    print("| measure | value |\n|---|---|")
    print(f"| recall@{TOP} (graph top {TOP} vs exact top {TOP}) | {np.mean(found_top):.3f} |")
    print(f"| exact top {TOP} inside the graph's top {depth} | {np.mean(found_in_depth):.3f} |")


if __name__ == "__main__":
    main()
