"""Measure retrieval quality of any `qa.Index` on questions with known answers.

    >>> import qa
    >>> from qa.eval.evaluation import squad_documents, sample_questions, evaluate_retrieval
    >>> documents, questions = squad_documents()          # SQuAD v1.1 dev, 2,067 paragraphs
    >>> index = qa.Index.from_documents(documents, "/tmp/squad-index")
    >>> report = evaluate_retrieval(index, sample_questions(questions, 2000))
    >>> report.metrics.recall_at(5), report.latency.p50_ms

Why a library module and not only a benchmark script: the same loaders and metrics serve the
benchmark (benchmarks/retrieval.py), the tests and a later `qa eval` command, so every number
quoted in the README is computed one way.

Metrics are passage-level: each question has one gold document (a SQuAD paragraph); a
retrieved passage is relevant when it comes from that document. A document may be split into
several chunks, so only the *first* relevant passage counts (its rank drives recall@k, MRR@10
and nDCG@10); later chunks of the same document are neither a second hit nor a penalty.
"Strict" recall additionally asks that the passage's character span covers a gold answer
start, which catches a long paragraph split into chunks where the wrong one is retrieved.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import string
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence

from qa.loading.documents import Document
from qa.index.retrieval import Passage

# Environment variable naming the benchmark data folder (the one holding squad-v1.1-dev/).
DATA_ENV = "QA_BENCH_DATA"
SQUAD_DEV_FILE = Path("squad-v1.1-dev") / "dev-v1.1.json"
SQUAD_SOURCE = "SQuAD v1.1 dev"
# Between the paragraphs of an article made one document (`squad_article_documents`).
ARTICLE_PARAGRAPH_BREAK = "\n\n"
# The protocol FINDINGS.md used: 2,000 (question, paragraph) pairs drawn with random.seed(0).
DEFAULT_SAMPLE = 2000
DEFAULT_SEED = 0
DEFAULT_KS = (1, 5, 20)
# MRR and nDCG are reported at a fixed cutoff of 10, the usual one for passage retrieval.
RANK_CUTOFF = 10
STRICT_K = 5


@dataclass(frozen=True)
class EvalQuestion:
    """A question with what counts as a right retrieval for it.

    doc_id: the gold document, or None when only answer texts are known (then a passage is
    relevant when it contains a gold answer). answer_starts: character offsets of the answers
    in the gold document's text (SQuAD gives them; they make "strict" recall exact).
    """

    question: str
    doc_id: str | None
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...] = ()
    title: str = ""
    question_id: str = ""


def default_data_dir() -> Path:
    """`$QA_BENCH_DATA`, else `shared/data` beside the project checkout (read-only data that
    must never be copied into the project)."""
    configured = os.environ.get(DATA_ENV)
    if configured:
        return Path(configured)
    import qa

    return Path(qa.__file__).resolve().parents[2] / "shared" / "data"


def _squad_file(path: str | Path | None) -> Path:
    """Accept the data folder, the squad-v1.1-dev folder or the json file itself."""
    base = Path(path) if path is not None else default_data_dir()
    for candidate in (base, base / "dev-v1.1.json", base / SQUAD_DEV_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no SQuAD v1.1 dev file at {base} (looked for {SQUAD_DEV_FILE}); "
        f"pass its folder or set {DATA_ENV}"
    )


def _content_span(text: str) -> tuple[int, int]:
    """(start, end) of `text` without surrounding whitespace.

    Six SQuAD contexts start or end with spaces; indexing them would give chunks with stray
    whitespace. Gold answers never lie in that whitespace, so every offset stays covered.
    """
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return (start, end) if end > start else (0, len(text))


def squad_documents(path: str | Path | None = None) -> tuple[list[Document], list[EvalQuestion]]:
    """Every SQuAD paragraph as a `Document`, and every question, both in file order.

    The context text is kept exactly, so the gold `answer_start` offsets index into
    `Document.text`. Each context becomes one paragraph span: the 28 contexts containing a
    newline use it for chemical subscripts ("O\\n2"), not for paragraph breaks.
    """
    data = json.loads(_squad_file(path).read_text(encoding="utf-8"))
    documents: list[Document] = []
    questions: list[EvalQuestion] = []
    for a, article in enumerate(data["data"]):
        title = article["title"].replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            text = paragraph["context"]
            doc_id = f"squad-{a}-{p}"
            documents.append(
                Document(
                    doc_id=doc_id,
                    title=title,
                    source=SQUAD_SOURCE,
                    path=f"squad:{article['title']}/{p}",
                    text=text,
                    paragraphs=(_content_span(text),),
                    content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
            for qa_item in paragraph["qas"]:
                answers = qa_item["answers"]
                questions.append(
                    EvalQuestion(
                        question=qa_item["question"],
                        doc_id=doc_id,
                        answers=tuple(x["text"] for x in answers),
                        answer_starts=tuple(int(x["answer_start"]) for x in answers),
                        title=title,
                        question_id=qa_item.get("id", ""),
                    )
                )
    return documents, questions


def squad_article_documents(path: str | Path | None = None) -> tuple[list[Document], list[EvalQuestion]]:
    """Every SQuAD article as one `Document` (its paragraphs joined by blank lines, ~40 each),
    and every question with its answer offsets moved into the article's text.

    The long-document case of issue 12: a question's article holds many passages, and only the
    one covering the answer counts (`holds_answer`).
    """
    paragraphs, questions = squad_documents(path)
    by_article: dict[str, list[Document]] = {}
    for document in paragraphs:
        by_article.setdefault(document.doc_id.rsplit("-", 1)[0], []).append(document)
    articles: list[Document] = []
    moved: dict[str, tuple[str, int]] = {}  # paragraph doc id -> (article doc id, offset)
    for article_id, members in by_article.items():
        parts, spans, offset = [], [], 0
        for member in members:
            moved[member.doc_id] = (article_id, offset)
            start, end = member.paragraphs[0]
            spans.append((offset + start, offset + end))
            parts.append(member.text)
            offset += len(member.text) + len(ARTICLE_PARAGRAPH_BREAK)
        text = ARTICLE_PARAGRAPH_BREAK.join(parts)
        articles.append(
            Document(
                doc_id=article_id,
                title=members[0].title,
                source=SQUAD_SOURCE,
                path=members[0].path.rsplit("/", 1)[0],
                text=text,
                paragraphs=tuple(spans),
                content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        )
    shifted = []
    for question in questions:
        article_id, offset = moved[question.doc_id]
        starts = tuple(s + offset for s in question.answer_starts)
        shifted.append(replace(question, doc_id=article_id, answer_starts=starts))
    return articles, shifted


def sample_questions(
    questions: Sequence[EvalQuestion], n: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED
) -> list[EvalQuestion]:
    """`n` questions drawn with `random.seed(seed); random.sample(questions, n)`.

    Exactly this call (it reseeds the global generator) so that the sample is the one the
    numbers in FINDINGS.md were measured on. `n` >= len(questions) returns all, in order.
    """
    items = list(questions)
    if n >= len(items):
        return items
    random.seed(seed)
    return random.sample(items, n)


class QuestionFileError(ValueError):
    """A questions file line that cannot be read; the message names the line and the fix."""


def load_questions_jsonl(path: str | Path) -> list[EvalQuestion]:
    """Questions from a JSON-lines file, one object a line:

        {"question": "...", "answers": ["...", ...], "doc_id": "optional", "answer_starts": [..]}

    so that users can measure retrieval on their own documents (`doc_id` as `qa` lists it).
    Blank lines are skipped; a malformed line raises `QuestionFileError` naming it.
    """
    questions: list[EvalQuestion] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuestionFileError(f"{where}: not JSON ({error.msg})") from None
        questions.append(_question_from_json(item, where))
    return questions


def _question_from_json(item: object, where: str) -> EvalQuestion:
    if not isinstance(item, dict):
        raise QuestionFileError(f"{where}: expected a JSON object")
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFileError(f"{where}: 'question' must be a non-empty string")
    answers = item.get("answers", [])
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise QuestionFileError(f"{where}: 'answers' must be a list of strings")
    doc_id = item.get("doc_id")
    if doc_id is not None and not isinstance(doc_id, str):
        raise QuestionFileError(f"{where}: 'doc_id' must be a string")
    starts = item.get("answer_starts", [])
    if not isinstance(starts, list) or not all(isinstance(s, int) for s in starts):
        raise QuestionFileError(f"{where}: 'answer_starts' must be a list of integers")
    if doc_id is None and not answers:
        raise QuestionFileError(f"{where}: give 'doc_id' or 'answers', or nothing can be judged")
    return EvalQuestion(
        question=question,
        doc_id=doc_id,
        answers=tuple(answers),
        answer_starts=tuple(starts),
        title=str(item.get("title", "")),
        question_id=str(item.get("id", "")),
    )


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingMetrics:
    """Recall at each k, MRR@10 and nDCG@10 over a set of questions.

    With one relevant item per question, nDCG@10 is the mean of 1/log2(rank + 1) for ranks
    <= 10 (the ideal DCG is 1).
    """

    ks: tuple[int, ...]
    recall: tuple[float, ...]  # recall[i] is recall@ks[i]
    mrr_at_10: float
    ndcg_at_10: float
    questions: int

    def recall_at(self, k: int) -> float:
        """Recall@k looked up by k, not by position; `KeyError` for a k that was not computed."""
        try:
            return self.recall[self.ks.index(k)]
        except ValueError:
            raise KeyError(f"recall@{k} was not computed; ks were {self.ks}") from None


def first_relevant_rank(ranked_doc_ids: Sequence[str], gold: str) -> int | None:
    """1-based rank of the first passage from the gold document, None when none was ranked."""
    for rank, doc_id in enumerate(ranked_doc_ids, 1):
        if doc_id == gold:
            return rank
    return None


def metrics_from_ranks(
    ranks: Sequence[int | None], ks: Sequence[int] = DEFAULT_KS, cutoff: int = RANK_CUTOFF
) -> RankingMetrics:
    """Metrics from each question's first relevant rank (None: not retrieved).

    Kept separate from any ranking so that other relevance rules (answer text contained)
    share the same arithmetic.
    """
    if not ranks:
        raise ValueError("no questions to score")
    n = len(ranks)
    found = [r for r in ranks if r is not None]
    recall = tuple(sum(1 for r in found if r <= k) / n for k in ks)
    mrr = sum(1.0 / r for r in found if r <= cutoff) / n
    ndcg = sum(1.0 / math.log2(r + 1) for r in found if r <= cutoff) / n
    return RankingMetrics(tuple(ks), recall, mrr, ndcg, n)


def ranking_metrics(
    ranked_doc_ids: Sequence[Sequence[str]],
    gold: Sequence[str],
    ks: Sequence[int] = DEFAULT_KS,
    cutoff: int = RANK_CUTOFF,
) -> RankingMetrics:
    """Metrics for rankings of doc ids (one list per question, best first) against gold ids."""
    if len(ranked_doc_ids) != len(gold):
        raise ValueError(f"{len(ranked_doc_ids)} rankings but {len(gold)} gold ids")
    ranks = [first_relevant_rank(ranked, g) for ranked, g in zip(ranked_doc_ids, gold)]
    return metrics_from_ranks(ranks, ks, cutoff)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's official normalisation: lower-case, drop punctuation and articles, squash spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """SQuAD's EM: the normalised prediction equals a normalised gold answer."""
    return any(normalize_answer(prediction) == normalize_answer(a) for a in answers)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD's F1: the best token-overlap F1 of the normalised prediction against each gold answer.

        >>> round(token_f1("the Denver Broncos", ["Denver Broncos"]), 2), token_f1("Paris", ["Rome"])
        (1.0, 0.0)
    """
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether `text` contains a gold answer after SQuAD normalisation (empty answers never do)."""
    haystack = f" {normalize_answer(text)} "
    return any(n and f" {n} " in haystack for n in map(normalize_answer, answers))


