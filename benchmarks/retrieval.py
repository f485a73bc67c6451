"""Retrieval: how well qa ranks passages on SQuAD v1.1 dev, and how fast.

    python benchmarks/retrieval.py --torch-threads 1     # each signal alone, RRF, qa's default
    python benchmarks/retrieval.py --rescore --torch-threads 2   # + the optional mpnet second stage
    python benchmarks/retrieval.py --ann-recall          # the HNSW graph against exact search

Every one of the 2,067 SQuAD v1.1 dev paragraphs is one `Document`, pooled in one index
(`common.pooled_index`, cached under benchmarks/.cache/). The 2,000 questions are
`random.seed(0); random.sample(...)` over all (question, paragraph) pairs in file order, the
protocol of shared/FINDINGS.md. Each question is asked once with `Index.retrieve(q, k=20)`,
timed after one untimed warm-up call. A retrieved passage is a hit when it comes from the
question's paragraph (the first one counts): R@k, MRR@10, nDCG@10; strict R@5 asks that the
top-5 passage itself covers a gold answer_start. The fusion settings are chosen with
benchmarks/fusion.py. Tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

import common
from qa.eval.evaluation import (
    DEFAULT_SAMPLE,
    DEFAULT_SEED,
    EvalQuestion,
    RetrievalReport,
    percentile,
    sample_questions,
    squad_documents,
)
from qa.index.coordinator import Index
from qa.index.retrieval import FusionConfig

# The mpnet second stage: candidates re-scored, the weights of its rows (the first is the
# option's default, chosen by this table), and the questions timed with nothing cached.
RESCORE_CANDIDATES = 20
RESCORE_WEIGHTS = (0.3, 0.5, 0.7, 1.0)
COLD_QUESTIONS = 10
ANN_TOP = 10  # recall@10 of the graph against exact search


def only(dense: float, sentence: float = 0.0, method: str = "minmax") -> FusionConfig:
    """Fusion with exactly these weights and BM25 the rest: a row such as "BM25 only" must zero
    every other weight, whatever FusionConfig's tuned defaults are."""
    return FusionConfig(method=method, dense_weight=dense, sentence_weight=sentence)


def describe(config: FusionConfig) -> str:
    """"minmax (dense 0.15, sentence 0.45, BM25 0.4)"."""
    bm25 = 1 - config.dense_weight - config.sentence_weight
    return f"{config.method} (dense {config.dense_weight:g}, sentence {config.sentence_weight:g}, BM25 {bm25:g})"


def systems() -> list[tuple[str, FusionConfig]]:
    """Each signal alone, RRF with the default weights, and the default `FusionConfig()`."""
    rrf = replace(FusionConfig(), method="rrf")
    return [
        ("dense only (MiniLM, chunk)", only(1.0)),
        ("sentence only (MiniLM, best sentence)", only(0.0, 1.0)),
        ("BM25 only (stemmed, title in text)", only(0.0)),
        (f"hybrid, RRF k={rrf.rrf_k}: {describe(rrf)}", rrf),
        (f"hybrid, default: {describe(FusionConfig())}", FusionConfig()),
    ]


def system_rows(index: Index, questions: list[EvalQuestion]) -> list[tuple[str, RetrievalReport]]:
    """Each system's report; then the default again with questions through fp32 torch."""
    rows = [(name, common.evaluate(index, config, questions, name)) for name, config in systems()]
    embedder = index.embedder()
    if getattr(embedder, "query_backend", "torch") != "torch":
        with embedder.torch_questions():
            name = "hybrid, default, questions encoded by torch fp32"
            rows.append((name, common.evaluate(index, FusionConfig(), questions, name)))
    return rows


