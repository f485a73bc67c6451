"""Sentences that point back: a quote and the neighbour it leans on are quoted together.

A sentence that opens with a demonstrative ("This urgency may account for his equivocal
response…", "These commitments…") takes its meaning from the sentence before it, often across
a paragraph break in news writing. When the reader's quote and such a neighbour split the
question between them — the quote holds the span, the neighbour holds question words the quote
lacks — an answer that quotes one alone reads as a non sequitur or hides the sentence that links
it to the question. The seed's "Why might Putin have given an equivocal response to the
ceasefire?" is the case: the reason ("Putin is eager to eliminate this leverage…") ends
paragraph 8, and paragraph 9 is the one sentence that ties it to the equivocal response.

    >>> points_back("This urgency may account for his equivocal response.")
    True
    >>> points_back("Thistle grows here.")
    False
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from qa.answering.candidates import Candidate
from qa.answering.config import AnswerSource
from qa.answering.sentence_scoring import without_question_words

# The opening of a sentence that refers to what came before it. "That" is left out: as an
# opening it is as often a conjunction's or a connector's ("That said, …").
_POINTS_BACK = re.compile(r"^\W*(?:This|These|Those|Such)\b(?!-)")


def points_back(text: str) -> bool:
    """Whether `text` opens with a demonstrative that refers to an earlier sentence."""
    return bool(_POINTS_BACK.match(text))


def with_pointing_neighbour(
    index: AnswerSource,
    question: str,
    chosen: list[Candidate],
    span_sentences: Sequence[Candidate],
    candidates: Sequence[Candidate],
    max_chars: int,
    max_sentences: int,
) -> list[Candidate]:
    """`chosen` with at most one sentence added beside the reader's span (`span_sentences`,
    in document order): the sentence right after it when that one points back, else the one
    right before it when the span's first sentence points back, and only when the added
    sentence holds terms of `question` (`AnswerSource.query_terms`, question words left out)
    that no quote holds.

    Unchanged when no neighbour qualifies, when it is not a candidate (outside the passages
    read) or already quoted, or when it would exceed `max_chars` or `max_sentences`. The added
    sentence takes the lowest score of the quotes and sits in document order beside the span.
    Most answers stop at the first check: no neighbour points back, so nothing is tokenised."""
    if not chosen or not span_sentences or len(chosen) >= max_sentences or any(c.cut for c in chosen):
        return chosen
    quoted = {(c.sentence.doc_id, c.sentence.start) for c in chosen}
    length = sum(len(c.sentence.text) + 1 for c in chosen)
    linking = [
        n for n in _linking_neighbours(index, span_sentences, candidates)
        if (n.sentence.doc_id, n.sentence.start) not in quoted and length + len(n.sentence.text) <= max_chars
    ]
    if not linking:
        return chosen
    terms = set(index.query_terms(without_question_words(question)))
    missing = terms - set().union(*(index.query_terms(c.sentence.text) for c in chosen))
    for neighbour in linking:
        if missing & set(index.query_terms(neighbour.sentence.text)):
            return _in_reading_order([*chosen, replace(neighbour, score=min(c.score for c in chosen))])
    return chosen


def _linking_neighbours(
    index: AnswerSource, span_sentences: Sequence[Candidate], candidates: Sequence[Candidate]
) -> list[Candidate]:
    """The sentence after the span when it points back at it, then the one before the span
    when the span points back at that one: candidates only."""
    by_key = {(c.sentence.doc_id, c.sentence.start): c for c in candidates}
    linking = []
    after = _neighbour(index, span_sentences[-1], 1, by_key)
    if after is not None and points_back(after.sentence.text):
        linking.append(after)
    before = _neighbour(index, span_sentences[0], -1, by_key) if points_back(span_sentences[0].sentence.text) else None
    if before is not None:
        linking.append(before)
    return linking


def _neighbour(
    index: AnswerSource, quote: Candidate, step: int, by_key: dict[tuple[str, int], Candidate]
) -> Candidate | None:
    """The sentence `step` places from `quote` in its chunk, if it is a candidate."""
    sentences, _ = index.chunk_sentences(quote.passage.chunk_id)
    at = next((i for i, s in enumerate(sentences) if s.start == quote.sentence.start), None)
    if at is None or not 0 <= at + step < len(sentences):
        return None
    sentence = sentences[at + step]
    return by_key.get((sentence.doc_id, sentence.start))


def _in_reading_order(chosen: list[Candidate]) -> list[Candidate]:
    """Documents in the order they are first quoted, sentences in document order (as composed)."""
    doc_rank: dict[str, int] = {}
    for c in chosen:
        doc_rank.setdefault(c.sentence.doc_id, len(doc_rank))
    return sorted(chosen, key=lambda c: (doc_rank[c.sentence.doc_id], c.sentence.start))
