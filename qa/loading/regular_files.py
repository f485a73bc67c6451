"""Only regular files are read: a FIFO, socket or device is refused with a reason before any read.

`open()` on a FIFO blocks until a writer comes (for ever, in a watched folder), and a device can
be endless (`/dev/zero`) or have side effects. So the type is checked with `os.stat` before
opening (symbolic links are followed, to regular files only), the file is opened non-blocking
(a FIFO swapped in after the check cannot block the open either) and checked again with
`os.fstat` on what was opened.

    >>> not_regular(os.stat("/dev/null").st_mode)
    'not a regular file (a character device)'
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from qa.loading.file_limits import UnreadableFile

# Non-blocking open: a FIFO opens at once instead of waiting for a writer (there is no such flag
# on Windows, which has no FIFOs in the file system).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_CHUNK_BYTES = 1024 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


def not_regular(mode: int) -> str | None:
    """Why a file of this `st_mode` is not read ("not a regular file (a FIFO)"), or None for a
    regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "an unknown kind")
    return f"not a regular file ({kind})"


def file_problem(path: str | Path) -> str | None:
    """Why `path` would not be read as a file (missing, broken link, FIFO …), or None when it
    is a regular file or a link to one."""
    try:
        return not_regular(os.stat(path).st_mode)
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "no such file or directory"
    except OSError as error:
        return f"cannot read: {error.strerror or error}"


@contextmanager
def open_regular_file(path: str | Path) -> Iterator[BinaryIO]:
    """Open a regular file (or a link to one) for reading in binary; anything else raises
    `UnreadableFile` with the reason, without ever blocking on the open."""
    problem = file_problem(path)
    if problem is not None:
        raise UnreadableFile(problem)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise UnreadableFile(f"cannot read: {error.strerror or error}") from None
    try:
        problem = not_regular(os.fstat(fd).st_mode)  # swapped for a FIFO after the check?
        if problem is not None:
            raise UnreadableFile(problem)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; `UnreadableFile` with the reason for
    anything else (not a regular file, too big, unreadable)."""
    with open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise UnreadableFile(f"file is {size:,} bytes; the limit is {max_bytes:,}")
        try:
            raw = handle.read(size + 1)  # not max_bytes + 1: that would allocate 50 MB per file
            if len(raw) > size:  # grew since the fstat
                raw += handle.read(max_bytes + 1 - len(raw))
        except OSError as error:
            raise UnreadableFile(f"cannot read: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise UnreadableFile(f"file is over {max_bytes:,} bytes; the limit is {max_bytes:,}")
    return raw


class Digest(Protocol):
    """What `hash_regular_file` feeds: a `hashlib` hash object."""

    def update(self, data: bytes, /) -> None:
        """Add `data` to the hash."""


def hash_regular_file(path: str | Path, digest: Digest) -> None:
    """Feed a regular file's bytes into `digest` chunk by chunk (any size, little memory);
    `UnreadableFile` when it is not a regular file or cannot be read."""
    with open_regular_file(path) as handle:
        try:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
        except OSError as error:
            raise UnreadableFile(f"cannot read: {error.strerror or error}") from None
