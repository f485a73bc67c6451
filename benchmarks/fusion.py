"""Fusion settings: which signals qa fuses, with which weights and over how many candidates.

    python benchmarks/fusion.py --grid weights [--max-chars 600 1000 1500] [--weights 0.3 0.5 0.7] [--sentence-weight W]
    python benchmarks/fusion.py --grid rrf [--rrf-k 1 5 10 20 40 60 100]   # the RRF constant, min-max last
    python benchmarks/fusion.py --grid depth --torch-threads 1       # candidates per signal (with latency)
    python benchmarks/fusion.py --grid document                      # FusionConfig.document_weight
    python benchmarks/fusion.py --grid hotpot                        # the weights on HotpotQA's paraphrases
    python benchmarks/fusion.py --grid signals                       # every signal alone and mixed, offline

benchmarks/retrieval.py measures the settings qa ships; this is how they were chosen. SQuAD
v1.1 dev pooled (the cached index of `common.pooled_index`) and the same 2,000 questions
(seed 0). Fusion settings change the ranking, not a question's vector, so each question is
encoded once for a whole grid (`common.questions_encoded_once`) and the grids report quality
only, except `depth`, which times every question. One standard error of R@1 at 2,000 questions
is ~0.9 points: differences under a point are noise.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

import common
from qa.eval.evaluation import (
    DEFAULT_SAMPLE,
    DEFAULT_SEED,
    EvalQuestion,
    first_match_rank,
    holds_answer,
    is_relevant,
    metrics_from_ranks,
    sample_questions,
    squad_article_documents,
    squad_documents,
)
from qa.index.coordinator import Index
from qa.index.lexical import BM25Config, LexicalIndex, query_terms
from qa.index.retrieval import FusionConfig, Passage
from qa.text.chunking import Chunk, ChunkingConfig, Sentence

GRIDS = ("weights", "rrf", "depth", "document", "hotpot", "signals")
SWEEP_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
SWEEP_MAX_CHARS = (600, 1000, 1500)
RRF_KS = (1, 5, 10, 20, 40, 60, 100)
DEPTHS = (25, 50, 100, 200, 400)
DOCUMENT_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
HOTPOT_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5)
DOCUMENT_DEPTH = 10  # passages read per question by the document grid
SHORT_HEADER = ("R@1", "R@5", "MRR@10")
HOTPOT_DEPTH = 20  # hotpot: passages read per question (ranks over their distinct paragraphs)
# signals: BM25 (k1, b) variants; min-max mixes of chunk x sentence x sentence-BM25 weights (title
# BM25 gets the rest), the best TOP_MIXES printed; ranks read off each question's top RANK_DEPTH.
BM25_VARIANTS = ((1.2, 0.75), (0.9, 0.4), (1.5, 0.75), (2.0, 0.75))
MIX_GRID = ((0.2, 0.3, 0.4), (0.0, 0.2, 0.3, 0.4), (0.0, 0.1))
TOP_MIXES = 12
RANK_DEPTH = 60


# --- grids over the pooled SQuAD index ---------------------------------------------------------


def grid_weights(documents: list, questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """min-max dense_weight x chunk max_chars, the sentence weight held at `--sentence-weight`."""
    builds = [
        common.pooled_index(documents, ChunkingConfig(max_chars=m), args.sentence_vectors, args.cache, args.rebuild)
        for m in args.max_chars
    ]
    rows = []
    for cached in builds:
        with common.questions_encoded_once(cached.index.embedder()):
            for weight in args.weights:
                if weight + args.sentence_weight > 1.0 + 1e-9:
                    continue
                config = FusionConfig(dense_weight=weight, sentence_weight=args.sentence_weight)
                report = common.evaluate(cached.index, config, questions, f"max_chars={cached.record.max_chars} w={weight}")
                rows.append((cached.record.max_chars, f"{cached.record.passages:,}", f"{weight:g}", *common.quality_cells(report)))
    common.print_table(
        ("max_chars", "passages", "dense_weight", *common.QUALITY_HEADER), rows,
        f"min-max dense_weight x chunk max_chars, sentence_weight {args.sentence_weight:g} ({len(questions):,} questions)",
    )
    for column, label in ((3, "R@1"), (4, "R@5"), (6, "MRR@10")):
        best = max(rows, key=lambda row: float(row[column]))
        print(f"- best {label}: {best[column]} at max_chars={best[0]}, dense_weight={best[2]}")
    for cached in builds:
        print(f"- {common.build_line(cached)}")


def grid_rrf(cached: common.CachedIndex, questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """Reciprocal rank fusion with each constant k at the default weights; min-max last."""
    configs = [(f"RRF k={k}", replace(FusionConfig(), method="rrf", rrf_k=k)) for k in args.rrf_k]
    configs.append(("min-max (default)", FusionConfig()))
    with common.questions_encoded_once(cached.index.embedder()):
        rows = [(name, *common.quality_cells(common.evaluate(cached.index, c, questions, name))) for name, c in configs]
    common.print_table(("fusion", *common.QUALITY_HEADER), rows, f"RRF constant, default weights ({len(questions):,} questions)")


def grid_depth(cached: common.CachedIndex, questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """Candidates per signal: fusion and min-max scaling run over the union of each signal's
    top N; "all" makes every chunk a candidate (min-max over the corpus, as before segments)."""
    total = cached.index.size[1]
    rows = []
    for depth in [*args.depths, total]:
        label = "all" if depth == total else str(depth)
        report = common.evaluate(cached.index, replace(FusionConfig(), candidates=depth), questions, f"candidates {label}")
        rows.append((label, *common.quality_cells(report), *common.latency_cells(report)))
    common.print_table(
        ("candidates per signal", *common.QUALITY_HEADER, *common.LATENCY_HEADER), rows,
        f"Candidate depth, default weights ({len(questions):,} questions, {total:,} passages)",
    )
    print(f"\n{common.conditions_line(args.torch_threads, cached.index)}")


def grid_document(cached: common.CachedIndex, args: argparse.Namespace) -> None:
    """`FusionConfig.document_weight` moves a candidate's fused score that share of the way to
    the best among its document's candidates. Pooled by article (48 documents of ~43 paragraphs;
    a hit must cover the answer, finding the article is not enough) and by paragraph."""
    articles, article_questions = squad_article_documents(args.data)
    by_article = common.pooled_index(articles, method=args.sentence_vectors, cache=args.cache / "document-signal-articles",
                                     rebuild=args.rebuild).index
    _, paragraph_questions = squad_documents(args.data)
    corpora = [
        ("by article (48 documents), passage covers the answer", by_article, article_questions, holds_answer),
        ("by paragraph (2,067 documents), passage from the gold paragraph", cached.index, paragraph_questions, is_relevant),
    ]
    rows = []
    for name, index, questions, relevant in corpora:
        chosen = sample_questions(questions, args.sample, args.seed)
        with common.questions_encoded_once(index.embedder()):
            for weight in args.document_weights:
                rows.append((name, f"{weight:g}", *document_cells(index, chosen, weight, relevant)))
    common.print_table(("pooled", "document_weight", *SHORT_HEADER), rows,
                       f"Document signal: SQuAD v1.1 dev, {args.sample:,} questions, default fusion otherwise")


def document_cells(
    index: Index, questions: list[EvalQuestion], weight: float, relevant: Callable[[Passage, EvalQuestion], bool]
) -> list[str]:
    """R@1, R@5 and MRR@10 at one document weight."""
    index.fusion = replace(FusionConfig(), document_weight=weight)
    ranks = [first_match_rank(index.retrieve(q.question, k=DOCUMENT_DEPTH), lambda p: relevant(p, q)) for q in questions]
    metrics = metrics_from_ranks(ranks, (1, 5))
    return [f"{v:.3f}" for v in (metrics.recall_at(1), metrics.recall_at(5), metrics.mrr_at_10)]


# --- HotpotQA ------------------------------------------------------------------------------------


def grid_hotpot(args: argparse.Namespace) -> None:
    """SQuAD's questions share words with their paragraph, which rewards BM25; HotpotQA's
    multi-hop questions paraphrase. Min-max weights and RRF on the HotpotQA sample (994 pooled
    paragraphs): either-gold R@1 and MRR@10, both gold paragraphs in the top 5 and top 10."""
    from qa.eval.eval_runs import cached_index, hotpot_corpus

    documents, items = hotpot_corpus()
    index = cached_index(documents, args.cache, "hotpot")
    configs = [
        (f"min-max chunk {c} + sentence {s} + BM25 {1 - c - s:.1f}", FusionConfig(dense_weight=c, sentence_weight=s))
        for c, s in itertools.product(HOTPOT_WEIGHTS, HOTPOT_WEIGHTS)
        if c + s <= 1.0
    ]
    configs.append(("RRF k=60, default weights", replace(FusionConfig(), method="rrf")))
    configs.append(("RRF k=1, default weights", replace(FusionConfig(), method="rrf", rrf_k=1)))
    rows = []
    with common.questions_encoded_once(index.embedder()):
        for name, config in configs:
            index.fusion = config
            rows.append((name + (" (default)" if config == FusionConfig() else ""), *hotpot_measures(index, items)))
    rows.sort(key=lambda row: -(row[3] + row[4]))
    common.print_table(
        ("fusion", "R@1 (either gold)", "MRR@10", "both in top 5", "both in top 10"),
        [(name, *(f"{v:.3f}" for v in values)) for name, *values in rows],
        f"HotpotQA sample: {len(items)} questions, {index.size[0]} paragraphs pooled",
    )


def hotpot_measures(index: Index, items: list) -> tuple[float, float, float, float]:
    """Either-gold R@1 and MRR@10, both gold in the top 5 and in the top 10 (distinct paragraphs
    of the top 20)."""
    first = reciprocal = top5 = top10 = 0.0
    for question, gold in items:
        ranked = list(dict.fromkeys(p.doc_id for p in index.retrieve(question.question, k=HOTPOT_DEPTH)))
        rank = next((i for i, doc in enumerate(ranked[:10], 1) if doc in gold), None)
        first += rank == 1
        reciprocal += 1.0 / rank if rank else 0.0
        top5 += set(gold) <= set(ranked[:5])
        top10 += set(gold) <= set(ranked[:10])
    n = len(items)
    return first / n, reciprocal / n, top5 / n, top10 / n


# --- every signal, offline -----------------------------------------------------------------------


class Pooled:
    """Every live chunk and sentence of an index, with their vectors, as whole arrays.

    Offline analysis scores every chunk for every question; the index itself never does.
    `members`/`starts` list each chunk's sentence rows one chunk after another, so one
    `maximum.reduceat` gives every chunk's best sentence.
    """

    def __init__(self, index: Index) -> None:
        view = index.view()
        self.chunks: list[Chunk] = []
        self.sentences: list[Sentence] = []
        self.titles: dict[str, str] = {}
        chunk_vectors, sentence_vectors, members, starts = [], [], [], []
        for position, segment in enumerate(view.segments):
            base = len(self.sentences)
            for row, record in enumerate(segment.documents):
                self.titles[record.doc_id] = record.title
                text = segment.text(row)
                rows = segment.sentences[record.first_sentence : record.first_sentence + record.sentences]
                for _, p, start, end in np.asarray(rows).tolist():
                    self.sentences.append(Sentence(record.doc_id, p, start, end, text[start:end]))
            for row in np.flatnonzero(view.live_chunks[position]):
                doc_row, p, start, end, first, last = (int(v) for v in segment.chunks[row])
                record = segment.documents[doc_row]
                text = segment.text(doc_row)[start:end]
                self.chunks.append(Chunk(view.chunk_id(position, int(row)), record.doc_id, p, start, end, text, first, last))
                starts.append(len(members))
                members.extend(range(base + first, base + last + 1))
                chunk_vectors.append(segment.chunk_vectors[row])
            sentence_vectors.append(np.asarray(segment.sentence_vectors, dtype=np.float32))
        self.chunk_vectors = np.stack(chunk_vectors)
        self.sentence_vectors = np.concatenate(sentence_vectors)
        self.members, self.starts = np.asarray(members), np.asarray(starts)

    def best_per_chunk(self, per_sentence: np.ndarray) -> np.ndarray:
        """(questions, sentences) scores -> (questions, chunks): each chunk's best sentence."""
        return np.maximum.reduceat(per_sentence[:, self.members], self.starts, axis=1)


