"""qa: question answering over your own documents, on your own machine, with exact citations.

    >>> import qa
    >>> for p in qa.retrieve("what is the US backstop position?", k=3):
    ...     print(p.score, p.title, p.paragraph, p.text[:60])

`qa.retrieve()` and `qa.answer()` use the default index (see `qa.defaults`); `qa.Index` opens or
builds any other.
"""

from qa.text.chunking import Chunk, ChunkingConfig, Sentence
from qa.answering.compose import Answer, AnswerConfig, Citation
from qa.defaults import answer, default_index, retrieve
from qa.loading.documents import Document, load_documents
from qa.index.coordinator import Index, UpdateReport
from qa.index.retrieval import FusionConfig, Passage
from qa.errors import IndexCorrupted, IndexMismatch, IndexNotFound, IndexProblem

__all__ = [
    "Answer",
    "AnswerConfig",
    "Citation",
    "answer",
    "Chunk",
    "ChunkingConfig",
    "Document",
    "FusionConfig",
    "Index",
    "IndexCorrupted",
    "IndexMismatch",
    "IndexNotFound",
    "IndexProblem",
    "Passage",
    "Sentence",
    "UpdateReport",
    "default_index",
    "load_documents",
    "retrieve",
]
