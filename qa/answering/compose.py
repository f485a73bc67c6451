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
its operating point. Model, settings and the split they were picked on:
benchmarks/train_scorer.py.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Iterator, Protocol, Sequence

import numpy as np

from qa.answering.bridging import compared_names, hop_names, unanswered_words
from qa.text.chunking import Sentence
from qa.models.reading import Reader, Reading, Window, load_reader
from qa.index.retrieval import MAX_QUESTION_CHARS, Passage, check_question, normalise_question
from qa.index.search import SearchResult
from qa.answering.sentence_scoring import (
    FEATURE_NAMES,
    CandidateSentence,
    SentenceScorer,
    load_scorer,
    question_cues,
    sentence_features,
    without_question_words,
)

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
LEARNED = "learned"  # AnswerConfig.scorer: rank and abstain with qa.answering.sentence_scoring's model
HAND_TUNED = "hand-tuned"  # the composer before it, kept to measure against
ABSTAIN_ON_CONFIDENCE = "confidence"  # AnswerConfig.abstain_on: the calibrated probability
ABSTAIN_ON_RELEVANCE = "relevance"  # the best sentence's cosine + overlap (the rule before)
HAND_TUNED_ABSTAIN = 0.45  # the relevance rule's threshold (benchmarks/README.md, "Abstention")
_COSINE = FEATURE_NAMES.index("question_cosine")
_FOLLOWUP_COSINE = FEATURE_NAMES.index("followup_cosine")
_OVERLAP_IDF = FEATURE_NAMES.index("overlap_idf")
_OVERLAP_PLAIN = FEATURE_NAMES.index("overlap_plain")


@dataclass(frozen=True)
class AnswerConfig:
    """Knobs of the composer; defaults follow benchmarks/train_scorer.py and benchmarks/answers.py.

    With `scorer="learned"` (opt-in for now) ranking and abstention come from the packaged
    scorer; `keep_probability` and `abstain_below` left at None take the operating points
    shipped with it. `lexical_weight`, `passage_weight`, `keep_ratio` and `idf_weighted` only
    shape the relevance (and, for "hand-tuned", the ranking) of the earlier composer.
    """

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
    # "The documents don't say" when the answer's confidence (abstain_on="confidence") or its
    # best sentence's relevance ("relevance") is under abstain_below; None takes the operating
    # point shipped with the scorer (confidence) or HAND_TUNED_ABSTAIN (relevance). Why the
    # default composer keeps relevance: benchmarks/README.md, "Abstention".
    abstain_below: float | None = None
    abstain_on: str | None = None  # None: "relevance" for the hand-tuned composer, "confidence" for the learned
    keep_probability: float | None = None  # a 2nd/3rd sentence needs this P(contains the answer)
    scorer: str = HAND_TUNED  # or LEARNED (opt-in: benchmarks/README.md, "Sentence scorer")
    history_turns: int = 1  # earlier questions used to resolve a follow-up
    # 2: when the quoted sentences introduce a name (or leave one of the question's names
    # uncovered), search again with it and quote the best sentence of another document about
    # it (multi-hop questions; qa.answering.bridging). 1: one search only.
    hops: int = 2
    idf_weighted: bool = True  # lexical overlap weighs question words by IDF
    # The reader (qa.models.reading): it reads the best `read_sentences` candidate sentences, each
    # with `window_neighbours` sentences either side in its paragraph, quotes the sentence that
    # holds its best span and marks the span as `Answer.short_answer`. When no window answers
    # it reads the next `widen_sentences` candidates once. "The documents don't say" when the
    # best span's margin over no-answer is under `abstain_margin` (None: the operating point
    # shipped with the reader, chosen on SQuAD train). reader=False: the composer without it.
    reader: bool = True
    read_sentences: int = 3
    window_neighbours: int = 1
    widen_sentences: int = 3
    abstain_margin: float | None = None
    # A second window's span is quoted too when its margin is within this of the best one's
    # (and above abstain_margin): the reader's runner-up is often the gold sentence.
    # None: the value shipped with the reader, chosen on SQuAD train.
    second_quote_margin: float | None = None
    # A runner-up window whose own margin reaches this is quoted too, however far the best one
    # is ahead: a question of two parts ("in the morning and at night?") has two sure spans.
    # None: the value shipped with the reader, chosen on SQuAD train.
    sure_quote_margin: float | None = None

    def __post_init__(self) -> None:
        if self.scorer not in (HAND_TUNED, LEARNED):
            raise ValueError(f"scorer must be {HAND_TUNED!r} or {LEARNED!r}, not {self.scorer!r}")
        if self.abstain_on not in (None, ABSTAIN_ON_CONFIDENCE, ABSTAIN_ON_RELEVANCE):
            raise ValueError(
                f"abstain_on must be {ABSTAIN_ON_CONFIDENCE!r} or {ABSTAIN_ON_RELEVANCE!r}, not {self.abstain_on!r}"
            )
        if self.hops not in (1, 2):
            raise ValueError(f"hops must be 1 or 2, not {self.hops!r}")


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


