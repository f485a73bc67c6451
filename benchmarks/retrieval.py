"""Retrieval benchmark: qa.Index on SQuAD v1.1 dev (2,067 paragraphs, one document each).

    python benchmarks/retrieval.py                 # dense, BM25, RRF and min-max hybrid
    python benchmarks/retrieval.py --sweep         # dense_weight x chunk max_chars
    python benchmarks/retrieval.py --rrf-sweep     # the RRF constant k, min-max for comparison
    python benchmarks/retrieval.py --rescore       # the optional mpnet second stage (qa.answering.rescoring)
    python benchmarks/retrieval.py --depth-sweep   # candidates per signal (fusion over their union)
    python benchmarks/retrieval.py --sentence-vectors sentence-pass|late|separate   # how vectors are made

Prints Markdown tables (stdout; progress goes to stderr). Questions are the 2,000 drawn by
`qa.eval.evaluation.sample_questions` (random.seed(0)), the protocol of shared/FINDINGS.md, so the
numbers compare with the ones measured there.

Why a cache: embedding 2,067 paragraphs plus ~10k sentences takes minutes on 2 cores, and
fusion settings need no rebuild (they are applied per query through `Index.fusion`). Each
chunking gets its own index under --cache, with a small `<name>.build.json` beside it that
records how long the build took, so indexing throughput can be reported on a reused index.
A cached index is rebuilt when it does not open, or when the corpus, model or chunking differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Sequence

import numpy as np

import qa
import qa.index.coordinator as qa_index
from qa.text.chunking import ChunkingConfig
from qa.loading.documents import Document
from qa.models.embedding import load_embedder
from qa.models.packaged import DEFAULT_MODEL, MODELS
from qa.errors import ModelUnavailable
from qa.index.lexical import BM25Config
from qa.eval.evaluation import (
    DEFAULT_SAMPLE,
    DEFAULT_SEED,
    EvalQuestion,
    RetrievalReport,
    default_data_dir,
    evaluate_retrieval,
    percentile,
    sample_questions,
    squad_documents,
)
from qa.index.retrieval import FusionConfig
from qa.errors import IndexProblem
from qa.index.settings import VECTOR_METHODS

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
SWEEP_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
SWEEP_MAX_CHARS = (600, 1000, 1500)


@dataclass(frozen=True)
class BuildRecord:
    """What a cached index was built from and how long the build took (the .build.json)."""

    corpus_hash: str
    model_id: str
    max_chars: int
    overlap_sentences: int
    min_paragraph_chars: int
    documents: int
    passages: int
    sentences: int
    build_seconds: float
    built_at: str
    # 1-minute load average when the build ended: on a shared 2-core machine a load well
    # above 2 means the build time (and throughput) includes waiting for other processes.
    load_average: float = -1.0
    # repr of every setting the build used (chunking, BM25, titles): a changed library
    # default changes it, so a stale cache is rebuilt instead of silently measured.
    config: str = ""

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.build_seconds

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.build_seconds

    def matches(self, corpus_hash: str, model_id: str, chunking: ChunkingConfig) -> bool:
        return (
            self.corpus_hash == corpus_hash
            and self.model_id == model_id
            and self.config == build_config(chunking)
        )


def build_config(chunking: ChunkingConfig) -> str:
    """The settings `Index.from_documents` uses besides the model, as one comparable string."""
    return repr((chunking, BM25Config(), "embed_titles=False", f"sentence_vectors={qa_index.SENTENCE_VECTORS}"))


@dataclass(frozen=True)
class CachedIndex:
    index: qa.Index
    record: BuildRecord
    reused: bool


@dataclass(frozen=True)
class System:
    """A named fusion setting to evaluate on an open index."""

    name: str
    fusion: FusionConfig


HAS_SENTENCE_SIGNAL = "sentence_weight" in {f.name for f in fields(FusionConfig)}


def fusion(dense: float, sentence: float = 0.0, method: str = "minmax") -> FusionConfig:
    """A FusionConfig with exactly these weights; BM25 gets the rest.

    Why a helper: FusionConfig's defaults are tuned (and may gain signals); a benchmark row
    such as "BM25 only" must zero every other weight explicitly. `sentence` is passed only
    where this qa has the best-sentence signal.
    """
    if not HAS_SENTENCE_SIGNAL:
        if sentence:
            raise ValueError("this qa has no sentence signal")
        return FusionConfig(method=method, dense_weight=dense)
    return FusionConfig(method=method, dense_weight=dense, sentence_weight=sentence)


def describe(config: FusionConfig) -> str:
    weights = f"dense {config.dense_weight:g}"
    if HAS_SENTENCE_SIGNAL:
        weights += f", sentence {getattr(config, 'sentence_weight'):g}"
    return f"{config.method} ({weights}, BM25 {1 - config.dense_weight - getattr(config, 'sentence_weight', 0.0):g})"


def default_systems() -> list[System]:
    """Each signal alone, RRF with the default weights, and the default `FusionConfig()`."""
    systems = [System("dense only (MiniLM, chunk)", fusion(1.0))]
    if HAS_SENTENCE_SIGNAL:
        systems.append(System("sentence only (MiniLM, best sentence)", fusion(0.0, 1.0)))
    systems.append(System("BM25 only (stemmed)", fusion(0.0)))
    systems.append(System(f"hybrid, RRF k=60: {describe(replace(FusionConfig(), method='rrf'))}", replace(FusionConfig(), method="rrf")))
    systems.append(System(f"hybrid, default: {describe(FusionConfig())}", FusionConfig()))
    return systems


def corpus_hash(documents: Sequence[Document]) -> str:
    """One hash of every doc id and content hash, to notice a different corpus."""
    digest = hashlib.sha256()
    for d in documents:
        digest.update(f"{d.doc_id}\0{d.content_hash}\n".encode("utf-8"))
    return digest.hexdigest()


def cache_name(chunking: ChunkingConfig) -> str:
    return (
        f"squad-dev-c{chunking.max_chars}-o{chunking.overlap_sentences}"
        f"-m{chunking.min_paragraph_chars}-{qa_index.SENTENCE_VECTORS}"
    )


def read_record(path: Path) -> BuildRecord | None:
    try:
        return BuildRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def try_reuse(folder: Path, record: BuildRecord, expected: str, chunking: ChunkingConfig) -> qa.Index | None:
    """The cached index when it opens and was built from this corpus, model and chunking."""
    if not record.matches(expected, MODELS[DEFAULT_MODEL].model_id, chunking):
        return None
    try:
        index = qa.Index.open(folder, model=DEFAULT_MODEL)
    except (IndexProblem, ModelUnavailable) as problem:
        log(f"cached index not reusable: {problem}")
        return None
    if index.settings.chunking != chunking or index.size != (record.documents, record.passages):
        return None
    return index


def cached_index(
    documents: Sequence[Document], cache: Path, chunking: ChunkingConfig, rebuild: bool
) -> CachedIndex:
    """Open the cached index for `chunking`, or build it (timed) and record the build."""
    folder = cache / cache_name(chunking)
    record_path = cache / f"{cache_name(chunking)}.build.json"
    expected = corpus_hash(documents)
    previous = None if rebuild else read_record(record_path)
    if previous is not None:
        index = try_reuse(folder, previous, expected, chunking)
        if index is not None:
            log(f"reusing {folder}")
            return CachedIndex(index, previous, reused=True)
    embedder = load_embedder(DEFAULT_MODEL)  # loaded before timing: throughput, not start-up
    log(f"building {folder} (max_chars={chunking.max_chars}) ...")
    started = time.perf_counter()
    index = qa.Index.from_documents(documents, folder, chunking=chunking, progress=True)
    seconds = time.perf_counter() - started
    n_docs, n_chunks = index.size
    record = BuildRecord(
        corpus_hash=expected,
        model_id=embedder.model_id,
        max_chars=chunking.max_chars,
        overlap_sentences=chunking.overlap_sentences,
        min_paragraph_chars=chunking.min_paragraph_chars,
        documents=n_docs,
        passages=n_chunks,
        sentences=sum(e.sentences for e in index.documents()),
        build_seconds=round(seconds, 2),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
        load_average=round(os.getloadavg()[0], 2),
        config=build_config(chunking),
    )
    record_path.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    return CachedIndex(index, record, reused=False)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progress_printer(label: str):
    def show(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            log(f"  {label}: {done}/{total}")

    return show


def evaluate(index: qa.Index, config: FusionConfig, questions: list[EvalQuestion], label: str) -> RetrievalReport:
    index.fusion = config
    return evaluate_retrieval(index, questions, progress=progress_printer(label))


class QueryVectorMemo:
    """While active, the shared embedder returns a remembered vector for a text it has seen.

    Why: the sweep asks the same questions once per (chunking, weight) pair, and neither
    changes a question's vector; encoding each question once makes the sweep ~15x cheaper on
    2 cores. The price is that sweep timings are not query latencies, so the sweep reports no
    latency (the default mode measures it with nothing cached).
    """

    def __init__(self) -> None:
        self._embedder = load_embedder(DEFAULT_MODEL)
        self._original = self._embedder.encode
        self._vectors: dict[tuple[str, ...], np.ndarray] = {}

    def _encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        key = tuple(texts)
        if key not in self._vectors:
            self._vectors[key] = self._original(texts, batch_size=batch_size, progress=progress)
        return self._vectors[key].copy()

    def __enter__(self) -> "QueryVectorMemo":
        self._embedder.encode = self._encode  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self._embedder.encode  # the instance attribute; the class method shows again


# --- tables ------------------------------------------------------------------------------

QUALITY_HEADER = "| R@1 | R@5 | R@20 | MRR@10 | nDCG@10 | strict R@5 |"
QUALITY_RULE = "|---|---|---|---|---|---|"
METRIC_HEADER = QUALITY_HEADER + " p50 ms | p95 ms |"
METRIC_RULE = QUALITY_RULE + "---|---|"


def quality_cells(report: RetrievalReport) -> str:
    m = report.metrics
    return (
        f"| {m.recall_at(1):.3f} | {m.recall_at(5):.3f} | {m.recall_at(20):.3f} "
        f"| {m.mrr_at_10:.3f} | {m.ndcg_at_10:.3f} | {report.strict_recall_at_5:.3f} |"
    )


def metric_cells(report: RetrievalReport) -> str:
    return f"{quality_cells(report)} {report.latency.p50_ms:.1f} | {report.latency.p95_ms:.1f} |"


def build_line(cached: CachedIndex) -> str:
    r = cached.record
    how = f"recorded build of {r.built_at}" if cached.reused else "built now"
    return (
        f"Indexing ({how}, max_chars={r.max_chars}): {r.documents:,} documents -> "
        f"{r.passages:,} passages + {r.sentences:,} sentences embedded in {r.build_seconds:.1f} s "
        f"= {r.passages_per_second:.1f} passages/s ({r.documents_per_second:.1f} documents/s), "
        f"load average {r.load_average:.1f} on {os.cpu_count()} cores"
    )


def conditions_line(args: argparse.Namespace) -> str:
    threads = args.torch_threads or "torch default"
    questions = load_embedder(DEFAULT_MODEL).query_backend
    return f"questions encoded by {questions}; torch threads: {threads}; 1-minute load average after the queries: {os.getloadavg()[0]:.1f}"


def run_default(documents: list[Document], questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    cached = cached_index(documents, args.cache, ChunkingConfig(), args.rebuild)
    rows = [(s.name, evaluate(cached.index, s.fusion, questions, s.name)) for s in default_systems()]
    embedder = load_embedder(DEFAULT_MODEL)
    if embedder.query_backend != "torch":  # the same default, questions through fp32 torch
        with embedder.torch_questions():
            name = "hybrid, default, questions encoded by torch fp32"
            rows.append((name, evaluate(cached.index, FusionConfig(), questions, name)))
    print(f"\n### SQuAD v1.1 dev: {len(questions):,} questions, {cached.record.documents:,} paragraphs\n")
    print(f"| system {METRIC_HEADER}")
    print(f"|---{METRIC_RULE}")
    for name, report in rows:
        print(f"| {name} {metric_cells(report)}")
    print(f"\n{build_line(cached)}")
    print(conditions_line(args))


def run_sweep(documents: list[Document], questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    builds = [
        cached_index(documents, args.cache, ChunkingConfig(max_chars=m), args.rebuild) for m in args.max_chars
    ]
    results: list[tuple[int, float, RetrievalReport]] = []
    with QueryVectorMemo():
        for cached in builds:
            for weight in args.weights:
                if weight + args.sentence_weight > 1.0 + 1e-9:
                    continue
                config = fusion(weight, args.sentence_weight)
                label = f"max_chars={cached.record.max_chars} w={weight}"
                results.append((cached.record.max_chars, weight, evaluate(cached.index, config, questions, label)))
    fixed = f", sentence_weight {args.sentence_weight:g}" if HAS_SENTENCE_SIGNAL else ""
    print(f"\n### Sweep: min-max dense_weight x chunk max_chars{fixed} ({len(questions):,} questions)\n")
    print(f"| max_chars | passages | dense_weight {QUALITY_HEADER}")
    print(f"|---|---|---{QUALITY_RULE}")
    passages = {c.record.max_chars: c.record.passages for c in builds}
    for max_chars, weight, report in results:
        print(f"| {max_chars} | {passages[max_chars]:,} | {weight:g} {quality_cells(report)}")
    print()
    for label, key in (
        ("R@1", lambda r: r.metrics.recall_at(1)),
        ("R@5", lambda r: r.metrics.recall_at(5)),
        ("MRR@10", lambda r: r.metrics.mrr_at_10),
    ):
        max_chars, weight, best = max(results, key=lambda item: key(item[2]))
        print(f"- best {label}: {key(best):.3f} at max_chars={max_chars}, dense_weight={weight:g}")
    print()
    for cached in builds:
        print(f"- {build_line(cached)}")
    print(f"- {conditions_line(args)}")


def run_rrf_sweep(documents: list[Document], questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """Reciprocal rank fusion with several constants k, default weights; min-max last."""
    cached = cached_index(documents, args.cache, ChunkingConfig(), args.rebuild)
    rows = []
    with QueryVectorMemo():
        for k in args.rrf_k:
            config = replace(FusionConfig(), method="rrf", rrf_k=k)
            rows.append((f"RRF k={k}", evaluate(cached.index, config, questions, f"rrf k={k}")))
        rows.append(("min-max (default)", evaluate(cached.index, FusionConfig(), questions, "minmax")))
    print(f"\n### RRF constant, weights {describe(FusionConfig())} ({len(questions):,} questions)\n")
    print(f"| fusion {QUALITY_HEADER}")
    print(f"|---{QUALITY_RULE}")
    for name, report in rows:
        print(f"| {name} {quality_cells(report)}")
    print(f"\n{conditions_line(args)}")


def run_depth_sweep(documents: list[Document], questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """Candidates per signal: fusion and min-max scaling run over the union of each signal's
    top `candidates`; "all" makes every chunk a candidate (min-max over the corpus, as before
    the segmented index)."""
    cached = cached_index(documents, args.cache, ChunkingConfig(), args.rebuild)
    total = cached.index.size[1]
    rows = []
    for depth in [*args.depths, total]:
        label = "all" if depth == total else str(depth)
        config = replace(FusionConfig(), candidates=depth)
        rows.append((label, evaluate(cached.index, config, questions, f"candidates {label}")))
    print(f"\n### Candidate depth, default weights ({len(questions):,} questions, {total:,} passages)\n")
    print(f"| candidates per signal {METRIC_HEADER}")
    print(f"|---{METRIC_RULE}")
    for name, report in rows:
        print(f"| {name} {metric_cells(report)}")
    print(f"\n{conditions_line(args)}")


def run_rescore(documents: list[Document], questions: list[EvalQuestion], args: argparse.Namespace) -> None:
    """The optional mpnet second stage over the default hybrid: candidates x weight.

    One `Rescorer` serves every row, so each text is embedded by mpnet once (its vector cache);
    the rows' latency columns are therefore warm. The cold cost, every candidate embedded anew,
    is timed separately on the first `--cold` questions.
    """
    from qa.answering.rescoring import RescoreConfig, RescoredRetriever, Rescorer, mpnet_folder

    cached = cached_index(documents, args.cache, ChunkingConfig(), args.rebuild)
    index = cached.index
    rescorer = Rescorer(mpnet_folder())
    rows = [("first stage only (default hybrid)", evaluate(index, FusionConfig(), questions, "first stage"))]
    for candidates in args.candidates:
        for weight in args.rescore_weights:
            rescorer.config = RescoreConfig(candidates=candidates, weight=weight)
            name = f"+ mpnet, top {candidates}, weight {weight:g}"
            rows.append((name, evaluate_retrieval(RescoredRetriever(index, rescorer), questions, progress=progress_printer(name))))
    cold = []
    rescorer.config = RescoreConfig()
    for question in questions[: args.cold]:
        rescorer.forget()
        started = time.perf_counter()
        RescoredRetriever(index, rescorer).retrieve(question.question, k=10)
        cold.append((time.perf_counter() - started) * 1000)
    print(f"\n### Second stage: mpnet re-scoring ({len(questions):,} questions)\n")
    print(f"| system {METRIC_HEADER}")
    print(f"|---{METRIC_RULE}")
    for name, report in rows:
        print(f"| {name} {metric_cells(report)}")
    print(
        f"\nCold (no cached mpnet vectors), default {RescoreConfig()}: p50 {percentile(cold, 50):.0f} ms, "
        f"p95 {percentile(cold, 95):.0f} ms over {len(cold)} questions"
    )
    print(conditions_line(args))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="questions to ask (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="sampling seed (default 0)")
    parser.add_argument("--data", type=Path, default=None, help=f"data folder (default {default_data_dir()})")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"index cache (default {DEFAULT_CACHE})")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached indexes")
    parser.add_argument("--sweep", action="store_true", help="sweep dense_weight and chunk max_chars")
    parser.add_argument("--weights", type=float, nargs="+", default=SWEEP_WEIGHTS, help="sweep dense weights")
    parser.add_argument("--max-chars", type=int, nargs="+", default=SWEEP_MAX_CHARS, help="sweep chunk sizes")
    parser.add_argument(
        "--sentence-weight",
        type=float,
        default=0.0,
        help="fixed best-sentence weight during the sweep (default 0: dense + BM25 only)",
    )
    parser.add_argument("--rrf-sweep", action="store_true", help="sweep the RRF constant k")
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[1, 5, 10, 20, 40, 60, 100], help="RRF constants")
    parser.add_argument("--rescore", action="store_true", help="measure the optional mpnet second stage")
    parser.add_argument("--depth-sweep", action="store_true", help="sweep candidates per signal")
    parser.add_argument("--depths", type=int, nargs="+", default=[25, 50, 100, 200, 400], help="candidate depths")
    parser.add_argument(
        "--sentence-vectors",
        choices=VECTOR_METHODS,
        default=None,
        help="how a new index makes sentence vectors (default: qa's)",
    )
    parser.add_argument("--candidates", type=int, nargs="+", default=[20], help="rescore: top-N re-scored")
    parser.add_argument(
        "--rescore-weights", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0], help="rescore: mpnet weights"
    )
    parser.add_argument("--cold", type=int, default=10, help="rescore: questions timed with no cached vectors (~10 s each)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice); 1 is far steadier on a busy machine",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sentence_vectors:
        qa_index.SENTENCE_VECTORS = args.sentence_vectors
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    documents, all_questions = squad_documents(args.data)
    questions = sample_questions(all_questions, args.sample, args.seed)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.sweep:
        run_sweep(documents, questions, args)
    elif args.rrf_sweep:
        run_rrf_sweep(documents, questions, args)
    elif args.rescore:
        run_rescore(documents, questions, args)
    elif args.depth_sweep:
        run_depth_sweep(documents, questions, args)
    else:
        run_default(documents, questions, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
