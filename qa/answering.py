"""Retrieved passages -> an `Answer` built from the documents' own sentences, each cited.

No language model writes anything here: the answer is one to three sentences quoted verbatim
from the best passages, each followed by a `[n]` marker whose `Citation` gives the exact
character span it quotes. When the best sentence is not relevant enough the answer says so
instead (`abstained=True`, no citations).

    >>> a = index.answer("What is the US backstop position?")     # or qa.answer(...)
    >>> a.citations[0].quote in index.document(a.citations[0].doc_id).text
    True

Sentence relevance = cosine(question, sentence) + lexical_weight * share of the question's
content words (stemmed, optionally IDF-weighted) found in the sentence; it is absolute, so abstention compares it with a
fixed threshold. Ranking adds passage_weight * the passage's fused retrieval score, which is
relative to the other passages. Weights and threshold were picked on SQuAD
(benchmarks/answers.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Protocol, Sequence

import numpy as np

from qa.chunking import Sentence
from qa.retrieval import MAX_QUESTION_CHARS, Passage, check_question, normalise_question
from qa.search import SearchResult

ABSTAIN_TEXT = "The documents don't say."
ELLIPSIS = "…"  # ends a quote cut short to fit `AnswerConfig.max_chars`
EMPTY_TEXT = "Nothing is indexed yet: add documents first."
Turn = tuple[str, str]  # (question, answer text) of an earlier exchange
# What of an earlier question is prepended to a follow-up: its first sentence, at most this
# long. Enough for the subject ("Who is Jonathan Powell?"); with all of a 2,000-character
# earlier question (or even 300 characters of it) every short follow-up on the seed got the
# earlier answer again ("When will military leaders meet?" -> the backstop sentence).
FOLLOWUP_CONTEXT_CHARS = 100
_FIRST_SENTENCE = re.compile(r"^.*?[?!](?=\s|$)", re.DOTALL)  # not ".": "Mr. Powell who?"


@dataclass(frozen=True)
class AnswerConfig:
    """Knobs of the composer; defaults follow benchmarks/answers.py."""

    passages: int = 5  # passages retrieved (and shown as context)
    candidate_passages: int = 3  # passages whose sentences may be quoted
    max_sentences: int = 3
    max_chars: int = 500
    lexical_weight: float = 1.0
    passage_weight: float = 0.2
    keep_ratio: float = 0.7  # a further sentence must score at least this share of the best
    duplicate_cosine: float = 0.9  # sentences this similar to a chosen one are near-duplicates
    # Maximal marginal relevance for the 2nd and 3rd sentence: pick by
    # mmr_lambda * score - (1 - mmr_lambda) * (highest cosine to a chosen sentence).
    # 1.0 ranks by score alone (the default: benchmarks/README.md, "MMR").
    mmr_lambda: float = 1.0
    abstain_below: float = 0.6  # best sentence relevance under this -> "the documents don't say"
    history_turns: int = 1  # earlier questions used to resolve a follow-up
    idf_weighted: bool = True  # lexical overlap weighs question words by IDF


@dataclass(frozen=True)
class Citation:
    """What one `[number]` marker points at.

    `document.text[start:end] == quote`; `quote` runs from the first to the last quoted
    sentence of one passage, and `spans` are the exact sentences quoted inside it.
    """

    number: int
    doc_id: str
    title: str
    source: str
    paragraph: int
    start: int
    end: int
    quote: str
    spans: tuple[tuple[int, int], ...]
    chunk_id: str
    # Every paragraph a quoted sentence comes from, ascending (`paragraph` is the first): a
    # quote from paragraphs 2 and 4 is (2, 4), so a reader is sent to both.
    paragraphs: tuple[int, ...] = ()
    # Where a reader finds the quote in the original: the page its first sentence is on (PDF;
    # None for formats without pages), every page quoted from, and the heading it comes
    # under (Markdown, HTML, DOCX; None when there is none).
    page: int | None = None
    pages: tuple[int, ...] = ()
    section: str | None = None


@dataclass(frozen=True)
class AnswerSentence:
    """One quoted sentence of the answer and the citation number it carries."""

    text: str
    citation: int
    doc_id: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # Markdown-ready: sentences each followed by " [n]"
    citations: list[Citation]
    passages: list[Passage]
    abstained: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    relevance: float = 0.0  # best sentence's cosine + lexical overlap; abstention compares it


class AnswerSource(Protocol):
    """What composing an answer reads: `qa.search.Searcher` (one fixed index view) is one."""

    def search(self, question: str, k: int = 5, *, extra_queries: Sequence[str] = ()) -> SearchResult: ...

    def query_terms(self, text: str) -> list[str]: ...

    def term_weights(self, terms: list[str]) -> dict[str, float]: ...

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]: ...


@dataclass(frozen=True)
class _Candidate:
    sentence: Sentence
    vector: np.ndarray
    passage: Passage
    passage_rank: int
    relevance: float  # absolute: cosine + lexical overlap; what abstention compares
    score: float  # relevance plus the passage's (relative) retrieval score; what ranking uses
    cut: bool = False  # the sentence is an exact prefix of a longer one (`_fit`)


def check_history(history: object) -> list[Turn]:
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise TypeError("history must be a list of (question, answer) pairs")
    turns: list[Turn] = []
    for turn in history:
        if (
            not isinstance(turn, (list, tuple))
            or len(turn) != 2
            or not all(isinstance(part, str) for part in turn)
        ):
            raise TypeError("history must be a list of (question, answer) string pairs")
        turns.append((turn[0], turn[1]))
    return turns


def followup_queries(question: str, history: Sequence[Turn], turns: int) -> list[str]:
    """Extra retrieval queries that carry the conversation: earlier question(s) + this one.

    Ranking the plain question and "previous question + question" together lets "Has he
    changed his mind?" find what "he" was about, while "And what about Kursk?" still finds
    Kursk on its own words. The earlier part is cut at its end to keep the query within
    `MAX_QUESTION_CHARS` (a question's subject tends to come first): a long earlier question
    never makes a short follow-up fail, nor outweighs it (`FOLLOWUP_CONTEXT_CHARS`).
    """
    previous = [_gist(q) for q, _ in history if q.strip()][-turns:] if turns else []
    room = MAX_QUESTION_CHARS - len(question) - 1
    context = " ".join(previous)[:room].rstrip() if room > 0 else ""
    if not context:
        return []
    return [f"{context} {question}"]


def _gist(question: str) -> str:
    """An earlier question's first sentence, cut at a word to `FOLLOWUP_CONTEXT_CHARS`."""
    text = normalise_question(question).strip()
    match = _FIRST_SENTENCE.match(text)
    first = match.group(0) if match else text
    if len(first) <= FOLLOWUP_CONTEXT_CHARS:
        return first
    cut = first[: FOLLOWUP_CONTEXT_CHARS + 1]
    return (cut.rsplit(None, 1)[0] if " " in cut else cut[:FOLLOWUP_CONTEXT_CHARS]).rstrip()


def nothing_indexed(question: str) -> Answer:
    """The answer of an index without documents (all removed, or none added yet)."""
    return Answer(check_question(question), EMPTY_TEXT, [], [], True)


def compose_answer(
    index: AnswerSource,
    question: str,
    history: Sequence[Turn] | None = None,
    config: AnswerConfig = AnswerConfig(),
) -> Answer:
    """Answer `question` from `index` (see the module docstring)."""
    question = check_question(question)
    turns = check_history(history)
    extra = followup_queries(question, turns, config.history_turns)
    result = index.search(question, config.passages, extra_queries=extra)
    return compose_from_search(index, result, extra, config)


def compose_from_search(
    index: AnswerSource, result: SearchResult, extra_queries: Sequence[str], config: AnswerConfig
) -> Answer:
    """The composition step alone, for a search already made (benchmarks sweep settings with it)."""
    passages = result.passages
    query_vectors = [result.query_vector, *result.extra_vectors]
    terms = set(index.query_terms(" ".join([result.question, *extra_queries])))
    question_terms = index.term_weights(sorted(terms)) if config.idf_weighted else dict.fromkeys(terms, 1.0)
    candidates = _candidates(
        index, passages[: config.candidate_passages], query_vectors, question_terms, config
    )
    relevance = max((c.relevance for c in candidates), default=0.0)
    if relevance < config.abstain_below:
        return Answer(result.question, ABSTAIN_TEXT, [], passages, True, [], relevance)
    chosen = _select(candidates, config)
    return _assemble(result.question, chosen, passages, relevance)


def _candidates(
    index: AnswerSource,
    passages: list[Passage],
    query_vectors: list[np.ndarray],
    question_terms: dict[str, float],
    config: AnswerConfig,
) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    found: list[_Candidate] = []
    total_weight = sum(question_terms.values())
    queries = np.vstack(query_vectors)
    for rank, passage in enumerate(passages):
        sentences, vectors = index.chunk_sentences(passage.chunk_id)
        if not sentences:
            continue
        cosines = (vectors @ queries.T).mean(axis=1)
        for sentence, vector, cosine in zip(sentences, vectors, cosines):
            key = (sentence.doc_id, sentence.start)
            if key in seen:  # overlapping chunks share sentences
                continue
            seen.add(key)
            terms = set(index.query_terms(sentence.text))
            shared = sum(w for t, w in question_terms.items() if t in terms)
            overlap = shared / total_weight if total_weight else 0.0
            relevance = float(cosine) + config.lexical_weight * overlap
            score = relevance + config.passage_weight * passage.score
            found.append(_Candidate(sentence, vector, passage, rank, relevance, score))
    found.sort(key=lambda c: (-c.score, c.passage_rank, c.sentence.start))
    return found


def _select(candidates: list[_Candidate], config: AnswerConfig) -> list[_Candidate]:
    best = _fit(candidates[0], config.max_chars)
    chosen = [best]
    length = len(best.sentence.text)
    pool = [c for c in candidates[1:] if c.score >= config.keep_ratio * best.score]
    while pool and len(chosen) < config.max_sentences:
        # max() keeps the first of equals, so with mmr_lambda 1 this is score order.
        candidate = max(pool, key=lambda c: _marginal_relevance(c, chosen, config.mmr_lambda))
        pool.remove(candidate)
        if length + 1 + len(candidate.sentence.text) > config.max_chars:
            continue
        if any(float(candidate.vector @ c.vector) >= config.duplicate_cosine for c in chosen):
            continue
        chosen.append(candidate)
        length += 1 + len(candidate.sentence.text)
    # Readable order: documents by their best sentence, sentences in document order.
    doc_rank = {}
    for c in chosen:
        doc_rank.setdefault(c.sentence.doc_id, len(doc_rank))
    return sorted(chosen, key=lambda c: (doc_rank[c.sentence.doc_id], c.sentence.start))


def _fit(candidate: _Candidate, max_chars: int) -> _Candidate:
    """`candidate` with its sentence cut to an exact prefix of at most `max_chars` characters,
    ending at a word boundary, when the sentence is longer (a run-on sentence or a table row
    flattened into one line). The citation then covers the quoted prefix only.

        >>> _fit(c, 20).sentence.text   # c quotes "The backstop stays until a deal is done."
        'The backstop stays'
    """
    sentence = candidate.sentence
    if len(sentence.text) <= max_chars:
        return candidate
    cut = sentence.text[: max(max_chars - len(ELLIPSIS), 1)]
    boundary = cut.rstrip().rfind(" ")
    prefix = (cut[:boundary] if boundary > 0 else cut).rstrip()
    shortened = replace(sentence, end=sentence.start + len(prefix), text=prefix)
    return replace(candidate, sentence=shortened, cut=True)


def _marginal_relevance(candidate: _Candidate, chosen: list[_Candidate], mmr_lambda: float) -> float:
    if mmr_lambda >= 1.0:
        return candidate.score
    redundancy = max(float(candidate.vector @ c.vector) for c in chosen)
    return mmr_lambda * candidate.score - (1.0 - mmr_lambda) * redundancy


def _assemble(
    question: str, chosen: list[_Candidate], passages: list[Passage], relevance: float
) -> Answer:
    numbers: dict[str, int] = {}
    for c in chosen:
        numbers.setdefault(c.passage.chunk_id, len(numbers) + 1)
    citations = []
    for chunk_id, number in numbers.items():
        quoted = [c for c in chosen if c.passage.chunk_id == chunk_id]
        passage = quoted[0].passage
        start = min(c.sentence.start for c in quoted)
        end = max(c.sentence.end for c in quoted)
        first = min(quoted, key=lambda c: c.sentence.start).sentence
        offset = start - passage.start
        citations.append(
            Citation(
                number=number,
                doc_id=passage.doc_id,
                title=passage.title,
                source=passage.source,
                paragraph=first.paragraph,
                start=start,
                end=end,
                quote=passage.text[offset : offset + (end - start)],
                spans=tuple(sorted((c.sentence.start, c.sentence.end) for c in quoted)),
                chunk_id=chunk_id,
                paragraphs=tuple(sorted({c.sentence.paragraph for c in quoted})),
                page=first.page,
                pages=tuple(sorted({c.sentence.page for c in quoted if c.sentence.page})),
                section=first.section,
            )
        )
    sentences = [
        AnswerSentence(
            c.sentence.text, numbers[c.passage.chunk_id], c.sentence.doc_id,
            c.sentence.start, c.sentence.end, c.score,
        )
        for c in chosen
    ]
    text = " ".join(f"{s.text}{ELLIPSIS if c.cut else ''} [{s.citation}]" for s, c in zip(sentences, chosen))
    return Answer(question, text, citations, passages, False, sentences, relevance)
