"""Files uploaded through the web chat -> stored safely under the data directory -> indexed.

    >>> outcomes = add_uploads(index, ["/tmp/gradio/ab12/Notes.md"])
    >>> [(o.ok, o.message) for o in outcomes]
    [(True, 'Notes.md: added as “Notes” (3 passages)')]

Rules:
- Types: .txt .md .markdown .html .htm .pdf .docx; anything else is refused with a message.
- Size: at most `max_upload_bytes()` (10 MB, or `$QA_MAX_UPLOAD_MB`).
- Names are sanitised (`safe_filename`): no directories, no path traversal, no hidden or
  odd characters. Files go to `$QA_DATA/uploads/`.
- Nothing is overwritten: an identical file already stored is reused; a different file with
  the same name is stored as `name-2.ext`, `name-3.ext` … and the message says so.
- Each file is loaded once before indexing, so a broken file is reported (with its name and
  the reason) and removed again instead of entering the index.
- The good files are added with one `Index.add`, which swaps the index atomically: questions
  asked meanwhile are answered from the old state.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from qa.paths import data_dir
from qa.loading.documents import Document, LoadResult, load_file
from qa.loading.file_limits import UnreadableFile

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index

ALLOWED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DEFAULT_MAX_UPLOAD_MB = 10
MAX_NAME_CHARS = 100
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}

Progress = Callable[[float, str], None]


class UploadRejected(ValueError):
    """A file that is not accepted; the message is one line starting with the file name."""


def max_upload_bytes() -> int:
    """The size limit per file: `$QA_MAX_UPLOAD_MB` megabytes (default 10)."""
    raw = os.environ.get("QA_MAX_UPLOAD_MB", "")
    try:
        megabytes = float(raw) if raw.strip() else DEFAULT_MAX_UPLOAD_MB
    except ValueError:
        megabytes = DEFAULT_MAX_UPLOAD_MB
    return int(megabytes * 1024 * 1024)


def uploads_dir() -> Path:
    """Where uploads are stored: `$QA_DATA/uploads` (default `<project>/data/uploads`)."""
    return data_dir() / "uploads"


def is_upload(path: str | Path, folder: Path | None = None) -> bool:
    """Whether `path` lies in the uploads folder: only such files are qa's to delete."""
    return Path(path).resolve().is_relative_to((folder or uploads_dir()).resolve())


