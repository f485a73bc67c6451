"""qa/loading/regular_files.py: only regular files are read; a FIFO is refused, never opened to block.

Each FIFO test runs its load in a thread joined with a deadline: were the FIFO opened for reading
the thread would block for ever, so a regression fails here instead of hanging the suite (the
FIFO is then opened for writing, non-blocking, and closed, which lets the blocked reader go).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from qa.loading import regular_files
from qa.loading.documents import file_fingerprint, find_files, load_documents, load_file
from qa.loading.file_limits import UnreadableFile
from qa.loading.regular_files import open_regular_file, read_regular_file

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need POSIX")

T = TypeVar("T")
# Refusing a FIFO takes a stat and no read: far less than this even on a loaded machine.
MUST_NOT_BLOCK_S = 10


def _without_blocking(fifo: Path, work: Callable[[], T]) -> T:
    """`work()`'s result, failing (not hanging) if it blocks on `fifo`."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(("value", work()))
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome.append(("error", error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(MUST_NOT_BLOCK_S)
    if thread.is_alive():
        try:  # let the blocked reader go: a writer comes and leaves
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        pytest.fail(f"blocked on the FIFO {fifo.name} for {MUST_NOT_BLOCK_S} s")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with a good file, a FIFO, a link to it, a broken link and a socket."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("The harbour reopened on Monday.")
    os.mkfifo(docs / "pipe.txt")
    (docs / "to-pipe.md").symlink_to("pipe.txt")
    (docs / "broken.txt").symlink_to("nowhere.txt")
    (docs / "to-good.md").symlink_to("good.txt")
    return docs


def test_a_folder_with_a_fifo_loads_its_files_and_names_the_fifo(folder: Path):
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "sock.txt"))
    try:
        result = _without_blocking(folder / "pipe.txt", lambda: load_documents([folder]))
    finally:
        listener.close()
    assert [d.doc_id for d in result.documents] == ["good", "to-good"]  # a link to a file is followed
    assert {Path(s.path).name: s.reason for s in result.skipped} == {
        "broken.txt": "a broken symbolic link",
        "pipe.txt": "not a regular file (a FIFO)",
        "sock.txt": "not a regular file (a socket)",
        "to-pipe.md": "not a regular file (a FIFO)",
    }


def test_a_fifo_named_alone_is_skipped_and_load_file_refuses_it(folder: Path):
    fifo = folder / "pipe.txt"
    skipped: list = []
    assert find_files([fifo, folder / "to-pipe.md", Path("/dev/null")], skipped) == []
    assert [s.reason for s in skipped] == [
        "not a regular file (a FIFO)", "not a regular file (a FIFO)", "not a regular file (a character device)",
    ]
    with pytest.raises(UnreadableFile, match=r"^not a regular file \(a FIFO\)$"):
        _without_blocking(fifo, lambda: load_file(fifo))
    assert _without_blocking(fifo, lambda: file_fingerprint(fifo)) == "unreadable"


def test_a_fifo_side_car_is_ignored_not_read(folder: Path):
    os.mkfifo(folder / "good.meta.json")
    document = _without_blocking(folder / "good.meta.json", lambda: load_file(folder / "good.txt"))
    assert document.title == "The harbour reopened on Monday."


def test_a_fifo_swapped_in_after_the_check_is_refused_by_the_open(folder: Path, monkeypatch: pytest.MonkeyPatch):
    """The stat check passed (as if the path were a file then); the non-blocking open and fstat
    refuse what is there now."""
    monkeypatch.setattr(regular_files, "file_problem", lambda path: None)
    fifo = folder / "pipe.txt"

    def read() -> bytes:
        with open_regular_file(fifo) as handle:
            return handle.read()

    with pytest.raises(UnreadableFile, match=r"^not a regular file \(a FIFO\)$"):
        _without_blocking(fifo, read)


def test_size_is_checked_on_what_was_opened(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 101)
    assert read_regular_file(path, 101) == b"x" * 101
    with pytest.raises(UnreadableFile, match="file is 101 bytes; the limit is 100"):
        read_regular_file(path, 100)
    with pytest.raises(UnreadableFile, match="no such file"):
        read_regular_file(tmp_path / "missing.txt", 100)