def is_relevant(passage: Passage, question: EvalQuestion) -> bool:
    """From the gold document when one is known; otherwise it contains a gold answer."""
    if question.doc_id is not None:
        return passage.doc_id == question.doc_id
    return contains_answer(passage.text, question.answers)


def holds_answer(passage: Passage, question: EvalQuestion) -> bool:
    """Strict relevance: relevant, and the answer is inside the passage itself.

    By offset when answer starts are known (a passage span [start, end) covering one), else
    by the answer text.
    """
    if not is_relevant(passage, question):
        return False
    if question.doc_id is not None and question.answer_starts:
        return any(passage.start <= s < passage.end for s in question.answer_starts)
    return contains_answer(passage.text, question.answers)


def first_match_rank(passages: Sequence[Passage], matches: Callable[[Passage], bool]) -> int | None:
    """1-based rank of the first passage for which `matches` holds, None when none does."""
    for rank, passage in enumerate(passages, 1):
        if matches(passage):
            return rank
    return None


@dataclass(frozen=True)
class LatencySummary:
    """Per-query wall time of `Index.retrieve`, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), without importing numpy."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> LatencySummary:
    """p50, p95, mean and max in milliseconds, from per-question timings in seconds."""
    ms = [s * 1000.0 for s in seconds]
    return LatencySummary(
        p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95), mean_ms=sum(ms) / len(ms), max_ms=max(ms)
    )


@dataclass(frozen=True)
class RetrievalReport:
    """What `evaluate_retrieval` measured: ranking metrics, strict recall@5 and latency."""

    metrics: RankingMetrics
    strict_recall_at_5: float
    latency: LatencySummary
    questions: int


class Retriever(Protocol):
    """What `evaluate_retrieval` needs: `qa.Index` satisfies it, and so can a test double."""

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        """The top `k` passages for `question`, best first."""


Progress = Callable[[int, int], None]


def evaluate_retrieval(
    index: Retriever,
    questions: Sequence[EvalQuestion],
    ks: Sequence[int] = DEFAULT_KS,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Ask every question once and score the ranking.

    One `retrieve(question, k=max(ks, 10))` call per question is timed with `perf_counter`;
    a first, untimed call loads the embedding model so that its start-up is not counted as
    query latency. `progress(done, total)` is called after each question.
    """
    if not questions:
        raise ValueError("no questions to evaluate")
    depth = max(*ks, RANK_CUTOFF, STRICT_K)
    index.retrieve(questions[0].question, k=depth)  # warm-up: model load, caches
    ranks: list[int | None] = []
    strict_hits = 0
    seconds: list[float] = []
    for done, question in enumerate(questions, 1):
        started = time.perf_counter()
        passages = index.retrieve(question.question, k=depth)
        seconds.append(time.perf_counter() - started)
        ranks.append(first_match_rank(passages, lambda p: is_relevant(p, question)))
        strict = first_match_rank(passages[:STRICT_K], lambda p: holds_answer(p, question))
        strict_hits += strict is not None
        if progress is not None:
            progress(done, len(questions))
    return RetrievalReport(
        metrics=metrics_from_ranks(ranks, ks),
        strict_recall_at_5=strict_hits / len(questions),
        latency=latency_summary(seconds),
        questions=len(questions),
    )