class AnswerSource(Protocol):
    """What composing an answer reads: `qa.index.search.Searcher` (one fixed index view) is one."""

    def search(self, question: str, k: int = 5, *, extra_queries: Sequence[str] = ()) -> SearchResult:
        """The top `k` passages, best first, for `question` ranked with `extra_queries`, and the
        query vectors: the composer reuses them for its cosines instead of encoding again."""
        ...

    def query_terms(self, text: str) -> list[str]:
        """The BM25 terms of `text` as the index tokenises them: overlap features compare these."""
        ...

    def many_query_terms(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """`query_terms` of each text, in order, repeats kept (BM25 counts them)."""
        ...

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Index-wide IDF of every term given, unseen ones included (they weigh the most)."""
        ...

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]:
        """The chunk's sentences in document order and their unit vectors, one float32 row each."""
        ...

    def search_encoded(self, query: str, vector: np.ndarray, k: int = 5) -> list[Passage]:
        """Like `search` with `query`'s words and an already encoded `vector`: no model call
        (a second hop searches a name with the question's meaning)."""
        ...

    def titles_mention(self, name: str) -> bool:
        """Whether some document title contains `name`, case-insensitively; False spares a hop's search."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One unit float32 row per text, in order, from the index's question encoder, in one call."""
        ...


@dataclass(frozen=True)
class _Candidate:
    sentence: Sentence
    vector: np.ndarray
    passage: Passage
    passage_rank: int
    relevance: float  # absolute: cosine + lexical overlap
    score: float  # what ranking uses: the probability (learned) or relevance + passage score
    probability: float  # P(the sentence contains the answer), from the learned scorer
    cut: bool = False  # the sentence is an exact prefix of a longer one (`_fit`)


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
    extra = followup_queries(question, turns, config.history_turns)
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

    `scorer` defaults to the packaged one; benchmarks/train_scorer.py passes the one it fits.
    `reader` defaults to the shipped one (`qa.models.reading.load_reader`).
    """
    scorer = scorer or load_scorer()
    passages = result.passages
    candidates = _candidates(index, result, extra_queries, config, scorer)
    relevance = max((c.relevance for c in candidates), default=0.0)
    if not candidates:
        return Answer(result.question, ABSTAIN_TEXT, [], passages, True, [], relevance)
    if config.reader:
        reader = reader or load_reader()
        return _answer_by_reading(index, result, extra_queries, candidates, relevance, config, scorer, reader)
    chosen = _select(candidates, config, scorer)
    every = [c.probability for c in candidates]
    confidence = scorer.confidence([c.probability for c in chosen], every, relevance)
    if _abstains(config, scorer, relevance, confidence):
        return Answer(result.question, ABSTAIN_TEXT, [], passages, True, [], relevance, confidence)
    if config.hops > 1:
        chosen, passages = _with_second_hop(index, result, chosen, config, scorer)
    return _assemble(result.question, chosen, passages, relevance, confidence)


@dataclass(frozen=True)
class _Pick:
    """The reader's best span in one window: document offsets, and the sentences holding it."""

    margin: float
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[_Candidate, ...]


def _answer_by_reading(
    index: AnswerSource,
    result: SearchResult,
    extra_queries: Sequence[str],
    candidates: list[_Candidate],
    relevance: float,
    config: AnswerConfig,
    scorer: SentenceScorer,
    reader: Reader,
) -> Answer:
    """Quote the sentence(s) holding the reader's best span, or say the documents don't.

    Two rules abstain: the off-topic one (the best sentence's relevance under
    `HAND_TUNED_ABSTAIN`: nothing shares the question's meaning or words), and the reader's
    (no window's span beats its no-answer score by `abstain_margin`: same-topic text that does
    not answer). A follow-up is read with its earlier question's gist, as it was searched."""

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
    picks = _read(index, reader, questions, first, candidates, config.window_neighbours, set())
    if (not picks or picks[0].margin < threshold) and config.widen_sentences:
        read = {(c.doc_id, c.start) for p in picks for c in (s.sentence for s in p.sentences)}
        more = candidates[config.read_sentences : config.read_sentences + config.widen_sentences]
        picks = sorted(
            [*picks, *_read(index, reader, questions, more, candidates, config.window_neighbours, read)],
            key=lambda p: -p.margin,
        )
    compared = _compared(index, result, candidates, config, scorer)
    if compared is not None:
        quotes, passages = compared
        sure = picks[0] if picks and picks[0].margin >= threshold else None  # marked when quoted
        confidence = reader.confidence(picks[0].margin) if picks else 0.0
        return _assemble(result.question, quotes, passages, relevance, confidence, sure)
    if not picks or picks[0].margin < threshold:
        hopped = None
        if config.hops > 1:
            hopped = _read_after_hop(index, result, candidates, config, scorer, reader, questions, threshold)
        if hopped is None:
            return abstain(picks[0].margin if picks else None)
        chosen, passages, best = hopped
        return _assemble(result.question, chosen, passages, relevance, reader.confidence(best.margin), best)
    best = picks[0]
    second = reader.settings.second_quote_margin if config.second_quote_margin is None else config.second_quote_margin
    sure = reader.settings.sure_quote_margin if config.sure_quote_margin is None else config.sure_quote_margin
    chosen = _quoted_sentences(best, picks[1:], max(threshold, min(best.margin - second, sure)), config)
    confidence = reader.confidence(best.margin)
    passages = result.passages
    if config.hops > 1:
        hopped, hop_passages = _with_second_hop(index, result, chosen, config, scorer)
        if all(any(h.sentence.start == c.sentence.start and h.sentence.doc_id == c.sentence.doc_id for h in hopped) for c in best.sentences):
            chosen, passages = hopped, hop_passages
    return _assemble(result.question, chosen, passages, relevance, confidence, best)


def _quoted_sentences(best: _Pick, others: list[_Pick], floor: float, config: AnswerConfig) -> list[_Candidate]:
    """The best span's sentence(s), and the runner-up's when its margin reaches `floor` and it fits."""
    chosen = [replace(c, score=best.margin) for c in best.sentences]
    length = sum(len(c.sentence.text) + 1 for c in chosen)
    if length - 1 > config.max_chars:  # a run-on sentence: its exact prefix, as without the reader
        chosen = [_fit(chosen[0], config.max_chars)]
        length = len(chosen[0].sentence.text) + 1
    for other in others[:1]:
        if other.margin < floor or len(chosen) >= config.max_sentences:
            continue
        taken = {(c.sentence.doc_id, c.sentence.start) for c in chosen}
        extra = [replace(c, score=other.margin) for c in other.sentences if (c.sentence.doc_id, c.sentence.start) not in taken]
        if extra and length + sum(len(c.sentence.text) + 1 for c in extra) <= config.max_chars + 1:
            chosen.extend(extra)
    doc_rank: dict[str, int] = {}
    for c in chosen:
        doc_rank.setdefault(c.sentence.doc_id, len(doc_rank))
    return sorted(chosen, key=lambda c: (doc_rank[c.sentence.doc_id], c.sentence.start))


def _read(
    index: AnswerSource,
    reader: Reader,
    questions: Sequence[str],
    targets: Sequence[_Candidate],
    candidates: Sequence[_Candidate],
    neighbours: int,
    already_read: set[tuple[str, int]],
) -> list[_Pick]:
    """One reader batch over the windows around `targets` (not yet read), each read with every
    phrasing in `questions` and keeping its surest reading; picks by margin."""
    by_key = {(c.sentence.doc_id, c.sentence.start): c for c in candidates}
    windows = _windows(index, [t for t in targets if (t.sentence.doc_id, t.sentence.start) not in already_read], neighbours)
    readings = [
        max(group, key=lambda r: r.margin)
        for group in zip(*(reader.read(q, [w for w, _ in windows]) for q in questions))
    ]
    picks = []
    for (window, sentences), reading in zip(windows, readings):
        pick = _pick(window, sentences, reading, by_key)
        if pick is not None:
            picks.append(pick)
    return sorted(picks, key=lambda p: -p.margin)


def _pick(window: Window, sentences: list[Sentence], reading: Reading, by_key) -> _Pick | None:
    start, end = window.start + reading.start, window.start + reading.end
    if end <= start:
        return None
    holding = [by_key.get((s.doc_id, s.start)) for s in sentences if s.start < end and s.end > start]
    if not holding or any(c is None for c in holding):
        return None
    return _Pick(reading.margin, window.doc_id, start, end, window.text[reading.start : reading.end], tuple(holding))


def _windows(index: AnswerSource, targets: Sequence[_Candidate], neighbours: int) -> list[tuple[Window, list[Sentence]]]:
    """Each target sentence with up to `neighbours` sentences either side in its paragraph;
    windows that overlap or touch in one chunk are read as one."""
    ranges: dict[str, list[list[int]]] = {}
    owners: dict[str, tuple[Passage, list[Sentence]]] = {}
    for target in targets:
        sentences, _ = index.chunk_sentences(target.passage.chunk_id)
        at = next((i for i, s in enumerate(sentences) if s.start == target.sentence.start), None)
        if at is None:
            continue
        same = [i for i in range(max(0, at - neighbours), min(len(sentences), at + neighbours + 1))
                if sentences[i].paragraph == target.sentence.paragraph]
        lo, hi = min(same), max(same)
        owners[target.passage.chunk_id] = (target.passage, sentences)
        spans = ranges.setdefault(target.passage.chunk_id, [])
        for span in spans:
            if lo <= span[1] + 1 and hi >= span[0] - 1:
                span[0], span[1] = min(lo, span[0]), max(hi, span[1])
                break
        else:
            spans.append([lo, hi])
    windows = []
    for chunk_id, spans in ranges.items():
        passage, sentences = owners[chunk_id]
        for lo, hi in spans:
            start, end = sentences[lo].start, sentences[hi].end
            text = passage.text[start - passage.start : end - passage.start]
            windows.append((Window(passage.doc_id, start, text), sentences[lo : hi + 1]))
    return windows


FOLLOWUP_MARGIN = float("-inf")  # a follow-up is never withheld by the reader's margin alone

# Passages a second hop retrieves per name, among which it looks for documents titled with it.
HOP_PASSAGES = 10
MIN_HOP_CHARS = 80  # a hop's sentence is cut to fit the answer, but not shorter than this


@dataclass(frozen=True)
class _Hop:
    """One second search: the `name` it followed, the `about` passages (other documents whose
    title names it) and their candidate sentences `found`, best first."""

    name: str
    query: str
    vector: np.ndarray
    about: list[Passage]
    found: list[_Candidate]


def _hops(
    index: AnswerSource, result: SearchResult, quoted: Sequence[str], read: Sequence[str],
    titles: Sequence[str], answered: set[str], config: AnswerConfig, scorer: SentenceScorer,
) -> Iterator[_Hop]:
    """The second searches worth making after quoting `quoted` from the text `read` (the
    windows the reader read, or the quotes themselves) of documents titled `titles`: one per
    name of `qa.answering.bridging.hop_names` found in `read`, in its order, each only when another
    document is about the name.

    The hop's query is the name and the question's words `quoted` did not match
    (`qa.answering.bridging.unanswered_words`), encoded in one model call for all names tried.

    Why "its title names it": a document that merely mentions the name is usually about
    something else: a development probe that accepted any mention added a sentence from
    another article to a large share of pooled SQuAD answers (single-hop questions); with
    titles the hop changes 2.7 % of them, one in 1,000 losing its gold (benchmarks/second_hop.py)."""
    unanswered = unanswered_words(without_question_words(result.question), list(quoted), index.many_query_terms)
    names = hop_names(result.question, list(read), list(titles), index.query_terms, index.term_weights)
    names = [n for n in names if index.titles_mention(n)]  # no document about it: no search
    if not names:
        return
    queries = [f"{name} {unanswered or result.question}"[:MAX_QUESTION_CHARS] for name in names]
    for name, query, vector in zip(names, queries, index.encode_queries(queries)):
        hop = _search_about(index, name, query, vector, answered, config, scorer)
        if hop is not None:
            yield hop


def _search_about(
    index: AnswerSource, name: str, query: str, vector: np.ndarray, answered: set[str],
    config: AnswerConfig, scorer: SentenceScorer,
) -> _Hop | None:
    """One search for `query`, kept to documents outside `answered` whose title names `name`,
    and their candidate sentences; None when no such document has any."""
    found_by = index.search_encoded(query, vector, HOP_PASSAGES)
    about = [p for p in found_by if p.doc_id not in answered and name.lower() in p.title.lower()]
    if not about:
        return None
    hop = SearchResult(query, about, vector)
    found = _candidates(index, hop, [], replace(config, candidate_passages=len(about)), scorer)
    return _Hop(name, query, vector, about, found) if found else None


def _hop_passages(result: SearchResult, hop: _Hop) -> list[Passage]:
    """The first search's passages, then the hop's that it did not find."""
    known = {p.chunk_id for p in result.passages}
    return [*result.passages, *(p for p in hop.about if p.chunk_id not in known)]


def _with_second_hop(
    index: AnswerSource, result: SearchResult, chosen: list[_Candidate], config: AnswerConfig, scorer: SentenceScorer
) -> tuple[list[_Candidate], list[Passage]]:
    """`chosen` plus the best sentence of a second hop (`_hops`), and the passages plus the
    hop's, when that sentence answers well enough (the same abstention rule as the answer's)
    and fits (`_make_room`). The first hop that does wins. Its quote is scored against the
    hop's query, not against words the first answer already matched.

    `confidence` stays the first hop's: the calibration was fitted on one-hop answers."""
    quoted = [c.sentence.text for c in chosen]
    titles = [c.passage.title for c in chosen]
    answered = {c.sentence.doc_id for c in chosen}
    for hop in _hops(index, result, quoted, quoted, titles, answered, config, scorer):
        best = hop.found[0]
        confidence = scorer.confidence([best.probability], [c.probability for c in hop.found], best.relevance)
        if _abstains(config, scorer, best.relevance, confidence):
            continue
        bridge = [c for c in chosen if hop.name.lower() in c.sentence.text.lower()][:1]
        answer = _make_room(chosen, best, bridge, config.max_chars)
        if answer is not None:
            return answer, _hop_passages(result, hop)
    return chosen, result.passages


def _read_after_hop(
    index: AnswerSource, result: SearchResult, candidates: Sequence[_Candidate], config: AnswerConfig,
    scorer: SentenceScorer, reader: Reader, questions: Sequence[str], threshold: float,
) -> tuple[list[_Candidate], list[Passage], _Pick] | None:
    """When no window of the first search answers: a bridge question ("When was Maria
    Lindqvist's employer founded?") often has its answer only in a document about a name the
    read windows introduce ("She works at the Halvorsen Institute"). Read each hop's best
    sentences (`_hops`, names taken from the windows read) and answer from the first whose
    span clears `threshold`, quoting the best candidate sentence of the read documents that
    names it (the bridge) before the hop's; None when no hop answers, so the answer abstains
    as before."""
    read = candidates[: config.read_sentences + config.widen_sentences]
    windows = _windows(index, read, config.window_neighbours)
    texts = [w.text for w, _ in windows]
    titles = [c.passage.title for c in read]
    answered = {c.sentence.doc_id for c in read}
    for hop in _hops(index, result, texts, texts, titles, answered, config, scorer):
        picks = _read(index, reader, questions, hop.found[: config.read_sentences], hop.found, config.window_neighbours, set())
        if not picks or picks[0].margin < threshold:
            continue
        best = picks[0]
        bridge = next(
            (c for c in candidates if c.sentence.doc_id in answered and hop.name.lower() in c.sentence.text.lower()), None
        )
        quoted = [replace(c, score=best.margin) for c in best.sentences]
        if bridge is not None:
            with_bridge = _make_room(quoted, replace(bridge, score=best.margin - 1), [], config.max_chars)
            if with_bridge is not None:
                quoted = [with_bridge[-1], *with_bridge[:-1]]  # the bridge reads first
        return quoted, _hop_passages(result, hop), best
    return None


def _compared(
    index: AnswerSource, result: SearchResult, candidates: Sequence[_Candidate], config: AnswerConfig,
    scorer: SentenceScorer,
) -> tuple[list[_Candidate], list[Passage]] | None:
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
    quotes: list[_Candidate] = []
    passages = list(result.passages)
    for name in names:
        quote = _about(name, candidates)
        if quote is None and config.hops > 1:
            query = f"{name} {without_question_words(result.question)}"[:MAX_QUESTION_CHARS]
            hop = _search_about(index, name, query, index.encode_queries([query])[0], set(), config, scorer)
            if hop is not None:
                quote = hop.found[0]
                known = {p.chunk_id for p in passages}
                passages.extend(p for p in hop.about if p.chunk_id not in known)
        if quote is None:
            return None
        if all((q.sentence.doc_id, q.sentence.start) != (quote.sentence.doc_id, quote.sentence.start) for q in quotes):
            quotes.append(quote)
    share = config.max_chars // len(quotes) - 1  # each quote with the space after it
    return [_fit(q, share) if len(q.sentence.text) > share else q for q in quotes], passages


def _about(name: str, candidates: Sequence[_Candidate]) -> _Candidate | None:
    """The best candidate from a document titled with `name`, else the best naming it."""
    lowered = name.lower()
    titled = (c for c in candidates if lowered in c.passage.title.lower())
    naming = (c for c in candidates if lowered in c.sentence.text.lower())
    return next(titled, None) or next(naming, None)


def _make_room(
    chosen: list[_Candidate], extra: _Candidate, bridge: list[_Candidate], max_chars: int
) -> list[_Candidate] | None:
    """`chosen` plus `extra` within `max_chars`: the lowest-scored supporting sentences are
    dropped first, then `extra` is cut to the room left (`_fit`). Never dropped: the best
    sentence, the `bridge` (the sentence that named what the hop searched for: without it the
    hop's quote would not follow) and a document's only quote (the first hop may have found
    the second document already). None when fewer than `MIN_HOP_CHARS` are left."""
    protected = {id(max(chosen, key=lambda c: c.score)), *(id(c) for c in bridge)}
    kept = list(chosen)

    def room() -> int:  # each kept sentence with the space after it
        return max_chars - sum(len(c.sentence.text) + 1 for c in kept)

    def droppable() -> list[_Candidate]:
        quotes = Counter(c.sentence.doc_id for c in kept)
        return [c for c in kept if id(c) not in protected and quotes[c.sentence.doc_id] > 1]

    while room() < len(extra.sentence.text) and droppable():
        kept.remove(min(droppable(), key=lambda c: c.score))
    if room() < min(len(extra.sentence.text), MIN_HOP_CHARS):
        return None
    return [*kept, _fit(extra, room())]


def _abstains(config: AnswerConfig, scorer: SentenceScorer, relevance: float, confidence: float) -> bool:
    on = config.abstain_on or (ABSTAIN_ON_RELEVANCE if config.scorer == HAND_TUNED else ABSTAIN_ON_CONFIDENCE)
    if on == ABSTAIN_ON_RELEVANCE:
        threshold = HAND_TUNED_ABSTAIN if config.abstain_below is None else config.abstain_below
        return relevance < threshold
    threshold = scorer.abstain_below if config.abstain_below is None else config.abstain_below
    return confidence < threshold


@dataclass(frozen=True)
class CandidateRows:
    """Every candidate sentence of a search and its row of `qa.answering.sentence_scoring.FEATURE_NAMES`
    (what benchmarks/train_scorer.py learns from)."""

    sentences: list[Sentence]
    vectors: list[np.ndarray]
    passages: list[Passage]
    ranks: list[int]
    features: np.ndarray


def candidate_rows(
    index: AnswerSource, result: SearchResult, extra_queries: Sequence[str], config: AnswerConfig
) -> CandidateRows:
    """The sentences of the best `config.candidate_passages` passages, each once, in passage
    order, with their features."""
    passages = result.passages[: config.candidate_passages]
    query_vector = np.asarray(result.query_vector, dtype=np.float32)
    followup = np.mean(result.extra_vectors, axis=0) if result.extra_vectors else query_vector
    terms = set(index.query_terms(without_question_words(" ".join([result.question, *extra_queries]))))
    cues = question_cues(result.question, index.term_weights(sorted(terms)), bool(result.extra_vectors))
    seen: set[tuple[str, int]] = set()
    sentences: list[Sentence] = []
    vectors: list[np.ndarray] = []
    owners: list[Passage] = []
    ranks: list[int] = []
    places: list[tuple[int, int]] = []  # (position in its passage, sentences in the passage)
    for rank, passage in enumerate(passages):
        chunk_sentences, chunk_vectors = index.chunk_sentences(passage.chunk_id)
        for position, (sentence, vector) in enumerate(zip(chunk_sentences, chunk_vectors)):
            key = (sentence.doc_id, sentence.start)
            if key in seen:  # overlapping chunks share sentences
                continue
            seen.add(key)
            sentences.append(sentence)
            vectors.append(vector)
            owners.append(passage)
            ranks.append(rank)
            places.append((position, len(chunk_sentences)))
    sentence_terms = index.many_query_terms([s.text for s in sentences])
    inputs = [
        CandidateSentence(
            text=sentence.text,
            terms=terms,
            question_cosine=float(vector @ query_vector),
            followup_cosine=float(vector @ followup),
            passage_score=passage.score,
            passage_rank=rank,
            position=position,
            passage_sentences=count,
            paragraph=sentence.paragraph,
        )
        for sentence, terms, vector, passage, rank, (position, count) in zip(
            sentences, sentence_terms, vectors, owners, ranks, places
        )
    ]
    return CandidateRows(sentences, vectors, owners, ranks, sentence_features(cues, inputs))


def _candidates(
    index: AnswerSource,
    result: SearchResult,
    extra_queries: Sequence[str],
    config: AnswerConfig,
    scorer: SentenceScorer,
) -> list[_Candidate]:
    rows = candidate_rows(index, result, extra_queries, config)
    features = rows.features
    cosine = (features[:, _COSINE] + features[:, _FOLLOWUP_COSINE]) / 2 if len(features) else np.zeros(0)
    overlap = features[:, _OVERLAP_IDF if config.idf_weighted else _OVERLAP_PLAIN] if len(features) else cosine
    relevance = cosine + config.lexical_weight * overlap
    probability = scorer.sentence_probabilities(features)
    found = []
    for i, sentence in enumerate(rows.sentences):
        passage = rows.passages[i]
        if config.scorer == HAND_TUNED:
            score = float(relevance[i]) + config.passage_weight * passage.score
        else:
            score = float(probability[i])
        found.append(
            _Candidate(sentence, rows.vectors[i], passage, rows.ranks[i], float(relevance[i]), score, float(probability[i]))
        )
    found.sort(key=lambda c: (-c.score, c.passage_rank, c.sentence.start))
    return found


def _select(candidates: list[_Candidate], config: AnswerConfig, scorer: SentenceScorer) -> list[_Candidate]:
    best = _fit(candidates[0], config.max_chars)
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


def _worth_keeping(candidate: _Candidate, best: _Candidate, config: AnswerConfig, scorer: SentenceScorer) -> bool:
    """Whether a further sentence may join the best one: learned, when it is itself likely to
    carry the answer; hand-tuned, when it scores within `keep_ratio` of the best."""
    if config.scorer == HAND_TUNED:
        return candidate.score >= config.keep_ratio * best.score
    floor = scorer.keep_probability if config.keep_probability is None else config.keep_probability
    return candidate.probability >= floor


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


def _covered(pick: _Pick, chosen: list[_Candidate]) -> bool:
    """Whether the quoted sentences (cut ones as cut) hold all of the reader's span."""
    spans = sorted(
        (c.sentence.start, c.sentence.end) for c in chosen
        if c.sentence.doc_id == pick.doc_id and c.sentence.start < pick.end and c.sentence.end > pick.start
    )
    return bool(spans) and spans[0][0] <= pick.start and spans[-1][1] >= pick.end


def _assemble(
    question: str,
    chosen: list[_Candidate],
    passages: list[Passage],
    relevance: float,
    confidence: float,
    pick: _Pick | None = None,
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
    if pick is not None and _covered(pick, chosen):
        number = numbers[next(c.passage.chunk_id for c in chosen if c.sentence.start == pick.sentences[0].sentence.start and c.sentence.doc_id == pick.doc_id)]
        short = ShortAnswer(pick.text, pick.doc_id, pick.start, pick.end, number)
    margin = pick.margin if pick is not None else None
    return Answer(question, text, citations, passages, False, sentences, relevance, confidence, short, margin)
