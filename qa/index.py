"""`Index`: build, open, update and query a document index (FAISS + BM25 + the texts).

    >>> index = Index.build(["seeds/"], path="index")          # or Index.open("index")
    >>> index.retrieve("what is the US backstop position?", k=3)[0].paragraph
    6
    >>> index.add(["new.html"]); index.remove("new"); index.documents()

An `Index` holds one immutable `Snapshot` in memory. `add`, `remove` and `refresh` compute a
new snapshot (embedding only new or changed documents, found by content hash), write it to
disk atomically and then swap the in-memory reference, so queries running meanwhile see the
old or the new state, never a mix.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from qa import store
from qa.chunking import Chunk, ChunkingConfig, Sentence, chunk_document, split_sentences
from qa.documents import (
    Document,
    SkippedFile,
    file_fingerprint,
    find_files,
    load_documents,
    unique_doc_id,
)
from qa.embedding import DEFAULT_MODEL, MODELS, Embedder, ModelUnavailable, load_embedder
from qa.lexical import BM25Config, LexicalIndex
from qa.retrieval import (
    FusionConfig,
    Passage,
    Ranking,
    best_sentence_scores,
    check_k,
    check_question,
    dense_scores,
    rank_chunks,
    top_k,
)
from qa.store import DocumentEntry, IndexMismatch, IndexSettings, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    from qa.answering import Answer, AnswerConfig

PathsLike = Sequence[str | Path] | str | Path
# Embedding more texts than this at once shows a progress bar (when not told otherwise).
PROGRESS_THRESHOLD = 500


@dataclass(frozen=True)
class UpdateReport:
    """What an `add` or `refresh` did, doc ids in each list."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """Passages plus the question's vector, which the answer composer reuses."""

    question: str
    passages: list[Passage]
    query_vector: np.ndarray
    extra_vectors: list[np.ndarray] = field(default_factory=list)


def _as_list(paths: PathsLike) -> list[str | Path]:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _resolved(paths: PathsLike) -> list[str]:
    return [str(Path(p).resolve()) for p in _as_list(paths)]


def _fingerprints(inputs: list[str], excluded: set[str]) -> dict[str, str]:
    return {
        str(f.resolve()): file_fingerprint(f)
        for f in find_files(inputs)
        if str(f.resolve()) not in excluded
    }


