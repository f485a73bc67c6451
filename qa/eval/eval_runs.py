"""`qa eval`: one call that indexes a benchmark (or the user's own set), asks its questions and
returns every measure in one `EvalReport`.

    >>> report = run_eval(EvalRequest(suite="squad", sample=200))
    >>> report.retrieval.metrics.recall_at(5), report.answers.contains_gold

Suites (data from `qa.eval.evaluation.default_data_dir()`, i.e. ../shared/data or $QA_BENCH_DATA):
    squad    SQuAD v1.1 dev; pooled (all 2,067 paragraphs in one index) or --single-article
    squad2   the SQuAD 2.0 dev sample, single-article: abstention on unanswerable questions
    hotpot   the HotpotQA sample, pooled 994 paragraphs: both gold paragraphs retrieved?
    custom   --questions FILE.jsonl --docs DIR: the user's own documents and questions
Indexes are cached under `cache` and reused while the corpus and settings are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.eval.answer_evaluation import (
    AbstentionPoint,
    AnswerReport,
    article_indexes,
    evaluate_answers,
    squad2_questions,
)
from qa.answering.compose import Answer
from qa.index.settings import settings_outdated
from qa.paths import data_dir
from qa.loading.documents import Document
from qa.eval.evaluation import (
    EvalQuestion,
    RetrievalReport,
    Retriever,
    default_data_dir,
    evaluate_retrieval,
    load_questions_jsonl,
    sample_questions,
    squad_documents,
)
from qa.index.coordinator import Index
from qa.answering.rescoring import retriever_for
from qa.index.retrieval import Passage
from qa.errors import IndexProblem

SUITES = ("squad", "squad2", "hotpot", "custom")
HOTPOT_FOLDER = Path("hotpotqa-sample")
SHOWN_PASSAGES = 10  # HotpotQA's "both in the top 10", counted over what a reader is shown


@dataclass(frozen=True)
class EvalRequest:
    """What `run_eval` should measure: a suite and its options, one field per `qa eval` option."""

    suite: str
    sample: int = 0  # 0 = every question
    single_article: bool = False
    data: Path | None = None
    cache: Path | None = None
    questions_file: Path | None = None  # custom suite
    docs: Path | None = None  # custom suite
    rescore: bool = False  # retrieval re-scored by mpnet (qa.answering.rescoring); answers are unchanged


@dataclass(frozen=True)
class MultiHopReport:
    """HotpotQA: share of questions with both gold paragraphs among the top k passages, and
    share of answers that cite both."""

    both_in_top5: float
    both_in_top10: float
    answers_cite_both: float
    # The answer's passages (the top 5 and a second hop's) and then the rest of the top 10:
    # what retrieval with the hop puts in front of a reader.
    both_in_top10_with_hop: float = 0.0


@dataclass(frozen=True)
class EvalReport:
    """Everything one `run_eval` measured; a part the suite does not measure is None."""

    suite: str
    documents: int
    passages: int
    retrieval: RetrievalReport | None
    answers: AnswerReport | None
    abstention: AbstentionPoint | None = None  # squad2, as answered (threshold: nan)
    multi_hop: MultiHopReport | None = None
    rescored: bool = False  # retrieval figures are after the optional mpnet second stage


Progress = Callable[[int, int], None]


def cached_index(documents: Sequence[Document], cache: Path, name: str) -> Index:
    """The index of `documents` under `cache/<name>-<corpus hash>`, built only when missing,
    damaged, of another corpus or built with other settings (benchmarks reuse it too)."""
    digest = hashlib.sha256("".join(d.content_hash for d in documents).encode()).hexdigest()[:12]
    path = cache / f"{name}-{digest}"
    try:
        index = Index.open(path)
        if not settings_outdated(index.settings):
            return index
    except IndexProblem:
        pass
    return Index.from_documents(documents, path, progress=True)


class _ByArticle:
    """A `Retriever` that sends each question to its own article's index (single-article mode)."""

    def __init__(self, indexes: dict[str, Index], questions: Sequence[EvalQuestion]) -> None:
        self._indexes = indexes
        self._title = {q.question: q.title for q in questions}

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        return self._indexes[self._title[question]].retrieve(question, k)


