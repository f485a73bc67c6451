"""`Document`s -> a `SegmentData`: sentences, chunks and their vectors, ready to write.

The one place where documents are split, chunked and embedded, for a build, an add or an
update alike. `IndexSettings.sentence_vectors` names one of three ways to get the vectors:

- "sentence-pass" (the default): one model pass over the sentences; a chunk's vector is the
  mean of its sentences' token vectors. One pass, and the best sentences;
- "late": one pass over the chunks; a sentence's vector is the mean of its tokens inside the
  chunk ("late chunking"). One pass, but sentence vectors that echo their chunk;
- "separate": both passes (the chunks, then the sentences), twice the model time.

Each is measured in benchmarks/README.md ("One model pass"). An embedder without
`encode_groups` (or `encode_passages` for "late") gets two passes, as does "sentence-pass" when
titles are embedded with chunks, since the title is not one of the chunk's sentences.

    >>> data = embed_documents(documents, settings, embedder)
    >>> data.chunks.shape[1], data.chunk_vectors.shape[1]
    (6, 384)
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from qa.text.chunking import Chunk, Sentence, chunk_document, split_sentences
from qa.loading.documents import Document
from qa.models.packaged import TextEmbedder
from qa.index.segments import SENTENCE_DTYPE, SegmentData
from qa.index.settings import LATE, SENTENCE_PASS, IndexSettings

# Embedding more texts than this at once shows a progress bar (when not told otherwise).
PROGRESS_THRESHOLD = 500


def embed_documents(
    documents: list[Document],
    settings: IndexSettings,
    embedder: TextEmbedder,
    added: list[str],
    progress: bool | None = None,
) -> SegmentData:
    """Split, chunk and embed `documents`; `added` is each document's date added."""
    sentence_rows: list[tuple[int, int, int, int]] = []
    chunk_rows: list[tuple[int, int, int, int, int, int]] = []
    chunk_texts: list[str] = []
    chunk_sentences: list[list[Sentence]] = []
    for doc_row, document in enumerate(documents):
        sentences = split_sentences(document)
        base = len(sentence_rows)
        sentence_rows.extend((doc_row, s.paragraph, s.start, s.end) for s in sentences)
        for chunk in chunk_document(document, sentences, settings.chunking):
            chunk_rows.append(
                (doc_row, chunk.paragraph, chunk.start, chunk.end, base + chunk.first_sentence, base + chunk.last_sentence)
            )
            chunk_texts.append(_embedded_text(document, chunk, settings.embed_titles))
            chunk_sentences.append(sentences[chunk.first_sentence : chunk.last_sentence + 1])
    show = progress if progress is not None else len(sentence_rows) + len(chunk_rows) > PROGRESS_THRESHOLD
    if show and chunk_rows:
        print(f"embedding {len(chunk_rows)} passages and {len(sentence_rows)} sentences", file=sys.stderr)
    chunk_vectors, sentence_vectors = _vectors(
        embedder, settings, chunk_texts, chunk_rows, chunk_sentences, sentence_rows, documents, show
    )
    dimension = settings.dimension
    return SegmentData(
        documents=tuple(documents),
        added=tuple(added),
        sentences=np.asarray(sentence_rows, dtype=np.int64).reshape(-1, 4),
        chunks=np.asarray(chunk_rows, dtype=np.int64).reshape(-1, 6),
        chunk_vectors=np.asarray(chunk_vectors, dtype=np.float32).reshape(-1, dimension),
        # float16, as stored (qa.index.segments): half the memory of a large build
        sentence_vectors=np.asarray(sentence_vectors, dtype=SENTENCE_DTYPE).reshape(-1, dimension),
    )


def _embedded_text(document: Document, chunk: Chunk, embed_titles: bool) -> str:
    return f"{document.title}\n{chunk.text}" if embed_titles else chunk.text


def _vectors(
    embedder: TextEmbedder,
    settings: IndexSettings,
    chunk_texts: list[str],
    chunk_rows: list[tuple[int, int, int, int, int, int]],
    chunk_sentences: list[list[Sentence]],
    sentence_rows: list[tuple[int, int, int, int]],
    documents: list[Document],
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and sentence vectors, by the method `settings.sentence_vectors` names."""
    sentence_texts = [documents[d].text[s:e] for d, _, s, e in sentence_rows]
    if settings.sentence_vectors == SENTENCE_PASS and hasattr(embedder, "encode_groups") and not settings.embed_titles:
        # A chunk is a run of whole sentences: its vector is pooled from their tokens.
        groups = [(row[4], row[5]) for row in chunk_rows]
        sentence_vectors, chunk_vectors = embedder.encode_groups(sentence_texts, groups, progress=progress)
        return chunk_vectors, sentence_vectors
    if settings.sentence_vectors == LATE and hasattr(embedder, "encode_passages"):
        spans = []
        for text, row, sentences in zip(chunk_texts, chunk_rows, chunk_sentences):
            shift = len(text) - (row[3] - row[2]) - row[2]  # chunk text may start with the title
            spans.append([(s.start + shift, s.end + shift) for s in sentences])
        chunk_vectors, per_chunk = embedder.encode_passages(chunk_texts, spans, progress=progress)
        sentence_vectors = np.zeros((len(sentence_rows), settings.dimension), dtype=np.float32)
        filled = np.zeros(len(sentence_rows), dtype=bool)
        for row, vectors in zip(chunk_rows, per_chunk):
            rows = np.arange(row[4], row[5] + 1)
            fresh = ~filled[rows]  # a sentence shared by overlapping chunks keeps its first vector
            sentence_vectors[rows[fresh]] = vectors[fresh]
            filled[rows] = True
        return chunk_vectors, sentence_vectors
    return _encode(embedder, chunk_texts, progress), _encode(embedder, sentence_texts, progress)


def _encode(embedder: TextEmbedder, texts: list[str], progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    if "progress" in inspect.signature(embedder.encode).parameters:  # a user's may not have it
        return embedder.encode(texts, progress=progress)  # type: ignore[call-arg]
    return embedder.encode(texts)
