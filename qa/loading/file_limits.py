"""What reading one file may cost, and the one error a file that cannot be read raises.

The base of loading: `qa.loading.documents` (files -> `Document`) and `qa.loading.formats` (the HTML, PDF and
DOCX extractors it calls) both use these, so neither imports the other for them (before, the
two modules imported each other).

A PDF of more than `MAX_PDF_PAGES` pages is refused whole (a partial document would answer as
if it were the whole file). Parsing one HTML, PDF or DOCX file runs in a child process
(`qa.loading.parsing`) that is killed once it has taken `PARSE_SECONDS`, and that may allocate
`PARSE_MEMORY_MB` more than it held before the file; past either, the file is skipped with the
reason. The extractors also check the time themselves between pages, blocks and paragraphs
(`Deadline`), so a slow file ends cleanly and its child is kept for the next file; a parser call
that never returns ends with the child.

`$QA_PARSE_SECONDS` and `$QA_PARSE_MEMORY_MB` change the two defaults (for `qa serve`, whose
uploads have no other way to set them); a value that is not a positive number is ignored.

    >>> deadline = Deadline.after(FileLimits().parse_seconds)
    >>> deadline.check()  # raises UnreadableFile once 30 s have passed
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

MAX_FILE_BYTES = 50 * 1024 * 1024
# A PDF with more pages is refused (a 50 MB file of text can hold ~50,000 pages; reading that
# many takes minutes). 2,000 pages is a long book.
MAX_PDF_PAGES = 2000
# Parsing one file may take this long; past it, the file is skipped with a reason.
PARSE_SECONDS = 30.0
# Parsing one file may allocate this much memory (address space) beyond what its parser process
# held before; past it, the file is skipped with a reason. A 50 MB HTML page parsed by lxml and
# BeautifulSoup is the largest expected case (about 1 GB).
PARSE_MEMORY_MB = 2048


def _from_environment(name: str, default: float) -> float:
    """`$name` as a positive number, or `default` when unset or not one."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def parse_seconds() -> float:
    """The time one file may take to parse: `$QA_PARSE_SECONDS`, default `PARSE_SECONDS`."""
    return _from_environment("QA_PARSE_SECONDS", PARSE_SECONDS)


def parse_memory_mb() -> int:
    """The memory one file may take to parse: `$QA_PARSE_MEMORY_MB`, default `PARSE_MEMORY_MB`."""
    return int(_from_environment("QA_PARSE_MEMORY_MB", PARSE_MEMORY_MB))


class UnreadableFile(Exception):
    """A file that cannot become a `Document`; the message is the one-line reason."""


def time_limit_reason(seconds: float) -> str:
    """The reason a file that took longer than `seconds` to parse is skipped."""
    return f"parsing took longer than {seconds:g} s, the limit per file"


def memory_limit_reason(megabytes: int) -> str:
    """The reason a file that needed more than `megabytes` to parse is skipped."""
    return f"parsing needed more than {megabytes:,} MB, the limit per file"


def error_line(error: BaseException, limit: int = 200) -> str:
    """A parser's exception as one line: its type and the first `limit` characters of its message."""
    text = " ".join(str(error).split()) or "no detail"
    return f"{type(error).__name__}: {text[:limit]}"


@dataclass(frozen=True)
class FileLimits:
    """What one file may cost to load (see the module docstring)."""

    pdf_pages: int = MAX_PDF_PAGES
    parse_seconds: float = field(default_factory=parse_seconds)
    parse_memory_mb: int = field(default_factory=parse_memory_mb)


@dataclass(frozen=True)
class Deadline:
    """When parsing one file must have finished; extractors call `check` as they go."""

    at: float  # a time.monotonic() value
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        """A deadline `seconds` from now (`FileLimits.parse_seconds`, when a file starts loading)."""
        return cls(time.monotonic() + seconds, seconds)

    def check(self) -> None:
        """Raise `UnreadableFile` once the deadline has passed."""
        if time.monotonic() >= self.at:
            raise UnreadableFile(time_limit_reason(self.seconds))


NO_DEADLINE = Deadline(float("inf"), float("inf"))