def hotpot_corpus(data: Path | None = None) -> tuple[list[Document], list[tuple[EvalQuestion, tuple[str, str]]]]:
    """The HotpotQA sample: paragraphs as documents; questions with their two gold doc ids."""
    folder = (data or default_data_dir()) / HOTPOT_FOLDER
    corpus = json.loads((folder / "hotpotqa_train_corpus.json").read_text(encoding="utf-8"))
    raw = json.loads((folder / "hotpotqa_train.json").read_text(encoding="utf-8"))
    ids: dict[str, str] = {}
    documents = []
    for n, (title, sentences) in enumerate(corpus.items()):
        text = "".join(sentences).strip()
        doc_id = f"hotpot-{n}"
        ids[title] = doc_id
        documents.append(
            Document(doc_id, title, "HotpotQA", f"hotpot:{title}", text, ((0, len(text)),),
                     hashlib.sha256(text.encode()).hexdigest())
        )
    questions = []
    for item in raw:
        titles = list(dict.fromkeys(t for t, _ in item["supporting_facts"]))[:2]
        gold = tuple(ids[t] for t in titles if t in ids)
        if len(gold) != 2:
            continue
        question = EvalQuestion(item["question"], gold[0], (item["answer"],), (), "", item["_id"])
        questions.append((question, gold))
    return documents, questions


def cache_folder_name(path: Path) -> str:
    """A readable, unique folder name for an absolute path: its tail plus a hash of all of it
    (two long paths with the same first 40 characters must not share a cached index)."""
    readable = re.sub(r"[^a-z0-9]+", "-", str(path).lower()).strip("-")[-40:].strip("-") or "docs"
    return f"{readable}-{hashlib.sha256(str(path).encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def run_eval(request: EvalRequest, progress: Progress | None = None) -> EvalReport:
    """Run one suite; see the module docstring."""
    if request.suite not in SUITES:
        raise ValueError(f"unknown suite {request.suite!r}; choose one of {', '.join(SUITES)}")
    cache = request.cache or data_dir() / "eval-cache"
    data = request.data
    if request.rescore and (request.suite == "squad2" or request.single_article):
        raise ValueError("--rescore measures retrieval: use it with pooled squad, hotpot or custom")
    if request.suite == "custom":
        return _custom(request, cache, progress)
    if request.suite == "hotpot":
        return _hotpot(data, cache, request, progress)
    documents, questions = squad_documents(data / "squad-v1.1-dev" if data else None)
    if request.suite == "squad2":
        return _squad2(documents, data, cache, request.sample)
    chosen = sample_questions(questions, request.sample) if request.sample else questions
    if request.single_article:
        indexes = article_indexes(documents, cache / "squad-articles")
        retriever = _ByArticle(indexes, chosen)
        answer_for: Callable[[EvalQuestion], Answer] = lambda q: indexes[q.title].answer(q.question)
        passages = sum(i.size[1] for i in indexes.values())
    else:
        index = cached_index(documents, cache, "squad-pooled")
        retriever = retriever_for(index, request.rescore)
        answer_for = lambda q: index.answer(q.question)
        passages = index.size[1]
    retrieval = evaluate_retrieval(retriever, chosen, progress=progress)
    answers = evaluate_answers(answer_for, chosen)
    return EvalReport(request.suite, len(documents), passages, retrieval, answers, rescored=request.rescore)


