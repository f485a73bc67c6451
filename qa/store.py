"""The index on disk: one immutable snapshot folder per build, swapped in atomically.

Layout of an index folder:

    index/
      CURRENT                 name of the live snapshot (replaced atomically with os.replace)
      snapshot-<time>-<id>/
        manifest.json         format version, model, chunking, BM25 settings, documents, file hashes
        records.json          document texts, paragraph, sentence and chunk spans
        chunks.faiss          FAISS IndexFlatIP of chunk vectors
        sentences.npy         sentence vectors (float32, normalised)
        bm25/                 bm25s index of chunk texts
      .building-<pid>-<id>/   a build in progress (removed when its process is gone)
      .lock                   serialises writers across processes

A build writes a new snapshot folder, then points CURRENT at it. A crash or kill at any moment
leaves CURRENT naming the previous, complete snapshot. Readers load a whole snapshot into
memory, so a later swap never changes what an open `Index` sees.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import Chunk, ChunkingConfig, Sentence
from qa.documents import Document
from qa.lexical import BM25Config, LexicalIndex

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
RECORDS = "records.json"
CHUNK_VECTORS = "chunks.faiss"
SENTENCE_VECTORS = "sentences.npy"
BM25_FOLDER = "bm25"


class IndexProblem(Exception):
    """Base class of index problems; the message says what is wrong and how to fix it."""


class IndexNotFound(IndexProblem):
    pass


class IndexCorrupted(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    """The index was built with another model, format or settings than requested."""


@dataclass(frozen=True)
class IndexSettings:
    """Everything that changes the stored vectors or tokens; a change means a rebuild."""

    model: str
    model_id: str
    dimension: int
    chunking: ChunkingConfig = ChunkingConfig()
    bm25: BM25Config = BM25Config()
    embed_titles: bool = False


@dataclass(frozen=True)
class DocumentEntry:
    """What the manifest says about one document (no text)."""

    doc_id: str
    path: str
    title: str
    source: str
    content_hash: str
    paragraphs: int
    sentences: int
    chunks: int
    added: str  # ISO 8601 UTC


@dataclass(frozen=True)
class Snapshot:
    """One complete, immutable index state, as loaded in memory.

    `sentence_rows[doc_id]` is the row of the document's first sentence in `sentence_vectors`;
    `Chunk.first_sentence` and `last_sentence` count from there.
    """

    settings: IndexSettings
    documents: tuple[Document, ...]
    entries: tuple[DocumentEntry, ...]
    sentences: tuple[Sentence, ...]
    chunks: tuple[Chunk, ...]
    chunk_index: object  # faiss.IndexFlatIP
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    created: str
    name: str = ""
    by_id: dict[str, Document] = field(default_factory=dict, compare=False)
    sentence_rows: dict[str, int] = field(default_factory=dict, compare=False)
    chunk_rows: dict[str, int] = field(default_factory=dict, compare=False)
    # Sentence rows of every chunk, concatenated, and where each chunk's run starts in it
    # (for `qa.retrieval.best_sentence_scores`).
    chunk_members: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)
    chunk_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)

    def __post_init__(self) -> None:
        self.by_id.update({d.doc_id: d for d in self.documents})
        self.chunk_rows.update({c.chunk_id: i for i, c in enumerate(self.chunks)})
        row = 0
        counts: dict[str, int] = {}
        for sentence in self.sentences:
            counts[sentence.doc_id] = counts.get(sentence.doc_id, 0) + 1
        for document in self.documents:
            self.sentence_rows[document.doc_id] = row
            row += counts.get(document.doc_id, 0)
        members: list[int] = []
        starts: list[int] = []
        for chunk in self.chunks:
            base = self.sentence_rows[chunk.doc_id]
            starts.append(len(members))
            members.extend(range(base + chunk.first_sentence, base + chunk.last_sentence + 1))
        # frozen dataclass: derived arrays are set once, here
        object.__setattr__(self, "chunk_members", np.asarray(members, dtype=np.int64))
        object.__setattr__(self, "chunk_starts", np.asarray(starts, dtype=np.int64))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _file_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


@contextlib.contextmanager
def writer_lock(root: Path):
    """Exclusive lock on an index folder while a build or update writes to it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_builds(root: Path) -> None:
    """Delete `.building-*` folders whose process has died (a crash or kill mid-build)."""
    for folder in root.glob(".building-*"):
        try:
            pid = int(folder.name.split("-")[1])
        except (IndexError, ValueError):
            pid = -1
        if pid == os.getpid() or (pid > 0 and _pid_alive(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def start_build(root: Path) -> Path:
    """A fresh private folder to write a snapshot into."""
    root.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(root)
    folder = root / f".building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def write_snapshot(root: Path, building: Path, snapshot: Snapshot, extra_manifest: dict) -> str:
    """Write `snapshot` into `building`, then make it the live snapshot of `root` atomically.

    Call inside `writer_lock(root)`. `extra_manifest` holds the caller's bookkeeping.
    Returns the new snapshot's folder name.
    """
    import faiss

    faiss.write_index(snapshot.chunk_index, str(building / CHUNK_VECTORS))
    np.save(building / SENTENCE_VECTORS, snapshot.sentence_vectors)
    snapshot.lexical.save(building / BM25_FOLDER)
    doc_rows = {d.doc_id: i for i, d in enumerate(snapshot.documents)}
    records = {
        "documents": [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "source": d.source,
                "path": d.path,
                "text": d.text,
                "paragraphs": d.paragraphs,
                "content_hash": d.content_hash,
                "encoding": d.encoding,
            }
            for d in snapshot.documents
        ],
        "sentences": [[doc_rows[s.doc_id], s.paragraph, s.start, s.end] for s in snapshot.sentences],
        "chunks": [
            [doc_rows[c.doc_id], c.paragraph, c.start, c.end, c.first_sentence, c.last_sentence]
            for c in snapshot.chunks
        ],
    }
    (building / RECORDS).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": snapshot.created,
        "settings": asdict(snapshot.settings),
        "counts": {
            "documents": len(snapshot.documents),
            "sentences": len(snapshot.sentences),
            "chunks": len(snapshot.chunks),
        },
        "documents": [asdict(e) for e in snapshot.entries],
        "files": _file_hashes(building),
        **extra_manifest,
    }
    _write_synced(building / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    for path in building.rglob("*"):
        if path.is_file():
            _fsync(path)
    name = f"snapshot-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
    os.rename(building, root / name)
    _write_synced(root / (CURRENT + ".tmp"), name)
    os.replace(root / (CURRENT + ".tmp"), root / CURRENT)
    _fsync_dir(root)
    _remove_old_snapshots(root, keep={name, *_previous(root, name)})
    return name


def _previous(root: Path, name: str) -> list[str]:
    """The newest other snapshot, kept as a fallback for readers that raced the swap."""
    others = sorted(p.name for p in root.glob("snapshot-*") if p.name != name)
    return others[-1:]


def _remove_old_snapshots(root: Path, keep: set[str]) -> None:
    for folder in root.glob("snapshot-*"):
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)