class Index:
    """A queryable index; see the module docstring for an example."""

    def __init__(
        self,
        snapshot: Snapshot,
        path: Path,
        bookkeeping: "Bookkeeping",
        fusion: FusionConfig = FusionConfig(),
    ) -> None:
        self._snapshot = snapshot
        self._bookkeeping = bookkeeping
        self.path = path
        self.fusion = fusion
        self._write_lock = threading.Lock()

    # --- creating and opening ------------------------------------------------------------

    @classmethod
    def build(
        cls,
        paths: PathsLike,
        path: str | Path = "index",
        *,
        model: str = DEFAULT_MODEL,
        chunking: ChunkingConfig = ChunkingConfig(),
        bm25: BM25Config = BM25Config(),
        embed_titles: bool = False,
        fusion: FusionConfig = FusionConfig(),
        progress: bool | None = None,
    ) -> "Index":
        """Load, chunk and embed every file under `paths`; replace the index at `path`.

        Raises `ValueError` when no file could be loaded (the message lists why).
        """
        loaded = load_documents(_as_list(paths))
        if not loaded.documents:
            reasons = "; ".join(str(s) for s in loaded.skipped) or "no files found"
            raise ValueError(f"no documents to index under {paths}: {reasons}")
        inputs = _resolved(paths)
        bookkeeping = Bookkeeping(inputs, [], _fingerprints(inputs, set()), loaded.skipped)
        return cls._create(
            loaded.documents, Path(path), bookkeeping, model, chunking, bm25, embed_titles, fusion, progress
        )

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        path: str | Path,
        *,
        model: str = DEFAULT_MODEL,
        chunking: ChunkingConfig = ChunkingConfig(),
        bm25: BM25Config = BM25Config(),
        embed_titles: bool = False,
        fusion: FusionConfig = FusionConfig(),
        progress: bool | None = None,
    ) -> "Index":
        """Index `Document`s made in memory (benchmarks, tests); `refresh` has no files to read.

        Doc ids must be unique.
        """
        ids = [d.doc_id for d in documents]
        if len(set(ids)) != len(ids):
            raise ValueError("documents must have unique doc ids")
        if not documents:
            raise ValueError("no documents to index")
        return cls._create(
            list(documents), Path(path), Bookkeeping([], [], {}), model, chunking, bm25, embed_titles, fusion, progress
        )

    @classmethod
    def _create(
        cls,
        documents: list[Document],
        root: Path,
        bookkeeping: "Bookkeeping",
        model: str,
        chunking: ChunkingConfig,
        bm25: BM25Config,
        embed_titles: bool,
        fusion: FusionConfig,
        progress: bool | None,
    ) -> "Index":
        embedder = load_embedder(model)
        settings = IndexSettings(
            model=model,
            model_id=embedder.model_id,
            dimension=embedder.dimension,
            chunking=chunking,
            bm25=bm25,
            embed_titles=embed_titles,
        )
        with store.writer_lock(root):
            building = store.start_build(root)
            parts = _embed(documents, settings, embedder, progress)
            snapshot = _assemble(settings, [parts], store.now())
            _write(root, building, snapshot, bookkeeping)
        return cls(snapshot, root, bookkeeping, fusion)

    @classmethod
    def open(
        cls, path: str | Path = "index", *, model: str | None = None, fusion: FusionConfig = FusionConfig()
    ) -> "Index":
        """Open the index at `path`. Raises `IndexNotFound`, `IndexCorrupted` or `IndexMismatch`
        with a message naming the file and how to rebuild.

        `model`: refuse the index unless it was built with this model name.
        """
        root = Path(path)
        snapshot = store.read_snapshot(root)
        _check_model(snapshot.settings, model, root)
        manifest = store.read_manifest(store.live_snapshot(root))
        return cls(snapshot, root, Bookkeeping.from_manifest(manifest), fusion)

    def pinned(self) -> "Index":
        """A read-only view of the current snapshot that later updates do not change.

        A multi-step read (search, then read the found chunks' sentences) uses one so that a
        concurrent `remove` cannot pull a chunk out from under it.
        """
        view = Index(self._snapshot, self.path, self._bookkeeping, self.fusion)
        view._write_lock = None  # type: ignore[assignment]  # updating a view is a bug
        return view

    # --- reading -------------------------------------------------------------------------

    @property
    def settings(self) -> IndexSettings:
        return self._snapshot.settings

    @property
    def inputs(self) -> list[str]:
        """The paths (absolute) this index was built and extended from."""
        return list(self._bookkeeping.inputs)

    @property
    def skipped(self) -> list[SkippedFile]:
        """Files the last build or update could not load, with the reason for each."""
        return list(self._bookkeeping.skipped)

    def documents(self) -> list[DocumentEntry]:
        """One entry per indexed document: id, title, source, path, counts, date added."""
        return list(self._snapshot.entries)

    def document(self, doc_id: str) -> Document:
        try:
            return self._snapshot.by_id[doc_id]
        except KeyError:
            raise KeyError(f"no document {doc_id!r} in the index at {self.path}") from None

    def sentences(self, doc_id: str) -> list[Sentence]:
        snapshot = self._snapshot
        row = snapshot.sentence_rows[doc_id]
        count = next(e.sentences for e in snapshot.entries if e.doc_id == doc_id)
        return list(snapshot.sentences[row : row + count])

    @property
    def size(self) -> tuple[int, int]:
        """(documents, chunks)."""
        return len(self._snapshot.documents), len(self._snapshot.chunks)

    def stale_reason(self) -> str | None:
        """Why the index no longer matches its input files or model; None when it does."""
        installed = MODELS[self.settings.model].model_id if self.settings.model in MODELS else None
        if installed != self.settings.model_id:
            return f"built with {self.settings.model_id}, installed is {installed}"
        now = _fingerprints(self._bookkeeping.inputs, set(self._bookkeeping.excluded))
        if now != self._bookkeeping.sources:
            changed = sorted(set(now.items()) ^ set(self._bookkeeping.sources.items()))
            return f"{len({p for p, _ in changed})} input file(s) changed, e.g. {changed[0][0]}"
        return None

    # --- querying ------------------------------------------------------------------------

    def embedder(self) -> Embedder:
        return load_embedder(self.settings.model)

    def search(self, question: str, k: int = 5, *, extra_queries: Sequence[str] = ()) -> SearchResult:
        """`retrieve` plus the query vectors. `extra_queries` (e.g. the question with the
        previous turn) are ranked too, and a chunk's score is its mean fused score over all
        queries, so a passage that fits both the question and its context wins.
        """
        question = check_question(question)
        k = check_k(k)
        snapshot = self._snapshot
        queries = [question, *(check_question(q) for q in extra_queries)]
        vectors = self.embedder().encode_queries(queries)
        fused = ranking = None
        for text, vector in zip(queries, vectors):
            ranking = rank_chunks(
                dense_scores(vector, snapshot.chunk_index, self.fusion),
                best_sentence_scores(
                    vector, snapshot.sentence_vectors, snapshot.chunk_members, snapshot.chunk_starts
                ),
                snapshot.lexical.scores(text),
                k,
                self.fusion,
            )
            if fused is None:
                first = ranking
                fused = ranking.fused.copy()
            else:
                fused += ranking.fused
        if fused is None or not len(fused):
            return SearchResult(question, [], vectors[0], list(vectors[1:]))
        fused /= len(queries)
        rows = top_k(fused, k)
        passages = [self._passage(snapshot, int(r), float(fused[r]), first) for r in rows]
        return SearchResult(question, passages, vectors[0], list(vectors[1:]))

    def query_terms(self, text: str) -> list[str]:
        """The BM25 terms of `text` (lower-cased, stemmed, stop words removed)."""
        return self._snapshot.lexical.tokens(text)

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """IDF of each BM25 term in this index (see `LexicalIndex.idf`)."""
        return self._snapshot.lexical.idf(terms)

    def answer(
        self, question: str, history: Sequence[tuple[str, str]] | None = None, config: "AnswerConfig | None" = None
    ) -> "Answer":
        """A cited, extractive answer; see `qa.answering`."""
        from qa.answering import AnswerConfig, compose_answer

        return compose_answer(self.pinned(), question, history, config or AnswerConfig())

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        """The `k` passages that best match `question`, best first.

        Raises `ValueError` for an empty or over-long question or `k` outside 1..100.
        """
        return self.search(question, k).passages

    @staticmethod
    def _passage(snapshot: Snapshot, row: int, score: float, signals: Ranking) -> Passage:
        chunk = snapshot.chunks[row]
        document = snapshot.by_id[chunk.doc_id]
        return Passage(
            text=chunk.text,
            score=score,
            doc_id=chunk.doc_id,
            title=document.title,
            source=document.source,
            start=chunk.start,
            end=chunk.end,
            paragraph=chunk.paragraph,
            chunk_id=chunk.chunk_id,
            dense_score=float(signals.dense[row]),
            sentence_score=float(signals.sentence[row]),
            lexical_score=float(signals.lexical[row]),
        )

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]:
        """The sentences of a chunk and their stored vectors (for the answer composer)."""
        snapshot = self._snapshot
        chunk = snapshot.chunks[snapshot.chunk_rows[chunk_id]]
        base = snapshot.sentence_rows[chunk.doc_id]
        rows = slice(base + chunk.first_sentence, base + chunk.last_sentence + 1)
        return list(snapshot.sentences[rows]), snapshot.sentence_vectors[rows]

    # --- updating ------------------------------------------------------------------------

    def add(self, paths: PathsLike, *, progress: bool | None = None) -> UpdateReport:
        """Add or update the files under `paths`; unchanged files are not embedded again.

        A file already indexed from the same path keeps its doc id and is replaced when its
        content changed.
        """
        with self._write_lock, store.writer_lock(self.path):
            building = store.start_build(self.path)
            loaded = load_documents(_as_list(paths))
            report, snapshot = self._merge(loaded.documents, remove_ids=set(), progress=progress)
            keep = self._bookkeeping
            added_paths = {str(Path(d.path).resolve()) for d in loaded.documents}
            inputs = keep.inputs + [p for p in _resolved(paths) if p not in keep.inputs]
            excluded = [p for p in keep.excluded if p not in added_paths]
            bookkeeping = Bookkeeping(inputs, excluded, _fingerprints(inputs, set(excluded)), loaded.skipped)
            _write(self.path, building, snapshot, bookkeeping)
            self._snapshot, self._bookkeeping = snapshot, bookkeeping
        return replace(report, skipped=loaded.skipped)

    def remove(self, doc_id: str) -> None:
        """Remove a document. Its file stays on disk but is not indexed again by `refresh`."""
        document = self.document(doc_id)
        with self._write_lock, store.writer_lock(self.path):
            building = store.start_build(self.path)
            _, snapshot = self._merge([], remove_ids={doc_id}, progress=False)
            keep = self._bookkeeping
            excluded = keep.excluded + [str(Path(document.path).resolve())]
            bookkeeping = Bookkeeping(keep.inputs, excluded, _fingerprints(keep.inputs, set(excluded)), [])
            _write(self.path, building, snapshot, bookkeeping)
            self._snapshot, self._bookkeeping = snapshot, bookkeeping

    def refresh(self, *, progress: bool | None = None) -> UpdateReport:
        """Bring the index in line with its input paths: new, changed and deleted files."""
        keep = self._bookkeeping
        with self._write_lock, store.writer_lock(self.path):
            building = store.start_build(self.path)
            loaded = load_documents(keep.inputs)
            wanted = [d for d in loaded.documents if str(Path(d.path).resolve()) not in keep.excluded]
            paths = {str(Path(d.path).resolve()) for d in wanted}
            gone = {d.doc_id for d in self._snapshot.documents if str(Path(d.path).resolve()) not in paths}
            report, snapshot = self._merge(wanted, remove_ids=gone, progress=progress)
            bookkeeping = Bookkeeping(keep.inputs, keep.excluded, _fingerprints(keep.inputs, set(keep.excluded)), loaded.skipped)
            _write(self.path, building, snapshot, bookkeeping)
            self._snapshot, self._bookkeeping = snapshot, bookkeeping
        return replace(report, removed=sorted(gone), skipped=loaded.skipped)

    def _merge(
        self, incoming: list[Document], remove_ids: set[str], progress: bool | None
    ) -> tuple[UpdateReport, Snapshot]:
        old = self._snapshot
        by_path = {str(Path(d.path).resolve()): d for d in old.documents}
        taken = {d.doc_id for d in old.documents} - remove_ids
        added, updated, unchanged, fresh = [], [], [], []
        for document in incoming:
            previous = by_path.get(str(Path(document.path).resolve()))
            if previous and previous.doc_id not in remove_ids:
                if previous.content_hash == document.content_hash:
                    unchanged.append(previous.doc_id)
                    continue
                remove_ids = remove_ids | {previous.doc_id}
                fresh.append(replace(document, doc_id=previous.doc_id))
                updated.append(previous.doc_id)
            else:
                doc_id = unique_doc_id(document.doc_id, taken)
                taken.add(doc_id)
                fresh.append(replace(document, doc_id=doc_id))
                added.append(doc_id)
        kept = _parts_of(old, exclude=remove_ids)
        new = _embed(fresh, old.settings, load_embedder(old.settings.model), progress)
        snapshot = _assemble(old.settings, [kept, new], store.now(), old_entries=old.entries)
        return UpdateReport(added=added, updated=updated, unchanged=unchanged), snapshot


