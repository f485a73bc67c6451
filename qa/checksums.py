"""The one sha256 of a file that qa computes: index files, packaged model files.

    >>> len(sha256_file(Path("seeds/000_56409ce4796d023f.txt")))
    64
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file's bytes, read in blocks (bounded memory for any size)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
