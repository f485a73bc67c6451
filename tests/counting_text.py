"""A document text that counts what is read out of it: the chunking and property tests use it to
bound the work of splitting and chunking by counting, never by timing."""

from __future__ import annotations


class CountingText(str):
    """A document text that counts the characters read out of it by indexing or slicing.

    `CountingText.read` is one counter for all instances: set it to 0, run, read it back.
    """

    read = 0

    def __getitem__(self, key: int | slice) -> str:
        piece = str.__getitem__(self, key)
        CountingText.read += len(piece)
        return piece
