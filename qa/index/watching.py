"""Following folders: a `FolderWatcher` turns the file system's change events under some paths
into batches of changed paths, and hands each batch to a function that applies it (`Index.sync`
of those paths, through `Index.watch` or `qa serve --watch`'s writer thread).

    >>> with index.watch(["notes/"]):      # doctest: +SKIP
    ...     (Path("notes") / "new.md").write_text("# Harbour\\n\\nThe ferry runs twice a day.")
    ...     # answerable within seconds

Events come from `watchfiles` (the Rust `notify` library that uvicorn's reloader uses: inotify
on Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows), not from polling by hand. A burst
of changes (a copy of a folder, an editor's save) is gathered until `STEP_MS` pass without a new
event, or `DEBOUNCE_MS` at most, and applied as one batch: one commit. Events that arrive while a
batch is applied are kept and make the next one. Network and some virtual file systems (NFS,
SMB/CIFS, sshfs, a Docker bind mount from another OS, WSL's Windows drives) send no events:
there pass `force_polling=True` (or set `WATCHFILES_FORCE_POLLING=1`), and watchfiles lists the
folders every `POLL_DELAY_MS` instead.

The first batch is the watched paths themselves, so the index catches up with whatever changed
while nobody watched. A batch that fails (a full disk) is kept and tried again with the next
event, or after `RETRY_S`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import watchfiles

# A burst ends after this long without a new event...
STEP_MS = 300
# ...or after this long in all, however busy the folder.
DEBOUNCE_MS = 2_000
# How often the watching thread wakes without events (to retry a failed batch, or to stop).
WAKE_MS = 1_000
# With force_polling: how often the folders are listed.
POLL_DELAY_MS = 500
# A failed batch is tried again after this long when no new event comes first.
RETRY_S = 30.0
# How long `stop` waits for the thread (a batch being applied finishes first).
STOP_TIMEOUT_S = 60.0
SIDECAR_SUFFIX = ".meta.json"  # a document's side-car metadata (qa.loading.documents)

Apply = Callable[[list[Path]], Any]


def _complain(error: Exception) -> None:
    """The default for a failed batch: nothing (it is tried again)."""


class FolderWatcher:
    """Watch `paths` (folders, recursively, or files) on a thread of its own; call `apply` with
    each batch of changed paths (sorted; a deleted one too: `apply` decides what a missing path
    means). Start it with `start()` (or `with`), end it with `stop()`."""

    def __init__(
        self,
        paths: Sequence[str | Path] | str | Path,
        apply: Apply,
        *,
        force_polling: bool | None = None,
        on_error: Callable[[Exception], None] = _complain,
        ignore: Sequence[str | Path] = (),
    ) -> None:
        """`force_polling`: list the folders instead of waiting for events (network file
        systems; None: watchfiles decides, from `WATCHFILES_FORCE_POLLING` and WSL).
        `ignore`: folders whose changes are not the documents' (the index folder itself, when
        it lies inside a watched one: its own commits must not count as changes).
        `on_error(error)`: told when a batch fails (it is kept and tried again). Raises
        `ValueError` naming a path that does not exist."""
        given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        if not given:
            raise ValueError("give the folders to watch")
        for path in given:
            if not path.exists():
                raise ValueError(f"cannot watch {path}: no such file or folder")
        self.paths = [p.resolve() for p in given]
        self.force_polling = force_polling
        self.ignored = [Path(p).resolve() for p in ignore]
        self.batches = 0  # batches applied so far (the first is the catch-up)
        self._apply = apply
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qa-watch", daemon=True)
        self._default_filter = watchfiles.DefaultFilter()

    def start(self) -> "FolderWatcher":
        """Start watching (once); returns the watcher."""
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop watching and wait (at most `timeout` seconds) for a batch being applied."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the watching thread is alive."""
        return self._thread.is_alive()

    def __enter__(self) -> "FolderWatcher":
        return self if self._thread.is_alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the watching thread ------------------------------------------------------------------

    def _run(self) -> None:
        pending: set[Path] = set(self.paths)  # the first batch: catch up with the folders as they are
        retry_at = 0.0
        events = watchfiles.watch(
            *self.paths,
            watch_filter=self._wanted,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
            force_polling=self.force_polling,
            poll_delay_ms=POLL_DELAY_MS,
            ignore_permission_denied=True,
        )
        try:
            for changes in events:
                pending, retry_at = self._handle(changes, pending, retry_at)
        except Exception as error:  # noqa: BLE001 - a watched folder gone, the watch limit hit: say so
            self._on_error(error)

    def _handle(self, changes: set[tuple[watchfiles.Change, str]], pending: set[Path], retry_at: float) -> tuple[set[Path], float]:
        """Add `changes` to `pending` and apply them, unless there is nothing to do or a failed
        batch waits for its retry time; returns what is still pending and that time."""
        fresh = set(self.document_paths(Path(p) for _, p in changes))
        pending |= fresh
        if not pending or (not fresh and time.monotonic() < retry_at) or self._stop.is_set():
            return pending, retry_at
        batch = sorted(pending)
        try:
            self._apply(batch)
        except Exception as error:  # noqa: BLE001 - keep watching; the batch is tried again
            self._on_error(error)
            return set(batch), time.monotonic() + RETRY_S
        self.batches += 1
        return set(), 0.0

    def _wanted(self, change: watchfiles.Change, path: str) -> bool:
        """watchfiles' default filter (editor swap files, .git, caches), and nothing hidden:
        a folder's hidden files are not indexed (`qa.loading.documents.find_files`)."""
        if not self._default_filter(change, path) or any(Path(path).is_relative_to(p) for p in self.ignored):
            return False
        for root in self.paths:
            try:
                parts = Path(path).relative_to(root).parts
            except ValueError:
                continue
            return not any(part.startswith(".") for part in parts)
        return True

    @staticmethod
    def document_paths(changed: Iterable[Path]) -> list[Path]:
        """The paths to sync for `changed` paths: a side-car `<stem>.meta.json` stands for the
        documents beside it with that stem (their title and source changed)."""
        found = []
        for path in changed:
            if path.name.endswith(SIDECAR_SUFFIX):
                prefix = path.name[: -len(SIDECAR_SUFFIX)] + "."
                try:
                    found.extend(p for p in path.parent.iterdir() if p.name.startswith(prefix) and p != path)
                except OSError:  # the folder is gone too: its own events say so
                    pass
            else:
                found.append(path)
        return found