@dataclass(frozen=True)
class Bookkeeping:
    """What the index was built from, to tell when it is stale.

    inputs: the paths given to build/add (absolute); excluded: files removed by the user;
    sources: fingerprint of every input file at the last write.
    """

    inputs: list[str]
    excluded: list[str]
    sources: dict[str, str]
    skipped: list[SkippedFile] = field(default_factory=list)

    @classmethod
    def from_manifest(cls, manifest: dict) -> "Bookkeeping":
        raw = manifest.get("bookkeeping", {})
        return cls(
            inputs=list(raw.get("inputs", [])),
            excluded=list(raw.get("excluded", [])),
            sources=dict(raw.get("sources", {})),
            skipped=[SkippedFile(p, r) for p, r in raw.get("skipped", [])],
        )


# --- building blocks -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    """Documents with their sentences, chunks and vectors, before they form a snapshot."""

    documents: list[Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


def _embed(
    documents: list[Document], settings: IndexSettings, embedder: Embedder, progress: bool | None
) -> _Parts:
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for document in documents:
        doc_sentences = split_sentences(document)
        sentences.extend(doc_sentences)
        chunks.extend(chunk_document(document, doc_sentences, settings.chunking))
    titles = {d.doc_id: d.title for d in documents}
    chunk_texts = [
        f"{titles[c.doc_id]}\n{c.text}" if settings.embed_titles else c.text for c in chunks
    ]
    show = progress if progress is not None else len(sentences) + len(chunks) > PROGRESS_THRESHOLD
    if show and chunks:
        print(f"embedding {len(chunks)} passages and {len(sentences)} sentences", file=sys.stderr)
    return _Parts(
        documents=list(documents),
        sentences=sentences,
        chunks=chunks,
        chunk_vectors=embedder.encode(chunk_texts, progress=show),
        sentence_vectors=embedder.encode([s.text for s in sentences], progress=show),
    )


def _parts_of(snapshot: Snapshot, exclude: set[str]) -> _Parts:
    keep_docs = [d for d in snapshot.documents if d.doc_id not in exclude]
    chunk_rows = [i for i, c in enumerate(snapshot.chunks) if c.doc_id not in exclude]
    sentence_rows = [i for i, s in enumerate(snapshot.sentences) if s.doc_id not in exclude]
    dimension = snapshot.settings.dimension
    all_chunk_vectors = (
        snapshot.chunk_index.reconstruct_n(0, snapshot.chunk_index.ntotal)
        if snapshot.chunk_index.ntotal
        else np.zeros((0, dimension), dtype=np.float32)
    )
    return _Parts(
        documents=keep_docs,
        sentences=[snapshot.sentences[i] for i in sentence_rows],
        chunks=[snapshot.chunks[i] for i in chunk_rows],
        chunk_vectors=all_chunk_vectors[chunk_rows].reshape(-1, dimension),
        sentence_vectors=snapshot.sentence_vectors[sentence_rows].reshape(-1, dimension),
    )


def _assemble(
    settings: IndexSettings,
    parts: list[_Parts],
    created: str,
    old_entries: tuple[DocumentEntry, ...] = (),
) -> Snapshot:
    import faiss

    documents = [d for p in parts for d in p.documents]
    sentences = [s for p in parts for s in p.sentences]
    chunks = [c for p in parts for c in p.chunks]
    dimension = settings.dimension
    chunk_vectors = np.concatenate([p.chunk_vectors for p in parts]).reshape(-1, dimension)
    sentence_vectors = np.concatenate([p.sentence_vectors for p in parts]).reshape(-1, dimension)
    chunk_index = faiss.IndexFlatIP(dimension)
    if len(chunk_vectors):
        chunk_index.add(np.ascontiguousarray(chunk_vectors, dtype=np.float32))
    previous = {(e.doc_id, e.content_hash): e.added for e in old_entries}
    sentence_counts: dict[str, int] = {}
    chunk_counts: dict[str, int] = {}
    for s in sentences:
        sentence_counts[s.doc_id] = sentence_counts.get(s.doc_id, 0) + 1
    for c in chunks:
        chunk_counts[c.doc_id] = chunk_counts.get(c.doc_id, 0) + 1
    entries = tuple(
        DocumentEntry(
            doc_id=d.doc_id,
            path=d.path,
            title=d.title,
            source=d.source,
            content_hash=d.content_hash,
            paragraphs=len(d.paragraphs),
            sentences=sentence_counts.get(d.doc_id, 0),
            chunks=chunk_counts.get(d.doc_id, 0),
            added=previous.get((d.doc_id, d.content_hash), created),
        )
        for d in documents
    )
    titles = {d.doc_id: d.title for d in documents}
    lexical = LexicalIndex.build(
        [f"{titles[c.doc_id]}\n{c.text}" if settings.bm25.titles else c.text for c in chunks] or [""],
        settings.bm25,
    )
    return Snapshot(
        settings=settings,
        documents=tuple(documents),
        entries=entries,
        sentences=tuple(sentences),
        chunks=tuple(chunks),
        chunk_index=chunk_index,
        sentence_vectors=np.ascontiguousarray(sentence_vectors, dtype=np.float32),
        lexical=lexical,
        created=created,
    )


def _write(root: Path, building: Path, snapshot: Snapshot, bookkeeping: Bookkeeping) -> None:
    store.write_snapshot(
        root,
        building,
        snapshot,
        extra_manifest={
            "bookkeeping": {
                "inputs": bookkeeping.inputs,
                "excluded": bookkeeping.excluded,
                "sources": bookkeeping.sources,
                "skipped": [[s.path, s.reason] for s in bookkeeping.skipped],
            }
        },
    )


def _check_model(settings: IndexSettings, requested: str | None, root: Path) -> None:
    if requested is not None and requested != settings.model:
        raise IndexMismatch(
            f"the index at {root} was built with model {settings.model!r}, not {requested!r}; "
            f"{store.rebuild_hint(root)}"
        )
    if settings.model not in MODELS:
        raise ModelUnavailable(
            f"the index at {root} needs model {settings.model!r}, which this qa does not ship; "
            f"{store.rebuild_hint(root)}"
        )
    installed = MODELS[settings.model].model_id
    if installed != settings.model_id:
        raise IndexMismatch(
            f"the index at {root} was built with {settings.model_id}, but {installed} is "
            f"installed; vectors from different model versions don't mix; {store.rebuild_hint(root)}"
        )