def rebuild_hint(root: Path) -> str:
    return f"rebuild it with: qa index <your documents> --index {root}"


def live_snapshot(root: Path) -> Path:
    """The folder CURRENT names, or `IndexNotFound`/`IndexCorrupted` with a fix."""
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexNotFound(f"no index at {root} (no {pointer.name} file); {rebuild_hint(root)}")
    name = pointer.read_text(encoding="utf-8").strip()
    folder = root / name
    if not name.startswith("snapshot-") or not folder.is_dir():
        raise IndexCorrupted(f"{pointer} names a missing snapshot {name!r}; {rebuild_hint(root)}")
    return folder


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupted(f"{path} is missing; {rebuild_hint(folder.parent)}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexCorrupted(f"{path} is unreadable ({error}); {rebuild_hint(folder.parent)}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexMismatch(
            f"{path} has format version {found!r}, this qa reads {FORMAT_VERSION}; "
            f"{rebuild_hint(folder.parent)}"
        )
    return manifest


def settings_from_manifest(manifest: dict) -> IndexSettings:
    raw = manifest["settings"]
    return IndexSettings(
        model=raw["model"],
        model_id=raw["model_id"],
        dimension=int(raw["dimension"]),
        chunking=ChunkingConfig(**raw["chunking"]),
        # Indexes written before `titles` existed indexed chunk text alone.
        bm25=BM25Config(**{"titles": False, **raw["bm25"]}),
        embed_titles=bool(raw["embed_titles"]),
    )


def read_snapshot(root: Path) -> Snapshot:
    """Load the live snapshot of `root`, checking every file against the manifest's hashes."""
    import faiss

    folder = live_snapshot(root)
    manifest = read_manifest(folder)
    hint = rebuild_hint(root)
    for relative, expected in manifest.get("files", {}).items():
        path = folder / relative
        if not path.is_file():
            raise IndexCorrupted(f"index file {path} is missing; {hint}")
        if _sha256(path) != expected:
            raise IndexCorrupted(f"index file {path} is damaged (checksum mismatch); {hint}")
    try:
        settings = settings_from_manifest(manifest)
        records = json.loads((folder / RECORDS).read_text(encoding="utf-8"))
        documents = tuple(
            Document(
                doc_id=r["doc_id"],
                title=r["title"],
                source=r["source"],
                path=r["path"],
                text=r["text"],
                paragraphs=tuple((int(s), int(e)) for s, e in r["paragraphs"]),
                content_hash=r["content_hash"],
                encoding=r["encoding"],
            )
            for r in records["documents"]
        )
        sentences = tuple(
            Sentence(documents[d].doc_id, p, s, e, documents[d].text[s:e])
            for d, p, s, e in records["sentences"]
        )
        chunks = []
        per_doc: dict[str, int] = {}
        for d, p, s, e, first, last in records["chunks"]:
            doc = documents[d]
            n = per_doc.get(doc.doc_id, 0)
            per_doc[doc.doc_id] = n + 1
            chunks.append(Chunk(f"{doc.doc_id}:{n}", doc.doc_id, p, s, e, doc.text[s:e], first, last))
        entries = tuple(DocumentEntry(**e) for e in manifest["documents"])
        chunk_index = faiss.read_index(str(folder / CHUNK_VECTORS))
        sentence_vectors = np.load(folder / SENTENCE_VECTORS, allow_pickle=False)
        lexical = LexicalIndex.load(folder / BM25_FOLDER, settings.bm25, len(chunks))
    except IndexProblem:
        raise
    except Exception as error:  # any parse failure means a damaged snapshot
        raise IndexCorrupted(f"index at {folder} is unreadable ({error!r}); {hint}") from None
    if chunk_index.ntotal != len(chunks) or len(sentence_vectors) != len(sentences):
        raise IndexCorrupted(f"index at {folder} has inconsistent vector counts; {hint}")
    return Snapshot(
        settings=settings,
        documents=documents,
        entries=entries,
        sentences=sentences,
        chunks=tuple(chunks),
        chunk_index=chunk_index,
        sentence_vectors=sentence_vectors,
        lexical=lexical,
        created=manifest["created"],
        name=folder.name,
    )