def _squad2(documents: list[Document], data: Path | None, cache: Path, sample: int) -> EvalReport:
    """Abstention as answered: the share of unanswerable and of answerable questions whose
    answer is "the documents don't say" (the reader's margin and the off-topic rule)."""
    indexes = article_indexes(documents, cache / "squad-articles")
    items = squad2_questions(documents, data / "squad2-dev-sample" if data else None)
    if sample:
        items = items[:sample]
    abstained = {True: [], False: []}
    answerable = [i.question for i in items if i.answerable]
    for item in items:
        answer = indexes[item.question.title].answer(item.question.question)
        abstained[item.answerable].append(answer.abstained)
    point = AbstentionPoint(
        threshold=float("nan"),
        unanswerable_abstained=sum(abstained[False]) / max(len(abstained[False]), 1),
        answerable_abstained=sum(abstained[True]) / max(len(abstained[True]), 1),
    )
    answers = evaluate_answers(lambda q: indexes[q.title].answer(q.question), answerable)
    passages = sum(i.size[1] for i in indexes.values())
    return EvalReport("squad2", len(documents), passages, None, answers, abstention=point)


def _hotpot(data: Path | None, cache: Path, request: EvalRequest, progress: Progress | None) -> EvalReport:
    documents, items = hotpot_corpus(data)
    if request.sample:
        items = items[:request.sample]
    index = cached_index(documents, cache, "hotpot")
    retriever = retriever_for(index, request.rescore)
    questions = [q for q, _ in items]
    retrieval = evaluate_retrieval(_AnyGold(retriever, items), questions, progress=progress)
    top5 = top10 = cite_both = with_hop = 0
    for question, gold in items:
        ranked = retriever.retrieve(question.question, k=10)
        top5 += set(gold) <= {p.doc_id for p in ranked[:5]}
        top10 += set(gold) <= {p.doc_id for p in ranked}
        answer = index.answer(question.question)
        cite_both += set(gold) <= {c.doc_id for c in answer.citations}
        with_hop += both_shown(gold, answer, ranked)
    n = len(items)
    answers = evaluate_answers(lambda q: index.answer(q.question), questions)
    report = MultiHopReport(top5 / n, top10 / n, cite_both / n, with_hop / n)
    return EvalReport(
        "hotpot", len(documents), index.size[1], retrieval, answers, multi_hop=report, rescored=request.rescore,
    )


def both_shown(gold: tuple[str, str], answer: Answer, ranked: Sequence[Passage]) -> bool:
    """Whether both gold documents are among the first 10 passages a reader is shown: the
    answer's (the top 5 and a second hop's), then the rest of the retrieval's `ranked`."""
    shown = {p.chunk_id: p.doc_id for p in [*answer.passages, *ranked]}
    return set(gold) <= set(list(shown.values())[:SHOWN_PASSAGES])


class _AnyGold:
    """Relabels a passage from either gold paragraph as the first gold doc, so recall@k counts
    a hit on either (HotpotQA has two gold paragraphs per question)."""

    def __init__(self, index: Retriever, items: Sequence[tuple[EvalQuestion, tuple[str, str]]]) -> None:
        self._index = index
        self._gold = {q.question: gold for q, gold in items}

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        from dataclasses import replace

        first, second = self._gold[question]
        return [
            replace(p, doc_id=first) if p.doc_id == second else p
            for p in self._index.retrieve(question, k)
        ]


def _custom(request: EvalRequest, cache: Path, progress: Progress | None) -> EvalReport:
    if request.questions_file is None or request.docs is None:
        raise ValueError("the custom suite needs --questions FILE.jsonl and --docs DIR")
    questions = load_questions_jsonl(request.questions_file)
    if request.sample:
        questions = sample_questions(questions, request.sample)
    path = cache / f"custom-{cache_folder_name(request.docs.resolve())}"
    try:
        index = Index.open(path)
        if index.stale_reason() or settings_outdated(index.settings):
            raise IndexProblem("stale")
    except IndexProblem:
        index = Index.build([request.docs], path, progress=True)
    known = {d.doc_id for d in index.documents()}
    unknown = sorted({q.doc_id for q in questions if q.doc_id is not None} - known)
    if unknown:
        raise ValueError(f"questions name doc_id(s) not in {request.docs}: {', '.join(unknown[:5])}")
    retrieval = evaluate_retrieval(retriever_for(index, request.rescore), questions, progress=progress)
    answers = evaluate_answers(lambda q: index.answer(q.question), questions)
    return EvalReport("custom", index.size[0], index.size[1], retrieval, answers, rescored=request.rescore)

