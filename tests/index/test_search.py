"""qa/index/search.py, qa/index/view.py and qa/index/ann.py: candidates over segments, tombstones, an empty
index, a user's own embedder, HNSW segments and index-wide IDF."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.index import ann
from qa.loading.documents import Document
from qa.errors import ModelUnavailable
from qa.index.coordinator import Index
from qa.errors import IndexMismatch

from conftest import SEEDS

SEED_ID = "000_56409ce4796d023f"
DIMENSION = 64


class WordHashEmbedder:
    """A user's own embedder, as `qa.models.packaged.TextEmbedder` describes one: each word hashed to
    a fixed random vector, a text the normalised sum of its words (lexical, but real vectors)."""

    name = "word-hash-64"
    dimension = DIMENSION

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                rows[i] += np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.maximum(norms, 1e-12)


def _document(doc_id: str, paragraphs: list[str]) -> Document:
    text = "\n\n".join(paragraphs)
    spans, offset = [], 0
    for paragraph in paragraphs:
        spans.append((offset, offset + len(paragraph)))
        offset += len(paragraph) + 2
    return Document(doc_id, doc_id.title(), "test", f"/nowhere/{doc_id}.txt", text, tuple(spans), doc_id)


RIVERS = [
    _document("danube", ["The Danube flows through ten countries before it reaches the Black Sea."]),
    _document("rhine", ["The Rhine carries barges from Basel to Rotterdam, past vineyards and castles."]),
    _document("thames", ["The Thames floods the tidal flats below London twice a day."]),
]


def test_a_users_embedder_builds_and_reopens(tmp_path: Path):
    index = Index.from_documents(RIVERS, tmp_path / "index", embedder=WordHashEmbedder())
    assert index.settings.model == "word-hash-64" and index.settings.dimension == DIMENSION
    reopened = Index.open(tmp_path / "index", embedder=WordHashEmbedder())
    assert reopened.retrieve("Which river reaches the Black Sea?", k=1)[0].doc_id == "danube"


def test_a_different_or_missing_embedder_is_refused(tmp_path: Path):
    Index.from_documents(RIVERS, tmp_path / "index", embedder=WordHashEmbedder())
    other = WordHashEmbedder()
    other.name = "another-model"
    with pytest.raises(IndexMismatch, match="'word-hash-64', not 'another-model'"):
        Index.open(tmp_path / "index", embedder=other)
    with pytest.raises(ModelUnavailable, match="word-hash-64.*embedder=.*qa index"):
        Index.open(tmp_path / "index")


def test_a_deleted_document_is_never_returned(tmp_path: Path):
    index = Index.from_documents(RIVERS, tmp_path / "index", embedder=WordHashEmbedder())
    assert index.retrieve("Rhine barges Basel Rotterdam", k=1)[0].doc_id == "rhine"
    index.remove("rhine")
    assert "rhine" not in {p.doc_id for p in index.retrieve("Rhine barges Basel Rotterdam", k=3)}
    with pytest.raises(KeyError, match="rhine"):
        index.document("rhine")


def test_the_index_may_become_empty_and_grow_again(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = Index.build([corpus], tmp_path / "index")
    index.remove(SEED_ID)
    assert index.size == (0, 0) and index.documents() == []
    assert index.retrieve("what is the US backstop position?") == []
    empty = index.answer("what is the US backstop position?")
    assert empty.abstained and empty.text == "Nothing is indexed yet: add documents first."
    note = tmp_path / "tide.txt"
    note.write_text("The spring tide flooded the harbour road twice this week.")
    index.add([note])
    assert index.retrieve("spring tide harbour", k=1)[0].doc_id == "tide"


def test_idf_is_index_wide_whatever_the_segments(tmp_path: Path):
    together = Index.from_documents(RIVERS, tmp_path / "one", embedder=WordHashEmbedder())
    split = Index.from_documents(RIVERS[:1], tmp_path / "two", embedder=WordHashEmbedder())
    for document in RIVERS[1:]:
        path = tmp_path / f"{document.doc_id}.txt"
        path.write_text(document.text)
        split.add([path])
    assert len(split.segments()) == 3
    terms = together.pinned().query_terms("Danube barges tidal")
    assert split.pinned().term_weights(terms) == pytest.approx(together.pinned().term_weights(terms))


def test_hnsw_segments_return_the_exact_top_passages(tmp_path: Path, monkeypatch):
    documents = [
        _document(f"d{n}", [f"Report {n} on the {w} harvest in the valley of {v}." for w, v in [("wheat", n), ("barley", n + 1)]])
        for n in range(60)
    ]
    exact = Index.from_documents(documents, tmp_path / "exact", embedder=WordHashEmbedder())
    monkeypatch.setattr(ann, "ANN_MIN_CHUNKS", 10)
    graph = Index.from_documents(documents, tmp_path / "graph", embedder=WordHashEmbedder())
    assert (tmp_path / "graph" / graph.segments()[0].name / ann.HNSW_FILE).is_file()
    assert not (tmp_path / "exact" / exact.segments()[0].name / ann.HNSW_FILE).exists()
    for question in ["barley harvest valley 17", "Report 42 wheat", "harvest in the valley of 5"]:
        assert [p.chunk_id for p in graph.retrieve(question, k=5)] == [p.chunk_id for p in exact.retrieve(question, k=5)]


def test_exact_search_ranks_by_inner_product_with_ties_by_row():
    vectors = np.array([[1, 0], [0.6, 0.8], [1, 0], [0, 1]], dtype=np.float32)
    scores, rows = ann.ExactSearch(vectors).top(np.array([1, 0], dtype=np.float32), 3)
    assert list(rows) == [0, 2, 1] and scores[0] == pytest.approx(1.0)
    assert len(ann.ExactSearch(vectors).top(np.array([1, 0], dtype=np.float32), 10)[1]) == 4


def test_document_weight_lifts_the_passages_of_the_best_documents(tmp_path: Path):
    """With `document_weight` a passage borrows from its document's best passage: at 1.0 every
    candidate of the document that holds the best passage ties with it, so they lead."""
    from dataclasses import replace

    from qa.index.retrieval import FusionConfig

    filler = " The records go back two centuries and are kept in the parish halls of every valley."
    alps = _document("alps", [  # each paragraph long enough to be a passage of its own
        "Glaciers in the Alps retreat faster every summer as the snow line climbs." + filler * 2,
        "Villages below keep records of floods from meltwater lakes and of lost pastures." + filler * 2,
        "Tourism offices sell tickets for the cable cars and the mountain huts." + filler * 2,
    ])
    andes = _document("andes", ["Farmers in the Andes measure meltwater in irrigation channels each spring."])
    index = Index.from_documents([alps, andes, *RIVERS], tmp_path / "index", embedder=WordHashEmbedder())
    question = "How fast do glaciers in the Alps retreat, and what about meltwater floods?"
    plain = index.retrieve(question, k=3)
    assert plain[0].doc_id == "alps"
    index.fusion = replace(FusionConfig(), document_weight=1.0)
    lifted = index.retrieve(question, k=3)
    assert [p.doc_id for p in lifted] == ["alps", "alps", "alps"]
    assert lifted[0].chunk_id == plain[0].chunk_id


def test_a_graph_search_runs_on_one_openmp_thread_and_a_build_on_all(tmp_path: Path, monkeypatch):
    """OpenMP threads are set per calling thread: searching keeps to one, and a graph built
    later on the same thread (an upload after questions) gets every core back."""
    import faiss

    monkeypatch.setattr(ann, "ANN_MIN_CHUNKS", 10)
    vectors = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ann.build_graph(vectors, tmp_path)
    search = ann.open_search(tmp_path, vectors)
    assert isinstance(search, ann.HnswSearch)
    scores, rows = search.top(vectors[3], 5)
    assert rows[0] == 3 and faiss.omp_get_max_threads() == 1
    ann.build_graph(vectors, tmp_path)
    assert faiss.omp_get_max_threads() == ann.default_openmp_threads()


def test_titles_mention_looks_in_every_segments_titles(tmp_path: Path):
    index = Index.from_documents(RIVERS[:2], tmp_path / "index", embedder=WordHashEmbedder())
    assert index.pinned().titles_mention("danube") and index.pinned().titles_mention("RHINE")
    assert not index.pinned().titles_mention("Thames")
    extra = tmp_path / "thames.txt"
    extra.write_text("The Thames\n\nThe Thames floods the tidal flats below London twice a day.")
    index.add([extra])
    assert len(index.segments()) == 2 and index.pinned().titles_mention("thames")


def test_a_search_within_documents_returns_and_ranks_only_them(tmp_path: Path):
    index = Index.from_documents(RIVERS, tmp_path / "index", embedder=WordHashEmbedder())
    assert index.retrieve("Rhine barges Basel Rotterdam", k=1)[0].doc_id == "rhine"
    within = index.retrieve("Rhine barges Basel Rotterdam", k=3, documents=["danube", "thames"])
    assert {p.doc_id for p in within} == {"danube", "thames"}  # found, though the Rhine ranks first overall
    assert [p.doc_id for p in index.retrieve("Black Sea", k=5, documents=["thames"])] == ["thames"]
    assert index.pinned(["danube"]).view.size[1] == 1 and index.pinned().view.size[1] == 3


def test_a_filter_naming_an_unknown_or_no_document_is_a_clear_error(tmp_path: Path):
    index = Index.from_documents(RIVERS, tmp_path / "index", embedder=WordHashEmbedder())
    with pytest.raises(ValueError, match=r"no such document in the index: 'volga', 'seine'; `qa docs` lists the ids"):
        index.retrieve("river", documents=["danube", "volga", "seine"])
    with pytest.raises(ValueError, match="documents is empty"):
        index.retrieve("river", documents=[])
    index.remove("rhine")
    with pytest.raises(ValueError, match="'rhine'"):
        index.answer("Which river carries barges?", documents=["rhine"])


def test_a_filter_inside_a_graph_segment_searches_its_live_rows_exactly(tmp_path: Path, monkeypatch):
    """Within one document of a 120-chunk HNSW segment: the exact scan over the document's own
    rows, the same passages as a plain index of that document alone."""
    documents = [
        _document(f"d{n}", [f"Report {n} on the {w} harvest in the valley of {v}." for w, v in [("wheat", n), ("barley", n + 1)]])
        for n in range(60)
    ]
    monkeypatch.setattr(ann, "ANN_MIN_CHUNKS", 10)
    graph = Index.from_documents(documents, tmp_path / "graph", embedder=WordHashEmbedder())
    alone = Index.from_documents(documents[17:18], tmp_path / "alone", embedder=WordHashEmbedder())
    found = graph.retrieve("wheat harvest", k=5, documents=["d17"])
    assert [p.chunk_id for p in found] == [p.chunk_id for p in alone.retrieve("wheat harvest", k=5)]
    assert {p.doc_id for p in found} == {"d17"}
