"""Search results -> cited answers: candidate sentences, the reader's windows, the second hop, comparisons, the optional re-scoring.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
