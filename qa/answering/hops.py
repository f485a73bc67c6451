"""The second hop (multi-hop questions) and comparisons: searches for the names an answer leaves
open (`qa.answering.bridging`), and the sentence they add to the answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np

from qa.answering.bridging import compared_names, hop_names, unanswered_words
from qa.answering.candidates import Candidate, composer_abstains, fit_to, rank_candidates
from qa.answering.config import AnswerConfig, AnswerSource
from qa.answering.sentence_scoring import SentenceScorer, without_question_words
from qa.answering.windows import Pick, read_windows, windows_around
from qa.index.retrieval import MAX_QUESTION_CHARS, Passage
from qa.index.search import SearchResult
from qa.models.reading import Reader

# Passages a second hop retrieves per name, among which it looks for documents titled with it.
HOP_PASSAGES = 10
MIN_HOP_CHARS = 80  # a hop's sentence is cut to fit the answer, but not shorter than this
# A title shorter than this ("Q", "Mr") names too much to mark a sentence as a bridge to it.
MIN_BRIDGE_TITLE_CHARS = 4


@dataclass(frozen=True)
class Hop:
    """One second search: the `name` it followed, the `about` passages (other documents whose
    title names it) and their candidate sentences `found`, best first."""

    name: str
    query: str
    vector: np.ndarray
    about: list[Passage]
    found: list[Candidate]


def hop_searches(
    index: AnswerSource, result: SearchResult, read: Sequence[str], titles: Sequence[str],
    answered: set[str], config: AnswerConfig, scorer: SentenceScorer,
) -> Iterator[Hop]:
    """The second searches worth making after `read` (the quoted sentences, or the windows the
    reader read when nothing answered) from documents titled `titles`: one per name of
    `qa.answering.bridging.hop_names` found in `read`, in its order, each only when another
    document is about the name.

    The hop's query is the name and the question's words `read` did not match
    (`qa.answering.bridging.unanswered_words`), encoded in one model call for all names tried.

    Why "its title names it": a document that merely mentions the name is usually about
    something else: a development probe that accepted any mention added a sentence from
    another article to a large share of pooled SQuAD answers (single-hop questions); with
    titles the hop changes 2.7 % of them, one in 1,000 losing its gold (benchmarks/second_hop.py)."""
    unanswered = unanswered_words(without_question_words(result.question), list(read), index.many_query_terms)
    names = hop_names(result.question, list(read), list(titles), index.query_terms, index.term_weights)
    names = [n for n in names if index.titles_mention(n)]  # no document about it: no search
    if not names:
        return
    queries = [f"{name} {unanswered or result.question}"[:MAX_QUESTION_CHARS] for name in names]
    for name, query, vector in zip(names, queries, index.encode_queries(queries)):
        hop = search_about(index, name, query, vector, answered, config, scorer)
        if hop is not None:
            yield hop


def search_about(
    index: AnswerSource, name: str, query: str, vector: np.ndarray, answered: set[str],
    config: AnswerConfig, scorer: SentenceScorer,
) -> Hop | None:
    """One search for `query`, kept to documents outside `answered` whose title names `name`,
    and their candidate sentences; None when no such document has any."""
    found_by = index.search_encoded(query, vector, HOP_PASSAGES)
    about = [p for p in found_by if p.doc_id not in answered and name.lower() in p.title.lower()]
    if not about:
        return None
    hop = SearchResult(query, about, vector)
    found = rank_candidates(index, hop, [], replace(config, candidate_passages=len(about)), scorer)
    return Hop(name, query, vector, about, found) if found else None


def with_more_passages(passages: Sequence[Passage], more: Sequence[Passage]) -> list[Passage]:
    """`passages`, then those of `more` (a hop's) that they do not hold already."""
    known = {p.chunk_id for p in passages}
    return [*passages, *(p for p in more if p.chunk_id not in known)]


def with_second_hop(
    index: AnswerSource, result: SearchResult, chosen: list[Candidate], config: AnswerConfig, scorer: SentenceScorer
) -> tuple[list[Candidate], list[Passage]]:
    """`chosen` plus the best sentence of a second hop (`hop_searches`), and the passages plus the
    hop's, when that sentence answers well enough (the same abstention rule as the answer's)
    and fits (`make_room`). The first hop that does wins. Its quote is scored against the
    hop's query, not against words the first answer already matched.

    `confidence` stays the first hop's: the calibration was fitted on one-hop answers."""
    quoted = [c.sentence.text for c in chosen]
    titles = [c.passage.title for c in chosen]
    answered = {c.sentence.doc_id for c in chosen}
    for hop in hop_searches(index, result, quoted, titles, answered, config, scorer):
        best = hop.found[0]
        confidence = scorer.confidence([best.probability], [c.probability for c in hop.found], best.relevance)
        if composer_abstains(config, scorer, best.relevance, confidence):
            continue
        bridge = [c for c in chosen if hop.name.lower() in c.sentence.text.lower()][:1]
        answer = make_room(chosen, best, bridge, config.max_chars)
        if answer is not None:
            return answer, with_more_passages(result.passages, hop.about)
    return chosen, result.passages


def read_after_hop(
    index: AnswerSource, result: SearchResult, candidates: Sequence[Candidate], config: AnswerConfig,
    scorer: SentenceScorer, reader: Reader, questions: Sequence[str], threshold: float,
) -> tuple[list[Candidate], list[Passage], Pick] | None:
    """When no window of the first search answers: a bridge question ("When was Maria
    Lindqvist's employer founded?") often has its answer only in a document about a name the
    read windows introduce ("She works at the Halvorsen Institute"). Read each hop's best
    sentences (`hop_searches`, names taken from the windows read) and answer from the first whose
    span clears `threshold`, quoting the best candidate sentence of the read documents that
    names it (the bridge) before the hop's; None when no hop answers, so the answer abstains
    as before."""
    read = candidates[: config.read_sentences + config.widen_sentences]
    windows = windows_around(index, read, config.window_neighbours)
    texts = [w.text for w, _ in windows]
    titles = [c.passage.title for c in read]
    answered = {c.sentence.doc_id for c in read}
    for hop in hop_searches(index, result, texts, titles, answered, config, scorer):
        picks = read_windows(index, reader, questions, hop.found[: config.read_sentences], hop.found, config.window_neighbours, set())
        if not picks or picks[0].margin < threshold:
            continue
        best = picks[0]
        bridge = next(
            (c for c in candidates if c.sentence.doc_id in answered and hop.name.lower() in c.sentence.text.lower()), None
        )
        quoted = [replace(c, score=best.margin) for c in best.sentences]
        if bridge is not None:
            with_bridge = make_room(quoted, replace(bridge, score=best.margin - 1), [], config.max_chars)
            if with_bridge is not None:
                quoted = [with_bridge[-1], *with_bridge[:-1]]  # the bridge reads first
        return quoted, with_more_passages(result.passages, hop.about), best
    return None


def with_bridge_before(candidates: Sequence[Candidate], chosen: list[Candidate], max_chars: int) -> list[Candidate]:
    """`chosen` (quotes from one document) with, read first, the best candidate sentence of a
    differently titled document that names the answer document's title: the sentence that
    leads to it. Why: in a bridge question ("When was the director of Wild Lines born?") the
    first search often finds both documents, and the reader's span lies in the second (the
    director's, with the date), so without this the answer never says why that person
    (HotpotQA, benchmarks/second_hop.py). Unchanged when the quotes span documents already,
    when the title is no name (too short, or no capitalised word), when no candidate names it,
    or when it does not fit (`make_room`)."""
    docs = {c.sentence.doc_id for c in chosen}
    if len(docs) != 1:
        return chosen
    title = _bare_title(chosen[0].passage.title)
    if len(title) < MIN_BRIDGE_TITLE_CHARS or not any(word[:1].isupper() for word in title.split()):
        return chosen  # a file name such as "notes" is a common word, not a name to follow
    named = re.compile(rf"\b{re.escape(title)}\b", re.IGNORECASE)
    bridge = next(
        (
            c for c in candidates
            if c.sentence.doc_id not in docs
            and _bare_title(c.passage.title).lower() != title.lower()
            and named.search(c.sentence.text)
        ),
        None,
    )
    if bridge is None:
        return chosen
    best = max(chosen, key=lambda c: c.score)
    with_bridge = make_room(chosen, replace(bridge, score=best.score - 1), [], max_chars)
    if with_bridge is None:
        return chosen
    return [with_bridge[-1], *with_bridge[:-1]]  # the bridge reads first


def _bare_title(title: str) -> str:
    """A title without a trailing parenthesis: "Wild Lines (film)" is named as "Wild Lines"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()


def compared_quotes(
    index: AnswerSource, result: SearchResult, candidates: Sequence[Candidate], config: AnswerConfig,
    scorer: SentenceScorer,
) -> tuple[list[Candidate], list[Passage]] | None:
    """For a question comparing named things (`qa.answering.bridging.compared_names`: "Who is older, Sid
    Haig or Vic Darchinyan?", "Are X and Y both directors?"), the best candidate sentence about
    each name in the question's order, and the passages shown with them; None for any other
    question, or when a name has nothing about it. Why: the reader extracts one span from one
    window, and says nothing, or one side, where the answer is what the documents say about
    each (the two birth dates).

    A sentence is about a name when its document's title names it, else when it names it
    itself; a name no first-search candidate is about is searched for as a second hop is
    (documents titled with it), when `config.hops` > 1."""
    names = compared_names(result.question)
    if not names:
        return None
    quotes: list[Candidate] = []
    passages = list(result.passages)
    for name in names:
        quote = _about(name, candidates)
        if quote is None and config.hops > 1:
            query = f"{name} {without_question_words(result.question)}"[:MAX_QUESTION_CHARS]
            hop = search_about(index, name, query, index.encode_queries([query])[0], set(), config, scorer)
            if hop is not None:
                quote = hop.found[0]
                passages = with_more_passages(passages, hop.about)
        if quote is None:
            return None
        if all((q.sentence.doc_id, q.sentence.start) != (quote.sentence.doc_id, quote.sentence.start) for q in quotes):
            quotes.append(quote)
    share = config.max_chars // len(quotes) - 1  # each quote with the space after it
    return [fit_to(q, share) if len(q.sentence.text) > share else q for q in quotes], passages


def _about(name: str, candidates: Sequence[Candidate]) -> Candidate | None:
    """The best candidate from a document titled with `name`, else the best naming it."""
    lowered = name.lower()
    titled = (c for c in candidates if lowered in c.passage.title.lower())
    naming = (c for c in candidates if lowered in c.sentence.text.lower())
    return next(titled, None) or next(naming, None)


def make_room(
    chosen: list[Candidate], extra: Candidate, bridge: list[Candidate], max_chars: int
) -> list[Candidate] | None:
    """`chosen` plus `extra` within `max_chars`: the lowest-scored supporting sentences are
    dropped first, then `extra` is cut to the room left (`fit_to`). Never dropped: the best
    sentence, the `bridge` (the sentence that named what the hop searched for: without it the
    hop's quote would not follow) and a document's only quote (the first hop may have found
    the second document already). None when fewer than `MIN_HOP_CHARS` are left."""
    protected = {id(max(chosen, key=lambda c: c.score)), *(id(c) for c in bridge)}
    kept = list(chosen)

    def room() -> int:  # each kept sentence with the space after it
        return max_chars - sum(len(c.sentence.text) + 1 for c in kept)

    def droppable() -> list[Candidate]:
        quotes = Counter(c.sentence.doc_id for c in kept)
        return [c for c in kept if id(c) not in protected and quotes[c.sentence.doc_id] > 1]

    while room() < len(extra.sentence.text) and droppable():
        kept.remove(min(droppable(), key=lambda c: c.score))
    if room() < min(len(extra.sentence.text), MIN_HOP_CHARS):
        return None
    return [*kept, fit_to(extra, room())]