def run_default(cached: common.CachedIndex, questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """The systems table, then how the index was built and the conditions."""
    rows = system_rows(cached.index, questions)
    common.print_table(
        ("system", *common.QUALITY_HEADER, *common.LATENCY_HEADER),
        [(name, *common.quality_cells(r), *common.latency_cells(r)) for name, r in rows],
        f"SQuAD v1.1 dev: {len(questions):,} questions, {cached.record.documents:,} paragraphs",
    )
    print(f"\n{common.build_line(cached)}\n{common.conditions_line(args.torch_threads, cached.index)}")


def run_rescore(cached: common.CachedIndex, questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """The optional mpnet second stage over the default hybrid, by weight.

    One `Rescorer` serves every row, so each text is embedded by mpnet once (its vector cache):
    the rows' latency is warm. The cold cost, every candidate embedded anew, is timed apart.
    """
    from qa.answering.rescoring import RescoreConfig, RescoredRetriever, Rescorer, mpnet_folder
    from qa.eval.evaluation import evaluate_retrieval

    index = cached.index
    rescorer = Rescorer(mpnet_folder())
    rows = [("first stage only (default hybrid)", common.evaluate(index, FusionConfig(), questions, "first stage"))]
    for weight in RESCORE_WEIGHTS:
        rescorer.config = RescoreConfig(candidates=RESCORE_CANDIDATES, weight=weight)
        name = f"+ mpnet, top {RESCORE_CANDIDATES}, weight {weight:g}"
        rows.append((name, evaluate_retrieval(RescoredRetriever(index, rescorer), questions, progress=common.progress_printer(name))))
    cold = []
    rescorer.config = RescoreConfig()
    for question in questions[:COLD_QUESTIONS]:
        rescorer.forget()
        started = time.perf_counter()
        RescoredRetriever(index, rescorer).retrieve(question.question, k=10)
        cold.append((time.perf_counter() - started) * 1000)
    common.print_table(
        ("system", *common.QUALITY_HEADER, *common.LATENCY_HEADER),
        [(name, *common.quality_cells(r), *common.latency_cells(r)) for name, r in rows],
        f"Second stage: mpnet re-scoring ({len(questions):,} questions)",
    )
    print(
        f"\nCold (no cached mpnet vectors), default {RescoreConfig()}: p50 {percentile(cold, 50):.0f} ms, "
        f"p95 {percentile(cold, 95):.0f} ms over {len(cold)} questions"
    )
    print(common.conditions_line(args.torch_threads, index))


def run_ann_recall(cached: common.CachedIndex, questions: list[EvalQuestion]) -> None:
    """qa's HNSW settings on real MiniLM vectors (every chunk and sentence vector of the pooled
    index), against exact search: recall@10, and how much of the exact top 10 lies inside the
    `FusionConfig.candidates` rows search takes. benchmarks/scale.py measures the same on
    random vectors, the worst case for a graph (no neighbourhoods to follow)."""
    from qa.index import ann

    parts = []
    for segment in cached.index.view().segments:
        parts += [np.asarray(segment.chunk_vectors, np.float32), np.asarray(segment.sentence_vectors, np.float32)]
    vectors = np.concatenate(parts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = cached.index.embedder().encode_queries([q.question for q in questions])
    depth = FusionConfig().candidates
    exact = ann.ExactSearch(vectors)
    with tempfile.TemporaryDirectory() as folder:
        ann.ANN_MIN_CHUNKS = 0  # build the graph whatever the size
        ann.build_graph(vectors, Path(folder))
        graph = ann.open_search(Path(folder), vectors)
    in_top, in_depth = [], []
    for query in queries:
        truth = set(exact.top(query, ANN_TOP)[1].tolist())
        in_top.append(len(truth & set(graph.top(query, ANN_TOP)[1].tolist())) / ANN_TOP)
        in_depth.append(len(truth & set(graph.top(query, depth)[1].tolist())) / ANN_TOP)
    print(f"\ngraph: M={ann.HNSW_NEIGHBOURS}, efConstruction={ann.HNSW_BUILD_DEPTH}, efSearch={ann.HNSW_SEARCH_DEPTH}, 8-bit codes, exact re-scoring")
    common.print_table(
        ("measure", "value"),
        [(f"recall@{ANN_TOP} (graph top {ANN_TOP} vs exact top {ANN_TOP})", f"{np.mean(in_top):.3f}"),
         (f"exact top {ANN_TOP} inside the graph's top {depth}", f"{np.mean(in_depth):.3f}")],
        f"HNSW on {len(vectors):,} real MiniLM vectors (SQuAD chunks + sentences), {len(queries):,} questions",
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--rescore", action="store_true", help="the optional mpnet second stage (~25 min)")
    mode.add_argument("--ann-recall", action="store_true", help="HNSW recall on the index's real vectors")
    common.add_pooled_squad_arguments(parser, DEFAULT_SAMPLE, DEFAULT_SEED)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    args = parse_args(argv)
    common.use_torch_threads(args.torch_threads)
    documents, all_questions = squad_documents(args.data)
    questions = sample_questions(all_questions, args.sample, args.seed)
    cached = common.pooled_index(documents, method=args.sentence_vectors, cache=args.cache, rebuild=args.rebuild)
    print(common.machine_line())
    if args.rescore:
        run_rescore(cached, questions, args)
    elif args.ann_recall:
        run_ann_recall(cached, questions)
    else:
        run_default(cached, questions, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
