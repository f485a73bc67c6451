"""Retrieved passages -> an `Answer` built from the documents' own sentences, each cited.

No language model writes anything here: the answer is one to three sentences quoted verbatim
from the best passages, each followed by a `[n]` marker whose `Citation` gives the exact
character span it quotes. When the best sentence is not relevant enough the answer says so
instead (`abstained=True`, no citations).

    >>> a = index.answer("What is the US backstop position?")     # or qa.answer(...)
    >>> a.citations[0].quote in index.document(a.citations[0].doc_id).text
    True

By default (`AnswerConfig(scorer="hand-tuned")`) relevance = cosine + lexical_weight *
IDF-weighted overlap; ranking adds passage_weight * the passage's fused score; further sentences
within keep_ratio of the best; it abstains when the best sentence's relevance is under 0.45.
`AnswerConfig(abstain_on="confidence")` abstains instead when `Answer.confidence` is under the
operating point shipped with the scorer (what the learned composer does by default).

`Answer.confidence` is the probability that the answer contains the answer, from the learned
scorer (`qa.answering.sentence_scoring`: a logistic regression over each candidate's features — cosines,
IDF-weighted overlap, BM25, the passage's score and rank, position, length, answer-type cues,
neighbours — then a calibration over the quoted sentences). With `scorer="learned"` (opt-in:
its answers cite the seed's expected paragraph less often) that model also ranks, keeps a 2nd
or 3rd sentence only when its own probability reaches `keep_probability`, and abstains below
its operating point. Model, settings and the SQuAD v1.1 train articles they were picked on:
scripts/train_scorer.py (card: docs/sentence_scorer.md).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence


from qa.answering.candidates import ELLIPSIS, Candidate, composer_abstains, fit_to, rank_candidates
from qa.answering.config import HAND_TUNED, HAND_TUNED_ABSTAIN, AnswerConfig, AnswerSource, Turn
from qa.answering.hops import compared_quotes, read_after_hop, with_bridge_before, with_second_hop
from qa.answering.pointing import with_pointing_neighbour
from qa.answering.windows import Pick, covered, read_windows
from qa.models.reading import Reader, load_reader
from qa.index.retrieval import MAX_QUESTION_CHARS, Passage, check_question, normalise_question
from qa.index.search import SearchResult
from qa.answering.sentence_scoring import SentenceScorer, load_scorer

ABSTAIN_TEXT = "The documents don't say."
EMPTY_TEXT = "Nothing is indexed yet: add documents first."
# What of an earlier question is prepended to a follow-up: its first sentence, at most this
# long. Enough for the subject ("Who is Jonathan Powell?"); with all of a 2,000-character
# earlier question (or even 300 characters of it) every short follow-up on the seed got the
# earlier answer again ("When will military leaders meet?" -> the backstop sentence).
FOLLOWUP_CONTEXT_CHARS = 100
_FIRST_SENTENCE = re.compile(r"^.*?[?!](?=\s|$)", re.DOTALL)  # not ".": "Mr. Powell who?"
# A question that points back into the conversation: it holds one of these words, opens like
# "And what about Kursk?", or is too short to stand alone. Any other question is
# searched and judged alone, so an off-topic question asked after an on-topic one still gets
# "The documents don't say." instead of a quote about the earlier subject.
REFERRING_WORDS = frozenset(
    "he him his himself she her hers herself it its itself they them their theirs themselves "
    "this that these those there then one ones".split()
)
FOLLOWUP_OPENINGS = ("and ", "but ", "so ", "also ", "what about ", "how about ", "what else")
SHORT_FOLLOWUP_WORDS = 2  # "Since when?", "Why not?"
_WORDS = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Citation:
    """What one `[number]` marker points at.

    `document.text[start:end] == quote`; `quote` runs from the first to the last quoted
    sentence of one passage, and `spans` are the exact sentences quoted inside it.
    """

    number: int  # the `[n]` marker's n: 1-based, in the order the answer first cites each passage
    doc_id: str  # the quoted document (`Document.doc_id`)
    title: str  # its title, to show beside the number
    source: str  # its `Document.source` (metadata, the page's own, else the file name)
    paragraph: int  # 1-based number of the paragraph the first quoted sentence is in
    start: int  # character offset of the quote in `Document.text`
    end: int  # exclusive: `document.text[start:end] == quote`
    quote: str  # the text from the first to the last quoted sentence, verbatim (sentences between included)
    # (start, end) of each quoted sentence, in `Document.text` offsets, ascending; a sentence
    # cut to fit `AnswerConfig.max_chars` ends where its quoted prefix ends.
    spans: tuple[tuple[int, int], ...]
    chunk_id: str  # the retrieved passage quoted ("doc_id:n", as in `Passage.chunk_id`)
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

    text: str  # the quoted text, `document.text[start:end]` (a cut sentence's prefix, no "…")
    citation: int  # the `Citation.number` of its `[n]` marker
    doc_id: str  # the document it is quoted from
    start: int  # character offset in `Document.text`
    end: int  # exclusive
    # What chose it, comparable within one answer only: the reader's margin when the reader
    # picked it, else the learned probability or the hand-tuned relevance + passage share.
    score: float


@dataclass(frozen=True)
class ShortAnswer:
    """The reader's exact answer inside the quote of citation `number`:
    `document.text[start:end] == text`."""

    text: str  # the span, verbatim
    doc_id: str  # the document it is in
    start: int  # character offset in `Document.text`
    end: int  # exclusive
    number: int  # the `Citation.number` (1-based) whose quote holds the span


@dataclass(frozen=True)
class Answer:
    """A cited answer: `text` is the quoted sentences with `[n]` markers, `citations` what
    each marker points at, `short_answer` the reader's exact answer inside one of them (None
    when abstained, or when answered without the reader), `passages` what was retrieved."""

    question: str  # as answered: normalised and stripped (`qa.index.retrieval.check_question`)
    # Markdown-ready: sentences each followed by " [n]" ("…" before it when cut to fit);
    # `ABSTAIN_TEXT` (or `EMPTY_TEXT`) when abstained.
    text: str
    citations: list[Citation]  # one per `[n]`, in number order; empty when abstained
    passages: list[Passage]  # retrieved, best first, then any a second hop added (shown as context)
    abstained: bool  # True: "The documents don't say." (or nothing indexed), nothing quoted
    sentences: list[AnswerSentence] = field(default_factory=list)  # the quoted sentences, in `text` order
    relevance: float = 0.0  # best candidate sentence's cosine + lexical overlap (0 with no candidates)
    # P(the answer contains the answer to the question), calibrated (qa.answering.sentence_scoring);
    # abstention compares it with the scorer's operating point. 0 when nothing was quoted.
    # With the reader: calibrated on its margin (qa.models.reading.Reader.confidence).
    confidence: float = 0.0
    short_answer: ShortAnswer | None = None  # None when abstained, or when the reader did not answer
    # The reader's margin (best span score minus no-answer score) for the quoted span, or for
    # the best span read when it abstained; None when the reader did not read.
    margin: float | None = None


def check_history(history: object) -> list[Turn]:
    """`history` as a list of (question, answer) string pairs ([] for None), or a `TypeError`
    that says what is wrong: Python callers of `Index.answer` may pass anything."""
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


def refers_back(question: str) -> bool:
    """Whether `question` leans on the conversation (see `REFERRING_WORDS`).

        >>> refers_back("Has he changed his mind?"), refers_back("When did Trump meet Putin?")
        (True, False)
    """
    words = _WORDS.findall(question.lower())
    opening = " ".join(words) + " "
    return (
        len(words) <= SHORT_FOLLOWUP_WORDS
        or any(word in REFERRING_WORDS for word in words)
        or opening.startswith(FOLLOWUP_OPENINGS)
    )


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


def answer_json(answer: Answer) -> dict[str, object]:
    """The JSON shape of an answer, one for `qa ask --json`, `POST /api/ask` and Gradio `/ask`.

        >>> answer_json(index.answer("What is the US backstop position?"))["citations"][0]["paragraph"]
        6
    """
    return {
        "question": answer.question,
        "text": answer.text,
        "abstained": answer.abstained,
        "confidence": round(answer.confidence, 4),
        "short_answer": asdict(answer.short_answer) if answer.short_answer else None,
        "citations": [asdict(c) for c in answer.citations],
    }


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
    extra = followup_queries(question, turns, config.history_turns) if refers_back(question) else []
    result = index.search(question, config.passages, extra_queries=extra)
    return compose_from_search(index, result, extra, config)


def compose_from_search(
    index: AnswerSource,
    result: SearchResult,
    extra_queries: Sequence[str],
    config: AnswerConfig,
    scorer: SentenceScorer | None = None,
    reader: Reader | None = None,
) -> Answer:
    """The composition step alone, for a search already made (benchmarks sweep settings with it).

    `scorer` defaults to the packaged one; scripts/train_scorer.py passes the one it fits.
    `reader` defaults to the shipped one (`qa.models.reading.load_reader`).
    """
    scorer = scorer or load_scorer()
    passages = result.passages
    candidates = rank_candidates(index, result, extra_queries, config, scorer)
    relevance = max((c.relevance for c in candidates), default=0.0)
    if not candidates:
        return Answer(result.question, ABSTAIN_TEXT, [], passages, True, [], relevance)
    if config.reader:
        reader = reader or load_reader()
        return _answer_by_reading(index, result, extra_queries, candidates, relevance, config, scorer, reader)
    chosen = _select(candidates, config, scorer)
    every = [c.probability for c in candidates]
    confidence = scorer.confidence([c.probability for c in chosen], every, relevance)
    if composer_abstains(config, scorer, relevance, confidence):
        return Answer(result.question, ABSTAIN_TEXT, [], passages, True, [], relevance, confidence)
    if config.hops > 1:
        chosen, passages = with_second_hop(index, result, chosen, config, scorer)
    return _assemble(result.question, chosen, passages, relevance, confidence)


def _answer_by_reading(
    index: AnswerSource,
    result: SearchResult,
    extra_queries: Sequence[str],
    candidates: list[Candidate],
    relevance: float,
    config: AnswerConfig,
    scorer: SentenceScorer,
    reader: Reader,
) -> Answer:
    """Quote the sentence(s) holding the reader's best span, or say the documents don't.

    Two rules abstain: the off-topic one (the best sentence's relevance under
    `HAND_TUNED_ABSTAIN`: nothing shares the question's meaning or words), and the reader's
    (no window's span beats its no-answer score by `abstain_margin`: same-topic text that does
    not answer). A follow-up is read with its earlier question's gist, as it was searched.
    A quote that a neighbouring sentence points back at ("This urgency …") is quoted with that
    neighbour when it holds question words the quote lacks (`qa.answering.pointing`)."""

    def abstain(margin: float | None) -> Answer:
        confidence = reader.confidence(margin) if margin is not None else 0.0
        return Answer(result.question, ABSTAIN_TEXT, [], result.passages, True, [], relevance, confidence, None, margin)

    if relevance < HAND_TUNED_ABSTAIN:
        return abstain(None)
    # A follow-up is read twice, as asked and after its earlier question's gist, and each
    # window keeps its surer reading: "Has he changed his mind?" needs who "he" is, while
    # "And what about Kursk?" read after the backstop question looked for the backstop.
    questions = [result.question, *extra_queries[:1]]
    threshold = reader.abstain_margin if config.abstain_margin is None else config.abstain_margin
    if extra_queries:
        # The reader learned from self-contained questions; a follow-up ("And what about
        # Kursk?", "Has it grown?") reads as vague to it and fell under the margin on the
        # seed. Its abstention stays with the off-topic rule, judged with its conversation.
        threshold = FOLLOWUP_MARGIN
    first = candidates[: config.read_sentences]
    picks = read_windows(index, reader, questions, first, candidates, config.window_neighbours, set())
    if (not picks or picks[0].margin < threshold) and config.widen_sentences:
        read = {(c.doc_id, c.start) for p in picks for c in (s.sentence for s in p.sentences)}
        more = candidates[config.read_sentences : config.read_sentences + config.widen_sentences]
        picks = sorted(
            [*picks, *read_windows(index, reader, questions, more, candidates, config.window_neighbours, read)],
            key=lambda p: -p.margin,
        )
    compared = compared_quotes(index, result, candidates, config, scorer)
    if compared is not None:
        quotes, passages = compared
        marked = picks[0] if picks and picks[0].margin >= threshold else None  # when a quote holds it
        confidence = reader.confidence(picks[0].margin) if picks else 0.0
        return _assemble(result.question, quotes, passages, relevance, confidence, marked)
    if not picks or picks[0].margin < threshold:
        hopped = None
        if config.hops > 1:
            hopped = read_after_hop(index, result, candidates, config, scorer, reader, questions, threshold)
        if hopped is None:
            return abstain(picks[0].margin if picks else None)
        chosen, passages, best = hopped
        return _assemble(result.question, chosen, passages, relevance, reader.confidence(best.margin), best)
    best = picks[0]
    second = reader.settings.second_quote_margin if config.second_quote_margin is None else config.second_quote_margin
    sure = reader.settings.sure_quote_margin if config.sure_quote_margin is None else config.sure_quote_margin
    chosen = _quoted_sentences(best, picks[1:], max(threshold, min(best.margin - second, sure)), config)
    chosen = with_pointing_neighbour(index, result.question, chosen, best.sentences, candidates, config.max_chars, config.max_sentences)
    confidence = reader.confidence(best.margin)
    passages = result.passages
    if config.hops > 1:
        hopped, hop_passages = with_second_hop(index, result, chosen, config, scorer)
        if _holds_span(hopped, best):
            chosen, passages = hopped, hop_passages
        bridged = with_bridge_before(candidates, chosen, config.max_chars)
        if _holds_span(bridged, best):
            chosen = bridged
    return _assemble(result.question, chosen, passages, relevance, confidence, best)


def _holds_span(quotes: list[Candidate], best: Pick) -> bool:
    """Whether `quotes` still hold every sentence of the reader's best span (a hop may drop some to fit)."""
    quoted = {(q.sentence.doc_id, q.sentence.start) for q in quotes}
    return all((c.sentence.doc_id, c.sentence.start) in quoted for c in best.sentences)


def _quoted_sentences(best: Pick, others: list[Pick], floor: float, config: AnswerConfig) -> list[Candidate]:
    """The best span's sentence(s), and the runner-up's when its margin reaches `floor` and it fits."""
    chosen = [replace(c, score=best.margin) for c in best.sentences]
    length = sum(len(c.sentence.text) + 1 for c in chosen)
    if length - 1 > config.max_chars:  # a run-on sentence: its exact prefix, as without the reader
        chosen = [fit_to(chosen[0], config.max_chars)]
        length = len(chosen[0].sentence.text) + 1
    taken = {(c.sentence.doc_id, c.sentence.start) for c in chosen}
    # The runner-up: the best other window whose span is in a sentence not quoted yet (windows
    # of neighbouring candidates overlap, and often find the same span).
    other = next((o for o in others if any((c.sentence.doc_id, c.sentence.start) not in taken for c in o.sentences)), None)
    if other is not None and other.margin >= floor and len(chosen) < config.max_sentences:
        extra = [replace(c, score=other.margin) for c in other.sentences if (c.sentence.doc_id, c.sentence.start) not in taken]
        if length + sum(len(c.sentence.text) + 1 for c in extra) <= config.max_chars + 1:
            chosen.extend(extra)
    doc_rank: dict[str, int] = {}
    for c in chosen:
        doc_rank.setdefault(c.sentence.doc_id, len(doc_rank))
    return sorted(chosen, key=lambda c: (doc_rank[c.sentence.doc_id], c.sentence.start))


FOLLOWUP_MARGIN = float("-inf")  # a follow-up is never withheld by the reader's margin alone


def _select(candidates: list[Candidate], config: AnswerConfig, scorer: SentenceScorer) -> list[Candidate]:
    best = fit_to(candidates[0], config.max_chars)
    chosen = [best]
    length = len(best.sentence.text)
    pool = [c for c in candidates[1:] if _worth_keeping(c, best, config, scorer)]
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


def _worth_keeping(candidate: Candidate, best: Candidate, config: AnswerConfig, scorer: SentenceScorer) -> bool:
    """Whether a further sentence may join the best one: learned, when it is itself likely to
    carry the answer; hand-tuned, when it scores within `keep_ratio` of the best."""
    if config.scorer == HAND_TUNED:
        return candidate.score >= config.keep_ratio * best.score
    floor = scorer.keep_probability if config.keep_probability is None else config.keep_probability
    return candidate.probability >= floor


def _marginal_relevance(candidate: Candidate, chosen: list[Candidate], mmr_lambda: float) -> float:
    if mmr_lambda >= 1.0:
        return candidate.score
    redundancy = max(float(candidate.vector @ c.vector) for c in chosen)
    return mmr_lambda * candidate.score - (1.0 - mmr_lambda) * redundancy


def _assemble(
    question: str,
    chosen: list[Candidate],
    passages: list[Passage],
    relevance: float,
    confidence: float,
    pick: Pick | None = None,
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
    short = None
    if pick is not None and covered(pick, chosen):
        number = numbers[next(c.passage.chunk_id for c in chosen if c.sentence.start == pick.sentences[0].sentence.start and c.sentence.doc_id == pick.doc_id)]
        short = ShortAnswer(pick.text, pick.doc_id, pick.start, pick.end, number)
    margin = pick.margin if pick is not None else None
    return Answer(question, text, citations, passages, False, sentences, relevance, confidence, short, margin)
