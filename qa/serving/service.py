"""The operations every front end offers over one `Index`: ask, list, upload, remove, rebuild,
and following watched folders.

The web chat (`qa.serving.web`) and the JSON API (`qa.serving.api`) both call a `QaService`, so
an upload, a removal or a read-only refusal behaves the same whichever page or client asked,
and every write goes through one niced writer thread. Each operation either returns its
result or raises a `ServiceError` whose message is the one line to show; its `status` is the
HTTP status the API maps it to, and the chat shows the line as a notice:

    >>> service = QaService(index, read_only=True)          # doctest: +SKIP
    >>> service.remove("doc-1")                             # doctest: +SKIP
    Traceback (most recent call last):
    qa.serving.service.ReadOnlyIndex: this server is read-only: uploading, removing and rebuilding are turned off
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

from qa.answering.compose import Answer
from qa.errors import describe_failure
from qa.index.planning import UpdateReport
from qa.index.retrieval import QuestionTooLong, check_question
from qa.index.view import DocumentEntry
from qa.index.watching import FolderWatcher
from qa.loading.documents import Document
from qa.serving.uploads import UploadOutcome, add_uploads, is_upload, remove_document

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index

T = TypeVar("T")
Progress = Callable[[float, str], None]
History = Sequence[tuple[str, str]]

# Index writers (upload, remove, rebuild) run at this niceness: questions come first.
WRITER_NICENESS = 10
READ_ONLY_TEXT = "this server is read-only: uploading, removing and rebuilding are turned off"


class ServiceError(Exception):
    """An operation refused or failed; the message is the one line to show, `status` its HTTP
    status."""

    status = 500


class QuestionRefused(ServiceError):
    """The library refused the question (empty, too long, not text) or its document filter (an
    unknown id); the message says why.
    `length` is the question's length when that was the reason, else None."""

    status = 400

    def __init__(self, message: str, length: int | None = None) -> None:
        super().__init__(message)
        self.length = length


def _refused(error: ValueError | TypeError) -> QuestionRefused:
    return QuestionRefused(str(error), error.length if isinstance(error, QuestionTooLong) else None)


class ReadOnlyIndex(ServiceError):
    """A write asked of a read-only server."""

    status = 403


class NotInIndex(ServiceError):
    """A document id the index does not hold (or no longer holds)."""

    status = 404


