"""`Index`: the coordinator of one index folder — its live view, its writers, its embedder.

    >>> index = Index.build(["seeds/"], path="index")          # or Index.open("index")
    >>> index.retrieve("what is the US backstop position?", k=3)[0].paragraph
    6
    >>> index.add(["new.html"]); index.remove("new"); index.documents()
    >>> index.sync(["seeds/", "notes/"])       # in step with those paths: added, updated, removed
    >>> with index.watch(["notes/"]): ...       # follow a folder: changes indexed within seconds

Reading: every question runs on an `IndexView` (one committed generation, `qa.index.view`) through
the pure functions of `qa.index.search`; before each question the index checks CURRENT (one small
read) and switches to a newer generation committed by any process, reusing the segments it has
already opened.

Writing: `add`, `remove`, `refresh`, `sync` and `compact` go to the index's `IndexWriter`
(`qa.index.writer`), which plans each change against the live view, embeds without any lock and
commits by compare-and-set, re-planning when another writer (a thread, `qa serve`, `qa index`)
committed first. Nobody's acknowledged change is undone.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from qa.errors import IndexCorrupted
from qa.index import store
from qa.index.lexical import BM25Config
from qa.index.planning import BUILD_BATCH_CHARS, PathsLike, UpdateReport, as_list, check_embedder, fingerprints
from qa.index.planning import resolved_paths, scan_paths, settings_for, stale_reason
from qa.index.retrieval import FusionConfig, Passage
from qa.index.search import Searcher, SearchResult
from qa.index.settings import IndexSettings
from qa.index.store import Bookkeeping, Manifest, SegmentEntry
from qa.index.view import DocumentEntry, IndexView
from qa.index.watching import FolderWatcher
from qa.index.writer import IndexWriter, create_index, plan_add, plan_refresh, plan_remove, plan_sync
from qa.loading.documents import Document, LoadResult, SkippedFile, load_documents
from qa.models.embedding import load_embedder
from qa.models.packaged import DEFAULT_MODEL, TextEmbedder
from qa.text.chunking import ChunkingConfig

if TYPE_CHECKING:  # pragma: no cover
    from qa.answering.compose import Answer, AnswerConfig

# A reader that finds a segment collected under it re-reads the newest manifest this often.
RELOAD_ATTEMPTS = 3

__all__ = ["Index", "UpdateReport", "SearchResult", "DocumentEntry", "PathsLike", "FolderWatcher"]


class Index:
    """A queryable, updatable index folder; see the module docstring."""

    def __init__(self, view: IndexView, embedder: TextEmbedder | None = None, fusion: FusionConfig = FusionConfig()) -> None:
        self.path = view.root
        self.fusion = fusion
        self._view = view
        self._embedder = embedder
        self._view_lock = threading.Lock()
        self._writer = IndexWriter(self.path, self.view, self._install_locked, self.embedder)

    # --- creating and opening ------------------------------------------------------------

    @classmethod
    def build(
        cls,
        paths: PathsLike,
        path: str | Path = "index",
        *,
        model: str = DEFAULT_MODEL,
        embedder: TextEmbedder | None = None,
        chunking: ChunkingConfig = ChunkingConfig(),
        bm25: BM25Config = BM25Config(),
        embed_titles: bool = False,
        fusion: FusionConfig = FusionConfig(),
        progress: bool | None = None,
        sentence_vectors: str | None = None,
        executor: str = "local",
        ray_address: str | None = None,
        workers: int | None = None,
    ) -> "Index":
        """Load, chunk and embed every file under `paths`; replace the index at `path`.

        `sentence_vectors` picks how vectors are made (`SENTENCE_VECTORS`, `qa.index.ingest`): the
        default "sentence-pass" encodes the sentences and pools chunk vectors from them (one
        model pass); "separate" encodes chunks too (two passes, the same SQuAD R@1); "late"
        encodes the chunks and pools sentence vectors from them (one pass, R@1 .838).
        `executor="ray"` loads and embeds on a Ray cluster (`ray_address`, else a local Ray for
        the job; `workers` actors, one model each) and commits their segments at once; `path`
        must be shared with every worker (`qa.index.distributed`; needs the `ray` extra).
        Raises `ValueError` when no file could be loaded (the message lists why).
        """
        if executor != "local":
            settings = settings_for(embedder or load_embedder(model), chunking, bm25, embed_titles, sentence_vectors)
            options = (executor, ray_address, workers, model, embedder)
            return _built_distributed(cls, paths, Path(path), options, settings, fusion, progress)
        loaded = load_documents(as_list(paths))
        if not loaded.documents:
            reasons = "; ".join(str(s) for s in loaded.skipped) or "no files found"
            named = ", ".join(str(p) for p in as_list(paths))
            raise ValueError(f"no documents to index under {named}: {reasons}")
        inputs = tuple(resolved_paths(paths))
        bookkeeping = Bookkeeping(inputs, (), fingerprints(inputs, set()), tuple(loaded.skipped))
        settings = settings_for(embedder := embedder or load_embedder(model), chunking, bm25, embed_titles, sentence_vectors)
        return cls._create(loaded.documents, Path(path), bookkeeping, embedder, settings, fusion, progress)

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        path: str | Path,
        *,
        model: str = DEFAULT_MODEL,
        embedder: TextEmbedder | None = None,
        chunking: ChunkingConfig = ChunkingConfig(),
        bm25: BM25Config = BM25Config(),
        embed_titles: bool = False,
        fusion: FusionConfig = FusionConfig(),
        progress: bool | None = None,
        sentence_vectors: str | None = None,
    ) -> "Index":
        """Index `Document`s made in memory (benchmarks, tests); `refresh` has no files to read.

        Doc ids must be unique.
        """
        ids = [d.doc_id for d in documents]
        if len(set(ids)) != len(ids):
            raise ValueError("documents must have unique doc ids")
        if not documents:
            raise ValueError("no documents to index")
        settings = settings_for(embedder := embedder or load_embedder(model), chunking, bm25, embed_titles, sentence_vectors)
        return cls._create(list(documents), Path(path), Bookkeeping(), embedder, settings, fusion, progress)

    @classmethod
    def _create(
        cls,
        documents: list[Document],
        root: Path,
        bookkeeping: Bookkeeping,
        embedder: TextEmbedder,
        settings: IndexSettings,
        fusion: FusionConfig,
        progress: bool | None,
    ) -> "Index":
        manifest = create_index(documents, root, bookkeeping, embedder, settings, progress)
        return cls(IndexView.open(root, manifest, {}), embedder, fusion)

    @classmethod
    def open(
        cls,
        path: str | Path = "index",
        *,
        model: str | None = None,
        embedder: TextEmbedder | None = None,
        fusion: FusionConfig = FusionConfig(),
    ) -> "Index":
        """Open the index at `path`. Raises `IndexNotFound`, `IndexCorrupted` or `IndexMismatch`
        with a message naming the file and how to rebuild.

        `model`: refuse the index unless it was built with this model name. `embedder`: encode
        questions and new documents with it; refused unless the index was built with an
        embedder of the same `name`. Without one, the packaged model the index names is loaded
        when first needed.
        """
        root = Path(path)
        manifest = store.read_manifest(root)
        check_embedder(manifest.settings, model, embedder, root)
        return cls(IndexView.open(root, manifest, {}), embedder, fusion)

    # --- the live view ---------------------------------------------------------------------

    def view(self) -> IndexView:
        """The newest committed generation (re-read when another writer has committed)."""
        live = store.live_generation(self.path)
        view = self._view
        if live is None or live == view.generation:
            return view
        with self._view_lock:
            for attempt in range(RELOAD_ATTEMPTS):
                if self._view.generation == store.live_generation(self.path):
                    break
                try:
                    self._install(store.read_manifest(self.path))
                except IndexCorrupted:
                    # Writers committed several times between reading CURRENT and opening the
                    # segments, and one was collected meanwhile: read the newest again.
                    if attempt == RELOAD_ATTEMPTS - 1:
                        raise
            return self._view

    def _install_locked(self, manifest: Manifest) -> None:
        """Make a manifest this index's writer committed live (readers may be switching too)."""
        with self._view_lock:
            self._install(manifest)

    def _install(self, manifest: Manifest) -> None:
        if manifest.generation <= self._view.generation:
            return
        opened = {s.name: s for s in self._view.segments}
        self._view = IndexView.open(self.path, manifest, opened)

    def pinned(self, documents: Sequence[str] | None = None) -> Searcher:
        """Questions answered on the view live now, whatever commits meanwhile (for a
        multi-step read such as an answer: search, then read the found chunks' sentences);
        within `documents` (doc ids) only when given (`IndexView.within`)."""
        view = self.view()
        return Searcher(view.within(documents) if documents is not None else view, self.embedder(), self.fusion)

    # --- reading -------------------------------------------------------------------------

    @property
    def settings(self) -> IndexSettings:
        """What the index was built with (model, chunking, BM25); changing any of it means a rebuild."""
        return self.view().settings

    @property
    def generation(self) -> int:
        """Number of the live manifest; it grows with each commit, so a change shows as a new number."""
        return self.view().generation

    @property
    def inputs(self) -> list[str]:
        """The paths (absolute) this index was built and extended from."""
        return list(self.view().manifest.bookkeeping.inputs)

    @property
    def skipped(self) -> list[SkippedFile]:
        """Files the last build or update could not load, with the reason for each."""
        return list(self.view().manifest.bookkeeping.skipped)

    def documents(self) -> list[DocumentEntry]:
        """One entry per indexed document: id, title, source, path, counts, date added."""
        return self.view().documents()

    def document(self, doc_id: str) -> Document:
        """The live document `doc_id` with its text, as indexed; `KeyError` when there is none."""
        return self.view().document(doc_id)

    @property
    def size(self) -> tuple[int, int]:
        """(documents, chunks)."""
        return self.view().size

    def segments(self) -> list[SegmentEntry]:
        """The live segments, as the manifest lists them."""
        return list(self.view().manifest.segments)

    def stale_reason(self) -> str | None:
        """Why the index no longer matches its input files or model; None when it does."""
        return stale_reason(self.view(), packaged_model=self._embedder is None)

    # --- querying ------------------------------------------------------------------------

    def embedder(self) -> TextEmbedder:
        """The embedder of this index. The packaged one is cheap to make: questions need only its
        int8 ONNX model, and its torch model loads when documents are first embedded (`add`,
        `refresh`), so opening an index and answering never imports torch."""
        if self._embedder is None:
            self._embedder = load_embedder(self.view().settings.model)
        return self._embedder

    def retrieve(self, question: str, k: int = 5, documents: Sequence[str] | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first; searched within `documents`
        (doc ids) when given. `ValueError` for an empty or over-long question, `k` outside
        1..100 or an unknown doc id. For the query vectors too, use `pinned()` (a `Searcher`)."""
        return self.pinned(documents).search(question, k).passages

    def answer(
        self,
        question: str,
        history: Sequence[tuple[str, str]] | None = None,
        config: "AnswerConfig | None" = None,
        documents: Sequence[str] | None = None,
    ) -> "Answer":
        """A cited, extractive answer (see `qa.answering.compose`); quoting `documents` (doc ids)
        alone when given, "The documents don't say." when they don't."""
        from qa.answering.compose import AnswerConfig, compose_answer, nothing_indexed

        searcher = self.pinned(documents)
        if not searcher.view.live_documents:
            return nothing_indexed(question)
        return compose_answer(searcher, question, history, config or AnswerConfig())

    # --- updating ------------------------------------------------------------------------

    def add(self, paths: PathsLike, *, progress: bool | None = None, loaded: LoadResult | None = None) -> UpdateReport:
        """Add or update the files under `paths`; unchanged files are not embedded again.

        A file already indexed from the same path keeps its doc id and is replaced when its
        content changed. `loaded`: the files under `paths`, already read by the caller (an
        upload reads its file to check it), so that nothing is parsed twice.
        """
        loaded = loaded if loaded is not None else load_documents(as_list(paths))
        change = self._writer.write(plan_add(loaded, resolved_paths(paths)), progress)
        return replace(change.report, skipped=list(loaded.skipped))

    def remove(self, doc_ids: str | Sequence[str]) -> None:
        """Remove a document, or several in one commit (at once, as tombstones). Their files
        stay on disk but are not indexed again by `refresh` or `sync` (`add` brings one back).
        Raises `KeyError` for an unknown id, before removing any."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        for doc_id in ids:
            self.document(doc_id)  # KeyError with a message before any work
        self._writer.write(plan_remove(*ids), progress=False)

    def sync(self, paths: PathsLike, *, missing_ok: bool = False, progress: bool | None = None) -> UpdateReport:
        """Bring the index in step with exactly the files under `paths` (files and folders): new
        files added, changed ones (by content hash) read again, documents whose file is gone from
        those paths removed. Unchanged files are only hashed: a sync with nothing to do loads no
        model and commits nothing. Documents from other paths and uploads are left alone, and
        files removed with `remove` stay out (reported as skipped). A path that does not exist is
        a `ValueError`; with `missing_ok` (a watcher's deleted file) whatever was indexed at or
        under it is removed."""
        skipped: list[SkippedFile] = []
        change = self._writer.write(plan_sync(scan_paths(paths, missing_ok=missing_ok), skipped), progress)
        return replace(change.report, skipped=list(skipped))

    def watch(self, paths: PathsLike, *, force_polling: bool | None = None) -> FolderWatcher:
        """Follow the folders (or files) `paths`: a started `FolderWatcher` (`qa.index.watching`)
        that syncs each burst of changes under them into this index as one commit, in its own
        thread, after first catching up with them. `stop()` it, or use it in a `with`.
        `force_polling`: for network file systems, which send no change events."""
        def apply(changed: list[Path]) -> None:
            self.sync(changed, missing_ok=True)

        return FolderWatcher(as_list(paths), apply, force_polling=force_polling, ignore=[self.path]).start()

    def refresh(self, *, progress: bool | None = None) -> UpdateReport:
        """Bring the index in line with its input paths: new, changed and deleted files."""
        skipped: list[SkippedFile] = []
        change = self._writer.write(plan_refresh(skipped), progress)
        return replace(change.report, skipped=list(skipped))

    def compact(self, *, full: bool = True) -> int:
        """Merge segments now: all into one (`full`), or what the tiered policy asks for.
        Returns how many segments were merged."""
        return self._writer.compact(full=full)

    def merge_batches(self) -> None:
        """Merge a distributed build's batch segments into the segments a one-process build
        writes: the same rankings, fewer segments to search. `build(executor="ray")` does it
        itself; benchmarks/ray_indexing.py calls it to time it apart."""
        self._writer.merge_to_build_layout(BUILD_BATCH_CHARS)

    def wait_for_merges(self) -> None:
        """Block until background merges started by this index's writes have finished."""
        self._writer.wait_for_merges()


def _built_distributed(
    cls: type[Index],
    paths: PathsLike,
    root: Path,
    options: tuple[str, str | None, int | None, str, TextEmbedder | None],
    settings: IndexSettings,
    fusion: FusionConfig,
    progress: bool | None,
) -> Index:
    """`Index.build` with another executor, (executor, address, workers, model, embedder) in
    `options`: only "ray" (qa.index.distributed, imported only now)."""
    from qa.index import distributed

    executor, address, workers, model, embedder = options
    if executor not in distributed.EXECUTORS:
        raise ValueError(f"executor must be one of {distributed.EXECUTORS}, not {executor!r}")
    if embedder is not None:
        raise ValueError("executor='ray' embeds on the workers with a packaged model (model=...), not an embedder object")
    built = distributed.build_with_ray(as_list(paths), root, settings, distributed.RayOptions(address, workers, progress is not False))
    index = cls(IndexView.open(root, built.manifest, {}), load_embedder(model), fusion)
    index.merge_batches()
    return index