def bm25_matrix(texts: list[str], questions: list[str], config: BM25Config) -> np.ndarray:
    """BM25 of every text for every question, (questions, texts)."""
    bm25 = LexicalIndex.build(texts, config)
    rows = []
    for question in questions:
        terms = query_terms(question, config)
        rows.append(bm25.scores(terms, bm25.idf(terms)))
    return np.stack(rows)


def minmax_rows(x: np.ndarray) -> np.ndarray:
    """Each row scaled to [0, 1], as fusion scales each signal."""
    low, high = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return (x - low) / np.maximum(high - low, 1e-9)


def signal_metrics(scores: np.ndarray, gold: list[str], chunk_doc: np.ndarray) -> list[str]:
    """R@1, R@5, MRR@10 over distinct documents, three decimals."""
    ranks = []
    for row, target in zip(np.argsort(-scores, axis=1)[:, :RANK_DEPTH], gold):
        distinct = list(dict.fromkeys(chunk_doc[row]))
        ranks.append(distinct.index(target) + 1 if target in distinct else 999)
    r = np.array(ranks)
    return [f"{v:.3f}" for v in ((r == 1).mean(), (r <= 5).mean(), np.where(r <= 10, 1.0 / r, 0).mean())]


def grid_signals(cached: common.CachedIndex, questions: list[EvalQuestion]) -> None:
    """Chunk cosine, best-sentence cosine, BM25 at several k1/b, BM25 with the title, best-
    sentence BM25: alone, then min-max mixes, then two variants of the default mix (titles
    embedded with chunks; questions normalised). How qa's three signals were chosen."""
    pooled = Pooled(cached.index)
    texts = [q.question for q in questions]
    embedder = cached.index.embedder()
    query = embedder.encode(texts, batch_size=64)
    chunk_texts = [c.text for c in pooled.chunks]
    titled = [f"{pooled.titles[c.doc_id]}\n{c.text}" for c in pooled.chunks]
    signals = {"chunk cosine": query @ pooled.chunk_vectors.T,
               "best-sentence cosine": pooled.best_per_chunk(query @ pooled.sentence_vectors.T)}
    for k1, b in BM25_VARIANTS:
        signals[f"BM25 k1={k1} b={b}"] = bm25_matrix(chunk_texts, texts, BM25Config(k1=k1, b=b, titles=False))
    signals["BM25 title+text"] = bm25_matrix(titled, texts, BM25Config())
    sentence_bm25 = bm25_matrix([s.text for s in pooled.sentences], texts, BM25Config(titles=False))
    signals["best-sentence BM25"] = pooled.best_per_chunk(sentence_bm25)
    scaled = {name: minmax_rows(x) for name, x in signals.items()}
    gold, chunk_doc = [q.doc_id for q in questions], np.array([c.doc_id for c in pooled.chunks])
    rows = [(name, *signal_metrics(x, gold, chunk_doc)) for name, x in scaled.items()]
    mixes = []
    for chunk_w, sentence_w, sbm25_w in itertools.product(*MIX_GRID):
        lexical_w = 1 - chunk_w - sentence_w - sbm25_w
        mix = (chunk_w * scaled["chunk cosine"] + sentence_w * scaled["best-sentence cosine"]
               + sbm25_w * scaled["best-sentence BM25"] + lexical_w * scaled["BM25 title+text"])
        name = f"chunk {chunk_w} + sentence {sentence_w} + sentence-BM25 {sbm25_w} + title BM25 {lexical_w:.1f}"
        mixes.append((name, *signal_metrics(mix, gold, chunk_doc)))
    rows += sorted(mixes, key=lambda m: -(float(m[1]) + float(m[3])))[:TOP_MIXES]
    common.print_table(("signal or mix (min-max)", *SHORT_HEADER), rows)

    def default_mix(chunk: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        return 0.3 * minmax_rows(chunk) + 0.3 * minmax_rows(sentence) + 0.4 * scaled["BM25 title+text"]

    titled_vectors = embedder.encode(titled, batch_size=32)
    normalised = embedder.encode([normalise(t) for t in texts], batch_size=64)
    variants = {
        "default mix": default_mix(signals["chunk cosine"], signals["best-sentence cosine"]),
        "title prepended to chunks for embedding": default_mix(query @ titled_vectors.T, signals["best-sentence cosine"]),
        "questions normalised before embedding": default_mix(
            normalised @ pooled.chunk_vectors.T, pooled.best_per_chunk(normalised @ pooled.sentence_vectors.T)),
        "chunk cosine alone, title prepended": query @ titled_vectors.T,
    }
    common.print_table(("default mix variant", *SHORT_HEADER), [(n, *signal_metrics(x, gold, chunk_doc)) for n, x in variants.items()])


def normalise(question: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s]", " ", question.lower()).split())


# --- the command ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=GRIDS, required=True, help="which setting to vary")
    common.add_pooled_squad_arguments(parser, DEFAULT_SAMPLE, DEFAULT_SEED)
    grid = parser.add_argument_group("grid values")
    grid.add_argument("--weights", type=float, nargs="+", default=SWEEP_WEIGHTS, help="weights: dense weights")
    grid.add_argument("--max-chars", type=int, nargs="+", default=SWEEP_MAX_CHARS, help="weights: chunk sizes")
    grid.add_argument("--sentence-weight", type=float, default=0.0, help="weights: the sentence weight held fixed")
    grid.add_argument("--rrf-k", type=int, nargs="+", default=RRF_KS, help="rrf: constants")
    grid.add_argument("--depths", type=int, nargs="+", default=DEPTHS, help="depth: candidates per signal")
    grid.add_argument("--document-weights", type=float, nargs="+", default=DOCUMENT_WEIGHTS, help="document: weights")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    args = parse_args(argv)
    common.use_torch_threads(args.torch_threads)
    print(common.machine_line())
    if args.grid == "hotpot":
        grid_hotpot(args)
        return 0
    documents, all_questions = squad_documents(args.data)
    questions = sample_questions(all_questions, args.sample, args.seed)
    if args.grid == "weights":
        grid_weights(documents, questions, args)
        return 0
    cached = common.pooled_index(documents, method=args.sentence_vectors, cache=args.cache, rebuild=args.rebuild)
    if args.grid == "rrf":
        grid_rrf(cached, questions, args)
    elif args.grid == "depth":
        grid_depth(cached, questions, args)
    elif args.grid == "document":
        grid_document(cached, args)
    else:
        grid_signals(cached, questions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