def _lower_priority() -> None:
    """Nice the calling thread (Linux: per thread) by `WRITER_NICENESS`; elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not permitted
        pass


def _no_progress(fraction: float, message: str) -> None:
    """The progress callback when nobody watches."""


class QaService:
    """One index's operations for every front end; thread-safe (the index is), writes queued."""

    def __init__(self, index: "Index", *, read_only: bool = False) -> None:
        """`read_only`: a shared or public server that answers questions but refuses every write."""
        self.index = index
        self.read_only = read_only
        # One writer at a time, niced: embedding an upload would otherwise take both cores from
        # the questions (p95 x2.4 in benchmarks/load.py); torch's worker threads, started from
        # this thread, inherit its lower priority.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="qa-write", initializer=_lower_priority)
        self._watchers: list[FolderWatcher] = []

    def close(self) -> None:
        """Stop watching and the writer thread without waiting (the server's shutdown calls it)."""
        for watcher in self._watchers:
            watcher.stop(timeout=0)
        self._writer.shutdown(wait=False, cancel_futures=True)

    # --- reading ---------------------------------------------------------------------------

    def check_question(self, question: object) -> str:
        """The question as the library will answer it (normalised, stripped), or
        `QuestionRefused`: lets a page refuse it before showing it as asked."""
        try:
            return check_question(question)
        except (ValueError, TypeError) as error:
            raise _refused(error) from None

    def ask(self, question: str, history: History = (), documents: Sequence[str] | None = None) -> Answer:
        """The answer to `question` (after the `history` of earlier (question, answer) turns),
        from `documents` (doc ids) alone when given; an unknown id is a `QuestionRefused`."""
        try:
            return self.index.answer(question, list(history), documents=documents)
        except (ValueError, TypeError) as error:  # the library's refusal, with its reason
            raise _refused(error) from None
        except Exception as error:  # noqa: BLE001 - the user gets one line, the log the traceback
            raise ServiceError(describe_failure(error, "answering a question")) from None

    def documents(self) -> list[DocumentEntry]:
        """Every indexed document."""
        return self.index.documents()

    def document(self, doc_id: str) -> Document:
        """Document `doc_id`, or `NotInIndex`."""
        try:
            return self.index.document(doc_id)
        except KeyError:
            raise NotInIndex(f"{doc_id}: not in the index (already removed?)") from None

    def stored_original(self, doc_id: str) -> tuple[Path, str] | None:
        """(file, text encoding) of `doc_id` when its file is a stored upload that still
        exists, else None: qa serves only what was uploaded to it."""
        try:
            document = self.index.document(doc_id)
        except KeyError:
            return None
        path = Path(document.path).resolve()
        return (path, document.encoding) if is_upload(path) and path.is_file() else None

    def uploaded(self, doc_ids: Sequence[str]) -> list[str]:
        """Those of `doc_ids` whose file is a stored upload (their originals can be linked)."""
        found = []
        for doc_id in dict.fromkeys(doc_ids):
            try:
                path = self.index.document(doc_id).path
            except KeyError:  # removed since it was retrieved
                continue
            if is_upload(path):
                found.append(doc_id)
        return found

    # --- writing ---------------------------------------------------------------------------

    def upload(self, files: Sequence[str | Path | tuple[str | Path, str]], progress: Progress = _no_progress) -> list[UploadOutcome]:
        """Check, store and index `files` (paths, or (path, user's name) pairs); one outcome per
        file, a refused file being an outcome with its reason rather than an error."""
        return self._write("an upload", add_uploads, self.index, files, progress=progress)

    def remove(self, doc_id: str) -> str:
        """Remove `doc_id` (and its stored file when it is an upload); returns its title."""
        try:
            return self._write("removing a document", remove_document, self.index, doc_id)
        except KeyError:
            raise NotInIndex(f"{doc_id}: not in the index (already removed?)") from None

    def rebuild(self, progress: bool | None = None) -> UpdateReport:
        """Re-read every indexed file (`Index.refresh`); `progress` as there."""
        return self._write("a rebuild", self.index.refresh, progress=progress)

    def watch(
        self,
        paths: Sequence[str | Path],
        *,
        force_polling: bool | None = None,
        on_report: Callable[[UpdateReport], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> FolderWatcher:
        """Follow the folders `paths` (`qa.index.watching.FolderWatcher`): each burst of changes
        under them is one `Index.sync` of the changed paths, run on the writer thread like an
        upload (so writes never race) while questions go on; the first catches up with the
        folders. Also on a read-only server: the operator chose the folders, visitors cannot
        write. `on_report(report)` hears each sync, `on_error(error)` each failed one (it is
        tried again). `close()` stops it."""

        def apply(changed: list[Path]) -> None:
            report = self._on_writer("following a watched folder", self.index.sync, changed, missing_ok=True)
            if on_report is not None:
                on_report(report)

        watcher = FolderWatcher(
            paths, apply, force_polling=force_polling, on_error=on_error or (lambda error: None), ignore=[self.index.path]
        )
        self._watchers.append(watcher)
        self._writer.submit(self._load_document_model)  # so the first change costs no model load
        return watcher.start()

    def _load_document_model(self) -> None:
        """Load the model that embeds documents (the packaged embedder loads it lazily, which
        would add seconds to the first watched change); a failure shows at the first write."""
        load = getattr(self.index.embedder(), "loaded", None)
        try:
            if callable(load):
                load()
        except Exception:  # noqa: BLE001 - the first write that needs the model reports it
            pass

    def _write(self, what: str, operation: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a visitor's write `operation` on the writer thread (`ReadOnlyIndex` on a read-only
        server) and wait for it."""
        if self.read_only:
            raise ReadOnlyIndex(READ_ONLY_TEXT)
        return self._on_writer(what, operation, *args, **kwargs)

    def _on_writer(self, what: str, operation: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run `operation` on the writer thread and wait for it. The caller's context goes with
        it, so a page's progress bar still follows the work."""
        context = contextvars.copy_context()
        future = self._writer.submit(context.run, operation, *args, **kwargs)
        try:
            return future.result()
        except KeyError:
            raise
        except Exception as error:  # noqa: BLE001 - one line for the user, the traceback in the log
            raise ServiceError(describe_failure(error, what)) from None
