"""Scale: qa's own work at 10k, 100k and 1M chunks, with random vectors standing in for the model.

    python benchmarks/scale.py                                   # 10k and 100k chunks
    python benchmarks/scale.py --sizes 10000 100000 1000000 --json scale.json
    python benchmarks/scale.py --sizes 1000000 --keep /data/scale     # keep the built indexes
    python benchmarks/scale.py --requery /data/scale/1000000          # query a kept one again

`--requery` measures the read and update path of an index kept by `--keep` (after a change to
search or opening, without the minutes of a 1M build); it adds and removes a few documents there.

What it measures, per size (each index built in a temporary folder under /tmp, deleted after
unless `--keep` names a folder):
build time (`Index.from_documents`; wall and CPU, and per step: chunking, BM25, HNSW, see
`BuildPhases`), the builder's peak RSS, disk size and segments; then, in a fresh process (this
script with `--query-process`), the time to open the index, retrieve and answer p50/p95 over
200 questions (retrieve once more with BLAS/OpenMP held to one thread), that process's peak RSS
after the questions (VmHWM; its own memory and the mapped index pages shown apart), adding one
small .txt document and removing it again (median of 5 each), and the HNSW graphs' recall@10
against exact search of the same segment. A Markdown table and the issue's bars (met or not)
go to stdout; progress, with the builder's RSS every minute, goes to stderr.

Why random vectors: embedding a million passages with MiniLM takes days on 2 cores, and the
model's cost per text is measured elsewhere (benchmarks/embedding.py, latency.py). What grows
with the corpus is qa's own work (chunking, BM25, HNSW, segments, the search over candidates),
so the model is replaced through the embedder seam (`Index.from_documents(..., embedder=)`) by
`RandomEmbedder`: a text's vector is a pseudo-random unit vector seeded by a stable hash of the
text, so a question equal to a corpus sentence gets exactly that sentence's vector.

Cost: 10k and 100k take about 15 s and 3-8 minutes on the 2 shared cores here. 1M is opt-in:
about 5 segments of ~195k chunks, each ~1 minute of chunking and BM25 and 7-15 minutes of HNSW
graph building, depending on the load, and ~7 GB peak RSS in the builder.

The corpus is real English: the sentences of SQuAD v1.1 dev (read from the shared data folder,
never copied) recombined, with a fixed seed, into documents of 3-8 paragraphs of 700-900
characters, so each paragraph is exactly one chunk (qa keeps a paragraph of up to 1,000
characters whole). Questions are 200 corpus sentences drawn with a fixed seed. The index
files were just written, so they are in the page cache: open and query times are warm-cache
figures. The machine is shared: the load average before and after each size is printed, and
times taken under a load above the core count include waiting for other processes.
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.perf_counter()  # before qa is imported: the query process reports import time

import argparse
import gc
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

import qa
from qa.index import ann
from qa.text.chunking import split_paragraph
from qa.loading.documents import Document
from qa.eval.evaluation import default_data_dir, percentile, squad_documents

DEFAULT_SIZES = (10_000, 100_000)
SEED = 0
QUESTIONS = 200
RECALL_K = 10
UPDATE_REPEATS = 5
DIMENSION = 384
EMBEDDER_NAME = "random-unit-384"
# Paragraphs: SQuAD sentences of 40-200 characters joined until at least 700 characters, so a
# paragraph has 700-900 characters (one chunk: qa's chunks hold up to 1,000).
SENTENCE_MIN_CHARS = 40
SENTENCE_MAX_CHARS = 200
PARAGRAPH_MIN_CHARS = 700
PARAGRAPHS_PER_DOCUMENT = (3, 8)
SOURCE = "SQuAD v1.1 dev sentences, recombined"
TEMP_PARENT = Path("/tmp")
QUERY_PROCESS_TIMEOUT_S = 3600
RSS_SAMPLE_S = 0.5
PROGRESS_EVERY_S = 60.0
# The one small document that is added and removed again.
ADDED_FILE = "scale-added.txt"
ADDED_TEXT = (
    "The harbour bridge was opened in 1932 after eight years of construction.\n\n"
    "It carries rail, road and foot traffic between the northern and southern shores, and its "
    "arch is still one of the widest of its kind.\n"
)


# --- the stand-in model --------------------------------------------------------------------

# splitmix64 constants; each vector is DIMENSION 16-bit draws, four per 64-bit hash output.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_WORDS = DIMENSION // 4
_COLUMN_OFFSETS = (np.arange(1, _WORDS + 1, dtype=np.uint64) * _GOLDEN)[None, :]
_ROWS_PER_BLOCK = 8192


def _gaussian_table() -> np.ndarray:
    """Standard normal quantiles of the 65,536 midpoints (i + 0.5) / 65536: a 16-bit draw
    indexes it, which gives a normal sample without a log or cosine per coordinate."""
    from statistics import NormalDist

    normal = NormalDist()
    return np.array([normal.inv_cdf((i + 0.5) / 65536) for i in range(65536)], dtype=np.float32)


class RandomEmbedder:
    """A deterministic pseudo-random unit vector per text, for measuring qa without a model.

    How, vectorised: one 64-bit blake2b hash per text (the only per-text Python step, ~2 us);
    then for a block of rows, the counter-based generator splitmix64(hash + j * golden ratio),
    j = 1..96, gives 96 x 64 bits = 384 16-bit draws per row, each mapped to a normal quantile
    by table lookup, and each row is L2-normalised: isotropic unit vectors at ~8 us per text
    (~7M texts at 1M chunks take about a minute). Equal texts get equal vectors in any
    process, since nothing depends on the batch or on Python's randomised `hash`.
    """

    name = EMBEDDER_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._table = _gaussian_table()

    @staticmethod
    def seeds(texts: Sequence[str]) -> np.ndarray:
        digests = b"".join(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in texts)
        return np.frombuffer(digests, dtype="<u8").astype(np.uint64)

    def vectors(self, seeds: np.ndarray) -> np.ndarray:
        out = np.empty((len(seeds), DIMENSION), dtype=np.float32)
        for first in range(0, len(seeds), _ROWS_PER_BLOCK):
            z = seeds[first : first + _ROWS_PER_BLOCK, None] + _COLUMN_OFFSETS
            z ^= z >> np.uint64(30)
            z *= _MIX1
            z ^= z >> np.uint64(27)
            z *= _MIX2
            z ^= z >> np.uint64(31)
            block = self._table[z.view("<u2")]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[first : first + len(block)] = block
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.vectors(self.seeds(texts))


# --- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSentence:
    text: str
    title: str


def sentence_pool(data: Path | None) -> list[PoolSentence]:
    """SQuAD v1.1 dev sentences (qa's splitter) that stay one sentence whatever sentence comes
    before or after them, 40-200 characters long, in file order, without duplicates."""
    documents, _ = squad_documents(data)
    seen: set[str] = set()
    pool = []
    for document in documents:
        for start, end in document.paragraphs:
            for s, e in split_paragraph(document.text, start, end):
                text = document.text[s:e]
                if text in seen or not SENTENCE_MIN_CHARS <= len(text) <= SENTENCE_MAX_CHARS or "\n" in text:
                    continue
                seen.add(text)
                if _splits_cleanly(text):
                    pool.append(PoolSentence(text, document.title))
    return pool


def _splits_cleanly(text: str) -> bool:
    """True when qa's splitter finds `text` twice, whole, in "text text"."""
    doubled = f"{text} {text}"
    return split_paragraph(doubled, 0, len(doubled)) == [(0, len(text)), (len(text) + 1, len(doubled))]


def paragraph(pool: list[PoolSentence], rng: random.Random) -> tuple[str, str]:
    """(text, the article title of its first sentence): random sentences, joined by spaces,
    until the paragraph has at least `PARAGRAPH_MIN_CHARS` characters."""
    sentences = [pool[rng.randrange(len(pool))]]
    length = len(sentences[0].text)
    while length < PARAGRAPH_MIN_CHARS:
        sentences.append(pool[rng.randrange(len(pool))])
        length += len(sentences[-1].text) + 1
    return " ".join(s.text for s in sentences), sentences[0].title


def synthetic_documents(pool: list[PoolSentence], chunks: int, seed: int = SEED) -> list[Document]:
    """Documents of 3-8 paragraphs (one chunk each) until there are `chunks` paragraphs."""
    rng = random.Random(seed)
    documents = []
    made = 0
    while made < chunks:
        count = min(rng.randint(*PARAGRAPHS_PER_DOCUMENT), chunks - made)
        paragraphs = [paragraph(pool, rng) for _ in range(count)]
        text = "\n\n".join(p for p, _ in paragraphs)
        spans, offset = [], 0
        for p, _ in paragraphs:
            spans.append((offset, offset + len(p)))
            offset += len(p) + 2
        number = len(documents)
        documents.append(
            Document(
                doc_id=f"scale-{number:07d}",
                title=paragraphs[0][1],
                source=SOURCE,
                path=f"synthetic:{number}",
                text=text,
                paragraphs=tuple(spans),
                content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        )
        made += count
    return documents


def pick_questions(documents: list[Document], n: int = QUESTIONS, seed: int = SEED) -> list[str]:
    """`n` sentences of the corpus (as qa splits them), drawn with a fixed seed."""
    rng = random.Random(seed + 1)
    questions = []
    while len(questions) < n:
        document = documents[rng.randrange(len(documents))]
        start, end = document.paragraphs[rng.randrange(len(document.paragraphs))]
        s, e = rng.choice(split_paragraph(document.text, start, end))
        questions.append(document.text[s:e])
    return questions


# --- measuring -------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident set size now, from /proc (0 where unavailable)."""
    return _proc_status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """Peak RSS of this process image: VmHWM where /proc has it, else `getrusage`.

    Why not `ru_maxrss` first: Python starts a subprocess with vfork + exec, and Linux carries
    the parent's high-water mark into the child's ru_maxrss at exec, so a query process started
    by a builder that peaked at 2 GB would report 2 GB whatever it used itself.
    """
    hwm = _proc_status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


class RssWatch:
    """Samples this process's RSS in a thread: the peak of one phase (ru_maxrss only grows
    over the process), with a progress line every `PROGRESS_EVERY_S` seconds."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = last = time.monotonic()
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak_mb = max(self.peak_mb, rss_mb())
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                log(f"{self.label}: {last - started:.0f} s, RSS {rss_mb():,.0f} MB (peak {self.peak_mb:,.0f})")

    def __enter__(self) -> "RssWatch":
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def load_average() -> tuple[float, float, float]:
    return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]


@dataclass(frozen=True)
class BuildResult:
    target_chunks: int
    chunks: int
    documents: int
    segments: int
    graphs: int  # segments with an HNSW graph
    corpus_s: float  # making the Document objects (not qa's work)
    build_s: float
    build_cpu_s: float  # CPU seconds of all the builder's threads: steadier than wall on a busy machine
    # wall / CPU seconds per step of the build (see `BuildPhases`)
    phases: dict[str, tuple[float, float]]
    build_peak_rss_mb: float
    disk_mb: float

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.build_s


@dataclass(frozen=True)
class QueryResult:
    """What the fresh query process measured."""

    import_s: float
    open_s: float
    first_retrieve_ms: float
    retrieve_p50_ms: float
    retrieve_p95_ms: float
    # The same questions again with BLAS and OpenMP held to one thread (threadpoolctl): on a
    # busy machine their worker threads wait for a core on every small matrix product.
    retrieve_1thread_p50_ms: float | None
    retrieve_1thread_p95_ms: float | None
    answer_p50_ms: float
    answer_p95_ms: float
    answer_one_hop_p50_ms: float  # the same answers with AnswerConfig(hops=1): the hop's cost
    top1_has_question: float  # share of questions whose top passage contains them
    peak_rss_mb: float  # after opening and the questions (VmHWM)
    # RSS then, split: the process's own memory, and pages of mapped index files (page cache,
    # shared and reclaimable: they grow towards the index's size as questions touch it)
    rss_anon_mb: float | None
    rss_file_mb: float | None
    add_s: float  # median of UPDATE_REPEATS
    remove_s: float
    add_all_s: list[float]
    remove_all_s: list[float]
    segments_after_updates: int
    recall_at_10: float | None  # None: no segment has an HNSW graph (exact search)
    # share of the exact top 10 among the dense_depth rows qa asks each segment for
    recall_10_in_depth: float | None
    dense_depth: int  # the rows a question asks of each segment (FusionConfig.candidates)
    dense_exact_ms: float  # top dense_depth of every segment by exact search, per question
    dense_index_ms: float  # the same as qa searches (HNSW where a segment has a graph)


@dataclass(frozen=True)
class SizeResult:
    build: BuildResult
    query: QueryResult
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float


def timed_ms(call, items: Sequence[str]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        call(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def updates(index: qa.Index, folder: Path) -> tuple[list[float], list[float]]:
    """Add the small document and remove it again, `UPDATE_REPEATS` times; each call timed.
    Background merges (the emptied segment is dropped) finish, untimed, before the next."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ADDED_FILE
    path.write_text(ADDED_TEXT, encoding="utf-8")
    adds, removes = [], []
    for _ in range(UPDATE_REPEATS):
        started = time.perf_counter()
        report = index.add([path], progress=False)
        adds.append(time.perf_counter() - started)
        (doc_id,) = report.added
        started = time.perf_counter()
        index.remove(doc_id)
        removes.append(time.perf_counter() - started)
        index.wait_for_merges()
    return adds, removes


@dataclass(frozen=True)
class DenseCheck:
    recall_at_10: float | None
    recall_10_in_depth: float | None
    exact_ms: float
    index_ms: float


def dense_check(index: qa.Index, vectors: np.ndarray, depth: int) -> DenseCheck:
    """Recall of each HNSW segment against exact search of the same segment (mean over
    segments and questions): its top 10 against the exact top 10, and the share of the exact
    top 10 inside the `depth` rows a question asks for; and the time per question of asking
    every segment for its top `depth`, exactly and as qa does."""
    segments = index.view().segments
    recalls, in_depth = [], []
    for segment in segments:
        if isinstance(segment.vectors, ann.HnswSearch):
            exact = ann.ExactSearch(segment.chunk_vectors)
            for vector in vectors:
                truth = set(exact.top(vector, RECALL_K)[1].tolist())
                found = set(segment.vectors.top(vector, RECALL_K)[1].tolist())
                deep = set(segment.vectors.top(vector, depth)[1].tolist())
                recalls.append(len(found & truth) / RECALL_K)
                in_depth.append(len(deep & truth) / RECALL_K)
    searches = [[ann.ExactSearch(s.chunk_vectors) for s in segments], [s.vectors for s in segments]]
    per_question = []
    for structures in searches:
        started = time.perf_counter()
        for vector in vectors:
            for search in structures:
                search.top(vector, depth)
        per_question.append((time.perf_counter() - started) * 1000 / len(vectors))
    return DenseCheck(
        recall_at_10=round(statistics.fmean(recalls), 4) if recalls else None,
        recall_10_in_depth=round(statistics.fmean(in_depth), 4) if in_depth else None,
        exact_ms=round(per_question[0], 2),
        index_ms=round(per_question[1], 2),
    )


def one_thread_retrieve_ms(index: qa.Index, questions: list[str]) -> list[float]:
    """Retrieve times with BLAS/OpenMP limited to one thread; empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return []
    with threadpool_limits(limits=1):
        return timed_ms(lambda q: index.retrieve(q, k=5), questions)


def query_process(index_path: Path, questions_file: Path, scratch: Path, started: float) -> QueryResult:
    """Run inside the fresh process: open, ask, measure memory, update, check the ANN."""
    import_s = time.perf_counter() - started
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    embedder = RandomEmbedder()
    before_open = time.perf_counter()
    index = qa.Index.open(index_path, embedder=embedder)
    open_s = time.perf_counter() - before_open
    first_ms = timed_ms(lambda q: index.retrieve(q, k=5), questions[:1])[0]
    top_hits = []

    def retrieve(question: str) -> None:
        top_hits.append(question in index.retrieve(question, k=5)[0].text)

    retrieve_ms = timed_ms(retrieve, questions)
    answer_ms, one_hop_ms = answer_pairs_ms(index, questions)
    peak_mb, anon_mb, file_mb = peak_rss_mb(), _proc_status_mb("RssAnon"), _proc_status_mb("RssFile")
    one_thread_ms = one_thread_retrieve_ms(index, questions)
    adds, removes = updates(index, scratch / "added")
    vectors = embedder.encode(questions)
    dense = dense_check(index, vectors, index.fusion.candidates)
    return QueryResult(
        import_s=round(import_s, 3),
        open_s=round(open_s, 3),
        first_retrieve_ms=round(first_ms, 1),
        retrieve_p50_ms=round(percentile(retrieve_ms, 50), 2),
        retrieve_p95_ms=round(percentile(retrieve_ms, 95), 2),
        retrieve_1thread_p50_ms=round(percentile(one_thread_ms, 50), 2) if one_thread_ms else None,
        retrieve_1thread_p95_ms=round(percentile(one_thread_ms, 95), 2) if one_thread_ms else None,
        answer_p50_ms=round(percentile(answer_ms, 50), 2),
        answer_p95_ms=round(percentile(answer_ms, 95), 2),
        answer_one_hop_p50_ms=round(percentile(one_hop_ms, 50), 2),
        top1_has_question=sum(top_hits) / len(top_hits),
        peak_rss_mb=round(peak_mb, 1),
        rss_anon_mb=anon_mb,
        rss_file_mb=file_mb,
        add_s=round(statistics.median(adds), 4),
        remove_s=round(statistics.median(removes), 4),
        add_all_s=[round(s, 4) for s in adds],
        remove_all_s=[round(s, 4) for s in removes],
        segments_after_updates=len(index.segments()),
        recall_at_10=dense.recall_at_10,
        recall_10_in_depth=dense.recall_10_in_depth,
        dense_depth=index.fusion.candidates,
        dense_exact_ms=dense.exact_ms,
        dense_index_ms=dense.index_ms,
    )


def answer_pairs_ms(index: "qa.Index", questions: list[str]) -> tuple[list[float], list[float]]:
    """Each question answered with the defaults and with `AnswerConfig(hops=1)`, the two in
    turn first (the first call of a question warms the pages its sentences live on)."""
    one_hop = qa.AnswerConfig(hops=1)
    default_ms, one_hop_ms = [], []
    for n, question in enumerate(questions):
        calls = [(default_ms, lambda: index.answer(question)), (one_hop_ms, lambda: index.answer(question, config=one_hop))]
        for times, call in calls if n % 2 == 0 else calls[::-1]:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return default_ms, one_hop_ms


def run_query_process(index_path: Path, questions_file: Path, scratch: Path) -> QueryResult:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--query-process", str(index_path),
        "--questions-file", str(questions_file), "--scratch", str(scratch),
    ]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=QUERY_PROCESS_TIMEOUT_S, check=True)
    return QueryResult(**json.loads(done.stdout.strip().splitlines()[-1]))


class BuildPhases:
    """Wall and CPU seconds spent in the steps of a build, by wrapping the qa functions that
    do them for the length of a `with` block (their behaviour is unchanged):

    - "ingest": `embed_documents` (sentence splitting, chunking, and the stand-in vectors)
    - "vectors": of which `RandomEmbedder.encode` (not qa's work)
    - "write": `write_segment`: files, BM25, HNSW, checksums, fsync
    - "bm25" and "hnsw": of which `LexicalIndex.build` and `ann.build_graph`
    """

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._patches: list[tuple[object, str, object]] = []

    def _wrap(self, owner: object, attribute: str, phase: str) -> None:
        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        call = getattr(owner, attribute)  # for a method, the plain function: `self` comes in args

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                totals = self.seconds.setdefault(phase, [0.0, 0.0])
                totals[0] += time.perf_counter() - wall
                totals[1] += time.process_time() - cpu

        self._patches.append((owner, attribute, original))
        setattr(owner, attribute, staticmethod(timed) if isinstance(original, classmethod) else timed)

    def __enter__(self) -> "BuildPhases":
        import qa.index.coordinator
        import qa.index.lexical
        import qa.index.segments

        self._wrap(qa.index.coordinator, "embed_documents", "ingest")
        self._wrap(RandomEmbedder, "encode", "vectors")
        self._wrap(qa.index.coordinator, "write_segment", "write")
        self._wrap(qa.index.lexical.LexicalIndex, "build", "bm25")
        self._wrap(ann, "build_graph", "hnsw")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attribute, original in reversed(self._patches):
            setattr(owner, attribute, original)

    def rounded(self) -> dict[str, tuple[float, float]]:
        return {phase: (round(wall, 1), round(cpu, 1)) for phase, (wall, cpu) in self.seconds.items()}


def build(documents: list[Document], target: int, corpus_s: float, path: Path) -> BuildResult:
    with RssWatch(f"build {target:,}") as watch, BuildPhases() as phases:
        started, cpu = time.perf_counter(), time.process_time()
        index = qa.Index.from_documents(documents, path, embedder=RandomEmbedder(), progress=False)
        build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    n_docs, n_chunks = index.size
    segments = index.view().segments
    return BuildResult(
        target_chunks=target,
        chunks=n_chunks,
        documents=n_docs,
        segments=len(segments),
        graphs=sum(isinstance(s.vectors, ann.HnswSearch) for s in segments),
        corpus_s=round(corpus_s, 2),
        build_s=round(build_s, 2),
        build_cpu_s=round(build_cpu_s, 1),
        phases=phases.rounded(),
        build_peak_rss_mb=round(watch.peak_mb, 1),
        disk_mb=round(folder_bytes(path) / 2**20, 1),
    )


def measure_size(pool: list[PoolSentence], target: int, keep: Path | None = None) -> SizeResult:
    load_before = load_average()
    log(f"{target:,} chunks: load average before {load_before}")
    wall = time.perf_counter()
    if keep is not None:
        scratch = keep / str(target)
        scratch.mkdir(parents=True, exist_ok=False)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="qa-scale-", dir=TEMP_PARENT))
    try:
        started = time.perf_counter()
        documents = synthetic_documents(pool, target)
        corpus_s = time.perf_counter() - started
        questions_file = scratch / "questions.json"
        questions_file.write_text(json.dumps(pick_questions(documents)), encoding="utf-8")
        log(f"{target:,} chunks: {len(documents):,} documents made in {corpus_s:.1f} s; building")
        built = build(documents, target, corpus_s, scratch / "index")
        del documents
        gc.collect()
        if built.chunks != target:
            log(f"warning: {built.chunks:,} chunks indexed, {target:,} wanted")
        log(f"{target:,} chunks: built in {built.build_s:.1f} s, {built.segments} segments; querying in a fresh process")
        queried = run_query_process(scratch / "index", questions_file, scratch)
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    load_after = load_average()
    wall_s = time.perf_counter() - wall
    log(f"{target:,} chunks: done in {wall_s:.0f} s; load average after {load_after}")
    return SizeResult(built, queried, load_before, load_after, round(wall_s, 1))


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """A target the issue sets, for one size."""

    chunks: int
    what: str
    limit: float
    unit: str

    def value(self, result: SizeResult) -> float:
        q = result.query
        return {
            "retrieve p50": q.retrieve_p50_ms,
            "add one document": q.add_s,
            "remove one document": q.remove_s,
            "open": q.open_s,
            "query process RSS": q.peak_rss_mb,
        }[self.what]


BARS = (
    Bar(100_000, "retrieve p50", 15, "ms"),
    Bar(100_000, "add one document", 1, "s"),
    Bar(100_000, "remove one document", 1, "s"),
    Bar(100_000, "open", 2, "s"),
    Bar(100_000, "query process RSS", 1536, "MB"),
    Bar(1_000_000, "retrieve p50", 30, "ms"),
    Bar(1_000_000, "add one document", 1, "s"),
)


def recall_cell(query: QueryResult) -> str:
    if query.recall_at_10 is None:
        return "exact"
    return f"{query.recall_at_10:.3f} ({query.recall_10_in_depth:.3f} in top {query.dense_depth})"


def one_thread_cell(query: QueryResult) -> str:
    if query.retrieve_1thread_p50_ms is None:
        return "n/a (no threadpoolctl)"
    return f"{query.retrieve_1thread_p50_ms:.1f} / {query.retrieve_1thread_p95_ms:.1f}"


def print_report(results: list[SizeResult]) -> None:
    print(f"\n### Scale: random unit vectors ({EMBEDDER_NAME}) for the model, SQuAD sentences recombined\n")
    print(
        "| chunks | docs | segments (HNSW) | build s | chunks/s | build peak RSS MB | disk MB | open s "
        "| retrieve p50 / p95 ms | same, 1 BLAS thread | answer p50 / p95 ms | query peak RSS MB (anon + file) | add s | remove s | ANN recall@10 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        b, q = r.build, r.query
        print(
            f"| {b.chunks:,} | {b.documents:,} | {b.segments} ({b.graphs}) | {b.build_s:.1f} | {b.chunks_per_s:,.0f} "
            f"| {b.build_peak_rss_mb:,.0f} | {b.disk_mb:,.0f} | {q.open_s:.2f} "
            f"| {q.retrieve_p50_ms:.1f} / {q.retrieve_p95_ms:.1f} | {one_thread_cell(q)} | {q.answer_p50_ms:.1f} / {q.answer_p95_ms:.1f} "
            f"| {q.peak_rss_mb:,.0f} ({q.rss_anon_mb or 0:,.0f} + {q.rss_file_mb or 0:,.0f}) | {q.add_s:.3f} | {q.remove_s:.3f} | {recall_cell(q)} |"
        )
    print()
    for r in results:
        b, q = r.build, r.query
        phases = ", ".join(f"{name} {wall:.0f} / {cpu:.0f}" for name, (wall, cpu) in b.phases.items())
        print(
            f"- {b.chunks:,} chunks: build CPU {b.build_cpu_s:.0f} s; build steps, wall / CPU s: {phases}; "
            f"wall {r.wall_s:.0f} s (corpus {b.corpus_s:.0f} s, build {b.build_s:.0f} s); "
            f"load average before {r.load_before}, after {r.load_after} on {os.cpu_count()} cores; "
            f"query process: import {q.import_s:.2f} s, first retrieve {q.first_retrieve_ms:.0f} ms, "
            f"answer p50 without the second hop {q.answer_one_hop_p50_ms:.1f} ms, "
            f"top passage holds the question {q.top1_has_question:.0%}; "
            f"dense top-{q.dense_depth} of every segment "
            f"{q.dense_index_ms:.1f} ms as searched vs {q.dense_exact_ms:.1f} ms exact; "
            f"add {q.add_all_s} s, remove {q.remove_all_s} s; segments after updates {q.segments_after_updates}"
        )
    by_size = {r.build.target_chunks: r for r in results}
    checked = [bar for bar in BARS if bar.chunks in by_size]
    if checked:
        print("\n| bar | limit | measured | met |")
        print("|---|---|---|---|")
        for bar in checked:
            value = bar.value(by_size[bar.chunks])
            print(f"| {bar.chunks:,} chunks: {bar.what} | ≤ {bar.limit:g} {bar.unit} | {value:g} {bar.unit} | {'yes' if value <= bar.limit else 'NO'} |")


def requery(kept: Path) -> None:
    """The query process again on a size folder that `--keep` left (index/ + questions.json)."""
    load_before = load_average()
    q = run_query_process(kept / "index", kept / "questions.json", kept)
    print(f"\n### Scale, re-queried: {kept} (load average before {load_before}, after {load_average()})\n")
    print("| open s | retrieve p50 / p95 ms | same, 1 BLAS thread | answer p50 / p95 ms | query peak RSS MB (anon + file) | add s | remove s | ANN recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {q.open_s:.2f} | {q.retrieve_p50_ms:.1f} / {q.retrieve_p95_ms:.1f} | {one_thread_cell(q)} "
        f"| {q.answer_p50_ms:.1f} / {q.answer_p95_ms:.1f} | {q.peak_rss_mb:,.0f} ({q.rss_anon_mb or 0:,.0f} + {q.rss_file_mb or 0:,.0f}) "
        f"| {q.add_s:.3f} | {q.remove_s:.3f} | {recall_cell(q)} |"
    )
    print(
        f"\n- add {q.add_all_s} s, remove {q.remove_all_s} s; first retrieve {q.first_retrieve_ms:.0f} ms; "
        f"import {q.import_s:.2f} s; answer p50 without the second hop {q.answer_one_hop_p50_ms:.1f} ms"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="chunk counts (default 10000 100000)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--data", type=Path, default=None, help=f"data folder (default {default_data_dir()})")
    parser.add_argument("--keep", type=Path, default=None, help="build into DIR/<size>/ and keep it there")
    parser.add_argument("--requery", type=Path, default=None, help="only query DIR/ (a size folder --keep made)")
    parser.add_argument("--query-process", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.query_process is not None:
        result = query_process(args.query_process, args.questions_file, args.scratch, PROCESS_STARTED)
        print(json.dumps(asdict(result)))
        return 0
    if args.requery is not None:
        requery(args.requery)
        return 0
    pool = sentence_pool(args.data)
    log(f"{len(pool):,} SQuAD sentences in the pool")
    results = []
    for size in args.sizes:
        results.append(measure_size(pool, size, args.keep))
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n", encoding="utf-8")
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
