"""What reading one file may cost, and the one error a file that cannot be read raises.

The base of loading: `qa.loading.documents` (files -> `Document`) and `qa.loading.formats` (the HTML, PDF and
DOCX extractors it calls) both use these, so neither imports the other for them (before, the
two modules imported each other).

A PDF of more than `MAX_PDF_PAGES` pages is refused whole (a partial document would answer as
if it were the whole file); parsing that runs past `PARSE_SECONDS` is abandoned with a reason.
The time limit is checked by the extractors between pages, blocks and paragraphs (`Deadline`),
not by a watchdog thread or signal: a thread cannot be stopped, and SIGALRM works in the main
thread only (the server loads files in worker threads).

    >>> deadline = Deadline.after(FileLimits().parse_seconds)
    >>> deadline.check()  # raises UnreadableFile once 30 s have passed
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_FILE_BYTES = 50 * 1024 * 1024
# A PDF with more pages is refused (a 50 MB file of text can hold ~50,000 pages; reading that
# many takes minutes). 2,000 pages is a long book.
MAX_PDF_PAGES = 2000
# Parsing one file may take this long; past it, the file is skipped with a reason.
PARSE_SECONDS = 30.0


class UnreadableFile(Exception):
    """A file that cannot become a `Document`; the message is the one-line reason."""


@dataclass(frozen=True)
class FileLimits:
    """What one file may cost to load (see the module docstring)."""

    pdf_pages: int = MAX_PDF_PAGES
    parse_seconds: float = PARSE_SECONDS


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
            raise UnreadableFile(f"parsing took longer than {self.seconds:g} s, the limit per file")


NO_DEADLINE = Deadline(float("inf"), float("inf"))