def remove_document(index: "Index", doc_id: str, folder: Path | None = None) -> str:
    """Remove `doc_id` from the index and, when it was an upload (its file lies in the uploads
    folder), delete the stored file too, so a removed upload leaves nothing behind.
    Returns the document's title; raises `KeyError` for an unknown id."""
    document = index.document(doc_id)
    index.remove(doc_id)
    if is_upload(document.path, folder):
        Path(document.path).resolve().unlink(missing_ok=True)
    return document.title


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def display_name(name: str) -> str:
    """The last component of a client-supplied name, for messages (never used as a path)."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    return base.strip() or "(unnamed file)"


def safe_filename(name: str) -> str:
    """A file name that is safe to create in the uploads folder, keeping what it can.

    Directory parts (`/` or `\\`), control characters and anything outside letters, digits,
    `.`, `_`, `-` and spaces are dropped or replaced; leading dots go (no hidden files, no
    `..`); the suffix is lower-cased. Raises `UploadRejected` for a type qa cannot read.

    >>> safe_filename("../../etc/Passwd.TXT")
    'Passwd.txt'
    """
    base = unicodedata.normalize("NFKC", display_name(name))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = "." + suffix.lower() if suffix else ""
    if suffix not in ALLOWED_SUFFIXES:
        kind = f"type {suffix!r}" if suffix else "files without an extension"
        raise UploadRejected(
            f"{display_name(name)}: {kind} is not supported; upload {', '.join(ALLOWED_SUFFIXES)}"
        )
    stem = re.sub(r"[^\w.\- ]+", "-", stem)
    stem = re.sub(r"\s+", " ", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip(" .-_")
    if not stem:
        stem = "upload"
    if stem.lower().split(".")[0] in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip(" .")
    return f"{stem}{suffix}"


def check_upload(path: str | Path, name: str | None = None) -> int:
    """Check type and size of an uploaded file; returns its size or raises `UploadRejected`."""
    shown = display_name(name if name is not None else Path(path).name)
    safe_filename(shown)
    try:
        size = Path(path).stat().st_size
    except OSError as error:
        raise UploadRejected(f"{shown}: the upload could not be read ({error.strerror or error})") from None
    limit = max_upload_bytes()
    if size > limit:
        raise UploadRejected(f"{shown}: the file is {_human(size)}; the limit is {_human(limit)} per file")
    if size == 0:
        raise UploadRejected(f"{shown}: the file is empty")
    return size


@dataclass(frozen=True)
class StoredUpload:
    """Where `store_upload` put a file: `created` tells whether a failed upload may delete it
    again, `renamed` that the message must give the new name."""

    path: Path  # where the file now is, inside the uploads folder
    created: bool  # False: an identical file was already stored there
    renamed: bool  # True: stored under another name because the name was taken


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def store_upload(path: str | Path, name: str | None = None, folder: str | Path | None = None) -> StoredUpload:
    """Copy an uploaded file into the uploads folder under a sanitised, unused name.

    Never overwrites: a file with the same name and content is reused, a different one
    gets a `-2`, `-3` … suffix. Creation is exclusive (`O_EXCL`), so two uploads racing for
    one name both survive.
    """
    source = Path(path)
    folder = Path(folder) if folder is not None else uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    filename = safe_filename(name if name is not None else source.name)
    stem, suffix = filename[: -len(Path(filename).suffix)], Path(filename).suffix
    digest = _digest(source)
    for n in range(1, 10_000):
        candidate = folder / (filename if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.exists():
            if candidate.is_file() and _digest(candidate) == digest:
                return StoredUpload(candidate, created=False, renamed=n > 1)
            continue
        try:
            with open(candidate, "xb") as out, open(source, "rb") as data:
                for block in iter(lambda: data.read(1 << 20), b""):
                    out.write(block)
        except FileExistsError:  # someone else took the name meanwhile
            continue
        except OSError:
            candidate.unlink(missing_ok=True)
            raise
        return StoredUpload(candidate, created=True, renamed=n > 1)
    raise UploadRejected(f"{display_name(filename)}: too many files with this name")


@dataclass(frozen=True)
class UploadOutcome:
    """What became of one uploaded file; `message` is the line the page and the API show."""

    name: str  # the name the user gave the file
    ok: bool
    message: str  # one line, starting with the file name
    path: Path | None = None  # stored file (when ok)
    doc_id: str | None = None


def _noop(fraction: float, message: str) -> None:
    pass


def add_uploads(
    index: "Index",
    files: Sequence[str | Path | tuple[str | Path, str]],
    *,
    folder: str | Path | None = None,
    progress: Progress = _noop,
) -> list[UploadOutcome]:
    """Check, store and index uploaded files; one `UploadOutcome` per file, in order.

    `files`: paths (their file name is the user's name) or (path, name) pairs.
    `progress(fraction, message)` is called as the work goes on.
    """
    pending: list[tuple[int, str, StoredUpload, Document]] = []
    outcomes: list[UploadOutcome | None] = [None] * len(files)
    for i, item in enumerate(files):
        path, name = (item if isinstance(item, tuple) else (item, Path(item).name))
        shown = display_name(name)
        progress(0.3 * i / max(len(files), 1), f"checking {shown}")
        try:
            check_upload(path, shown)
            stored = store_upload(path, shown, folder)
        except UploadRejected as error:
            outcomes[i] = UploadOutcome(shown, False, str(error))
            continue
        except OSError as error:
            outcomes[i] = UploadOutcome(shown, False, f"{shown}: could not be stored ({error.strerror or error})")
            continue
        try:
            document = load_file(stored.path)
        except UnreadableFile as error:
            if stored.created:
                stored.path.unlink(missing_ok=True)
            outcomes[i] = UploadOutcome(shown, False, f"{shown}: cannot be indexed: {error}")
            continue
        twin = next(
            (e for e in index.documents()
             if e.content_hash == document.content_hash and Path(e.path).resolve() != stored.path.resolve()),
            None,
        )
        if twin is not None:  # the same content is indexed from another file
            if stored.created:
                stored.path.unlink(missing_ok=True)
            outcomes[i] = UploadOutcome(
                shown, True, f"{shown}: already indexed as “{twin.title}” (same content), not added again",
                Path(twin.path), twin.doc_id,
            )
            continue
        pending.append((i, shown, stored, document))
    if pending:
        progress(0.3, f"indexing {len(pending)} file(s)")
        loaded = LoadResult([document for *_, document in pending])  # read once, above
        report = index.add([stored.path for _, _, stored, _ in pending], loaded=loaded)
        failed = {str(Path(s.path).resolve()): s.reason for s in report.skipped}
        by_path = {str(Path(e.path).resolve()): e for e in index.documents()}
        fresh = set(report.added) | set(report.updated)
        for i, shown, stored, _ in pending:
            key = str(stored.path.resolve())
            entry = by_path.get(key)
            if key in failed or entry is None:
                if stored.created:
                    stored.path.unlink(missing_ok=True)
                reason = failed.get(key, "it was not indexed")
                outcomes[i] = UploadOutcome(shown, False, f"{shown}: cannot be indexed: {reason}")
                continue
            passages = f"{entry.chunks} passage{'s' if entry.chunks != 1 else ''}"
            if entry.doc_id in fresh:
                message = f"{shown}: added as “{entry.title}” ({passages})"
            else:
                message = f"{shown}: already indexed as “{entry.title}” ({passages}), unchanged"
            if stored.renamed:
                message += f"; stored as {stored.path.name} because another file is named {safe_filename(shown)}"
            outcomes[i] = UploadOutcome(shown, True, message, stored.path, entry.doc_id)
    progress(1.0, "done")
    return [o for o in outcomes if o is not None]
