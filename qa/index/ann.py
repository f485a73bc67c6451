"""Nearest chunk vectors of one segment: exact while small, HNSW above a measured size.

One interface over two structures (txtai's idea): `VectorSearch.top(vector, n)` returns the rows
of the `n` highest inner products, exact scores included.

- `ExactSearch` multiplies the question with the segment's memory-mapped float32 vectors: no
  extra memory, no build time, ~12.6 ms per 100k chunks here (benchmarks/HISTORY.md, "Scale").
- `HnswSearch` (segments of `ANN_MIN_CHUNKS` chunks or more) walks a FAISS HNSW graph over
  8-bit scalar-quantised copies of the vectors (a quarter of the memory) and re-scores the rows
  it finds exactly from the float32 vectors, so every returned score is exact even though the
  walk is approximate.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

# Segments with at least this many chunks get an HNSW graph (benchmarks/scale.py measures
# exact search time per 100k chunks and the graph's recall@10).
ANN_MIN_CHUNKS = 50_000
HNSW_FILE = "chunks.hnsw"
# Graph degree and build depth: building the graph is most of a large build's time (M=32,
# efConstruction=80 took 153 of 190 CPU seconds at 100k chunks), so they are kept small.
HNSW_NEIGHBOURS = 16  # M
HNSW_BUILD_DEPTH = 40  # efConstruction
HNSW_SEARCH_DEPTH = 128  # efSearch (at least the rows asked for): the walk is most of a 100k query
ANN_OVERSAMPLE = 1


class VectorSearch(Protocol):
    """A segment's nearest-vector search (`ExactSearch` or `HnswSearch`), as `qa.index.search` uses it."""

    def top(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the `n` rows with the highest inner product, best first."""


class ExactSearch:
    """Brute force over a (memory-mapped) float32 matrix."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._vectors = vectors

    def top(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`VectorSearch.top`, exactly; ties go to the lower row."""
        total = len(self._vectors)
        n = min(n, total)
        if n <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = np.asarray(self._vectors @ vector, dtype=np.float32)
        rows = np.argpartition(-scores, n - 1)[:n] if n < total else np.arange(total)
        rows = rows[np.lexsort((rows, -scores[rows]))]
        return scores[rows], rows.astype(np.int64)


class HnswSearch:
    """A FAISS HNSW graph over 8-bit codes, results re-scored exactly from `vectors`."""

    def __init__(self, graph, vectors: np.ndarray) -> None:
        import faiss

        self._faiss = faiss
        self._graph = graph
        self._vectors = vectors

    def top(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`VectorSearch.top`: the rows the walk finds (at most `n`, maybe not the true best),
        with exact scores; ties go to the lower row."""
        n = min(n, len(self._vectors))
        if n <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        self._graph.hnsw.efSearch = max(HNSW_SEARCH_DEPTH, n * ANN_OVERSAMPLE)
        # One question is one walk: OpenMP threads only wait on each other (1M chunks, quiet:
        # retrieve p50 30.7 ms with two, 27.3 ms with one). The setting is per calling thread.
        self._faiss.omp_set_num_threads(1)
        _, found = self._graph.search(vector.reshape(1, -1).astype(np.float32), n * ANN_OVERSAMPLE)
        rows = np.unique(found[0][found[0] >= 0])
        scores = np.asarray(self._vectors[rows] @ vector, dtype=np.float32)
        order = np.lexsort((rows, -scores))[:n]
        return scores[order], rows[order].astype(np.int64)


def default_openmp_threads() -> int:
    """The OpenMP threads a new thread gets: $OMP_NUM_THREADS, else one per core."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


def build_graph(vectors: np.ndarray, folder: Path) -> None:
    """Write the HNSW graph of a segment's chunk vectors, when the segment is big enough."""
    if len(vectors) < ANN_MIN_CHUNKS:
        return
    import faiss

    graph = faiss.IndexHNSWSQ(
        vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT
    )
    graph.hnsw.efConstruction = HNSW_BUILD_DEPTH
    faiss.omp_set_num_threads(default_openmp_threads())  # this thread may have searched (one thread)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    graph.train(data)
    graph.add(data)
    faiss.write_index(graph, str(folder / HNSW_FILE))


def open_search(folder: Path, vectors: np.ndarray) -> VectorSearch:
    """The search structure of a segment: its HNSW graph if it has one, else exact."""
    path = folder / HNSW_FILE
    if not path.is_file():
        return ExactSearch(vectors)
    import faiss

    # Memory-map the graph's codes and links instead of reading them: identical results, and
    # opening a 1M-chunk index's graphs took 0.09 s instead of 0.63 s (page cache warm). A faiss
    # without the flag (before 1.10) reads them.
    return HnswSearch(faiss.read_index(str(path), getattr(faiss, "IO_FLAG_MMAP_IFC", 0)), vectors)
