"""What the benchmark scripts share: data paths, the cached pooled SQuAD index, the machine and
its load, Markdown tables, child processes and their memory, and a one-page PDF.

Why one module: each script in benchmarks/ answers one question and none imports another, so
whatever two of them need lives here. Only the standard library is imported at the top; qa is
imported inside the functions that use it, so `peers.py` starts its peers' processes without qa
loaded, and a test that loads `bad_files.py` by path pays for nothing it does not call.

benchmarks/ is not a package: a script run as `python benchmarks/X.py` has this folder first on
`sys.path` and imports this module as `common`.
"""

from __future__ import annotations

import argparse

import hashlib
import json
import os
import platform
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    import qa
    from qa.eval.evaluation import EvalQuestion, RetrievalReport
    from qa.index.retrieval import FusionConfig
    from qa.loading.documents import Document
    from qa.text.chunking import ChunkingConfig

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
CACHE = HERE / ".cache"  # built indexes (git-ignored)
SEEDS = PROJECT / "seeds"
DATA_ENV = "QA_BENCH_DATA"
# On the seed article's topic but not in it: every composer should abstain (the tests ask it too).
SEED_UNANSWERABLE = ("When did Trump meet Putin?",)
# An abstention threshold no answer is under: the composer always answers.
NEVER = float("-inf")
# The CPU units that decide how fast the model runs (int8 VNNI, bf16, AMX); the figures'
# machine has the first two.
CPU_UNITS = ("avx512_vnni", "avx512_bf16", "amx_tile")
PROGRESS_EVERY = 500  # questions between progress lines


# --- data ----------------------------------------------------------------------------------


def data_dir(explicit: Path | None = None) -> Path:
    """`explicit`, else `$QA_BENCH_DATA`, else `shared/data` beside the checkout: the data is
    read where it lies and never copied into the project (qa.eval.evaluation reads the same)."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get(DATA_ENV) or PROJECT.parent / "shared" / "data")


def seed_questions() -> dict[str, Any]:
    """benchmarks/seed_questions.json: the seed article's on-topic questions (with the paragraph
    that answers each), off-topic ones and follow-ups (which the tests read too)."""
    return json.loads((HERE / "seed_questions.json").read_text(encoding="utf-8"))


def seed_question_texts() -> list[str]:
    """Every seed question as asked alone: on-topic, off-topic, then the follow-ups."""
    sets = seed_questions()
    return [q for q, _ in sets["on_topic"]] + sets["off_topic"] + [q for _, q, _ in sets["followups"]]


def short_note() -> dict[str, Any]:
    """benchmarks/short_note.json: a three-paragraph note, as a user's first upload."""
    return json.loads((HERE / "short_note.json").read_text(encoding="utf-8"))


def seed_index(folder: Path) -> "qa.Index":
    """The seed article's index at `folder`: reused while its settings are qa's current ones,
    else built (a benchmark should not pay for the build on every run)."""
    from qa.errors import IndexProblem, ModelUnavailable
    from qa.index.coordinator import Index
    from qa.index.settings import settings_outdated

    try:
        index = Index.open(folder)
        if not settings_outdated(index.settings):
            return index
    except (IndexProblem, ModelUnavailable):
        pass
    return Index.build([SEEDS], folder, progress=False)


# --- the machine and its load ------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15-minute load averages, rounded: printed with every figure, because on
    a shared 2-core machine a load over 2 means the timings include waiting for a core."""
    return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]


def load_text() -> str:
    """The load averages as "1.20 1.05 0.90"."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_description() -> str:
    """CPU model, core count and which of `CPU_UNITS` it has: what a timing depends on."""
    info = Path("/proc/cpuinfo")
    flags = info.read_text() if info.exists() else ""
    units = [u for u in CPU_UNITS if u in flags]
    model = next(
        (line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    return f"{model}, {os.cpu_count()} cores, {' '.join(units) or 'no VNNI/bf16/AMX'}"


def machine_line() -> str:
    """One line for a report's head: the CPU, Python and the load average now."""
    return f"{cpu_description()}; Python {platform.python_version()}; load average (1, 5, 15 min) {load_text()}"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), as qa.eval.evaluation computes it, for
    a script that must not import qa in every process it starts (peers.py)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed_ms(call: Callable[[Any], object], items: Sequence[Any]) -> list[float]:
    """Milliseconds of `call` on each item, one after another (a benchmark's inner loop)."""
    out = []
    for item in items:
        started = time.perf_counter()
        call(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def log(message: str) -> None:
    """Progress to stderr with the time, so stdout holds only the tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- tables --------------------------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table, as benchmarks/README.md quotes them ("|" in a cell escaped)."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def print_table(header: Sequence[str], rows: Iterable[Sequence[object]], title: str = "") -> None:
    """`markdown_table` to stdout after a blank line, and after a `### title` when one is given."""
    print(f"\n### {title}\n" if title else "")
    print(markdown_table(header, rows), flush=True)


# --- child processes and memory --------------------------------------------------------------


def add_pooled_squad_arguments(parser: argparse.ArgumentParser, default_sample: int, default_seed: int) -> None:
    """The options of a run over the cached pooled SQuAD index (retrieval.py, fusion.py)."""
    from qa.index.settings import VECTOR_METHODS

    parser.add_argument("--sample", type=int, default=default_sample, help=f"SQuAD questions (default {default_sample})")
    parser.add_argument("--seed", type=int, default=default_seed, help=f"sampling seed (default {default_seed})")
    parser.add_argument("--data", type=Path, default=None, help=f"data folder (default {data_dir()})")
    parser.add_argument("--cache", type=Path, default=CACHE, help="index cache (default benchmarks/.cache)")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached indexes")
    parser.add_argument("--sentence-vectors", choices=VECTOR_METHODS, help="how indexes make vectors (default: qa's)")
    parser.add_argument("--torch-threads", type=int, help="torch threads (default: torch's); 1 is steadier on a busy machine")


@contextmanager
def candidate_reader(folder: Path | None) -> Iterator[None]:
    """Answer with the reader in `folder` (its reader.onnx and reader.json: a training run's
    candidate, e.g. build/reader/candidate-…) inside the block, or the shipped one when None,
    and print which file answers. Why: a candidate is measured without copying it over the
    tracked qa/models/reader.onnx (and forgetting to restore it)."""
    from qa.models.reading import READER_FILE, READER_SETTINGS_FILE, open_reader, reader_in_use

    if folder is None:
        print("Reader: the shipped one (qa/models/reader.onnx)")
        yield
        return
    reader = open_reader(folder / READER_FILE, folder / READER_SETTINGS_FILE)
    print(f"Reader: {folder / READER_FILE} (sha256 {reader.settings.sha256[:12]}…, abstain margin {reader.abstain_margin})")
    with reader_in_use(reader):
        yield


def add_candidate_argument(parser: argparse.ArgumentParser) -> None:
    """`--candidate FOLDER`: answer with that folder's reader (`candidate_reader`)."""
    parser.add_argument(
        "--candidate", type=Path, metavar="FOLDER",
        help="answer with the reader in FOLDER (reader.onnx + reader.json) instead of the shipped one",
    )


def free_port() -> int:
    """A TCP port nobody listens on now, for a server the benchmark starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, all threads (Linux /proc; NaN
    elsewhere): what a request or a start costs whatever else the machine runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def qa_command() -> list[str]:
    """What a user runs as `qa`: the console script next to this Python, else the one on PATH,
    else `python -m qa.cli`."""
    script = Path(sys.executable).with_name("qa")
    found = str(script) if script.is_file() else shutil.which("qa")
    return [found] if found else [sys.executable, "-m", "qa.cli"]


def proc_status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile) in MB; None where
    there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident set size of this process now, in MB (0 where unavailable)."""
    return proc_status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """Peak RSS of this process image: VmHWM where /proc has it, else `getrusage`.

    Why not `ru_maxrss` first: Python starts a subprocess with vfork + exec, and Linux carries
    the parent's high-water mark into the child's ru_maxrss at exec, so a query process started
    by a builder that peaked at 2 GB would report 2 GB whatever it used itself.
    """
    import resource

    hwm = proc_status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- how indexes are built -------------------------------------------------------------------


def vector_method(method: str | None) -> str:
    """How a new index makes its vectors: `method`, else qa's default (`IndexSettings`)."""
    from qa.index.settings import SENTENCE_VECTORS

    return method or SENTENCE_VECTORS


def use_torch_threads(threads: int | None) -> None:
    """Hold torch to `threads` intra-op threads (None: torch's own choice). On 2 busy cores
    torch's two threads wait on each other; 1 degrades gracefully (benchmarks/HISTORY.md)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


# --- the cached pooled SQuAD index -----------------------------------------------------------


@dataclass(frozen=True)
class BuildRecord:
    """What a cached index was built from and how long the build took (its `.build.json`)."""

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
    # 1-minute load average when the build ended: above 2 cores' worth the build time includes
    # waiting for other processes.
    load_average: float = -1.0
    # repr of every setting the build used: a changed library default changes it, so a stale
    # cache is rebuilt instead of silently measured.
    config: str = ""


@dataclass(frozen=True)
class CachedIndex:
    """An open pooled index, its build record, and whether it came from the cache."""

    index: "qa.Index"
    record: BuildRecord
    reused: bool


def build_config(chunking: "ChunkingConfig", method: str | None = None) -> str:
    """The settings `Index.from_documents` uses besides the model, as one comparable string."""
    from qa.index.lexical import BM25Config

    return repr((chunking, BM25Config(), "embed_titles=False", f"sentence_vectors={vector_method(method)}"))


def cache_name(chunking: "ChunkingConfig", method: str | None = None) -> str:
    """The folder name of the pooled index for this chunking and vector method."""
    return (
        f"squad-dev-c{chunking.max_chars}-o{chunking.overlap_sentences}"
        f"-m{chunking.min_paragraph_chars}-{vector_method(method)}"
    )


def corpus_hash(documents: Sequence["Document"]) -> str:
    """One hash of every doc id and content hash, to notice a different corpus."""
    digest = hashlib.sha256()
    for d in documents:
        digest.update(f"{d.doc_id}\0{d.content_hash}\n".encode("utf-8"))
    return digest.hexdigest()


def _reusable(folder: Path, record_path: Path, wanted: dict[str, str]) -> tuple["qa.Index", BuildRecord] | None:
    """The cached index and its record when it opens and its record matches `wanted` (corpus,
    model and build settings)."""
    import qa
    from qa.errors import IndexProblem, ModelUnavailable

    try:
        record = BuildRecord(**json.loads(record_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if any(getattr(record, key) != value for key, value in wanted.items()):
        return None
    try:
        index = qa.Index.open(folder)
    except (IndexProblem, ModelUnavailable) as problem:
        log(f"cached index not reusable: {problem}")
        return None
    return (index, record) if index.size == (record.documents, record.passages) else None


def pooled_index(
    documents: Sequence["Document"],
    chunking: "ChunkingConfig | None" = None,
    method: str | None = None,
    cache: Path = CACHE,
    rebuild: bool = False,
) -> CachedIndex:
    """SQuAD's paragraphs pooled in one index (retrieval, fusion, load): opened from `cache`
    when it matches, else built (timed, model loaded first) and recorded beside it.

    Why a cache: embedding 2,067 paragraphs and ~10k sentences takes a minute or more on 2
    cores, and fusion settings need no rebuild (they apply per query through `Index.fusion`).
    """
    import qa
    from qa.models.embedding import load_embedder
    from qa.models.packaged import DEFAULT_MODEL, MODELS
    from qa.text.chunking import ChunkingConfig

    chunking = chunking or ChunkingConfig()
    name = cache_name(chunking, method)
    folder, record_path = cache / name, cache / f"{name}.build.json"
    wanted = {
        "corpus_hash": corpus_hash(documents),
        "model_id": MODELS[DEFAULT_MODEL].model_id,
        "config": build_config(chunking, method),
    }
    found = None if rebuild else _reusable(folder, record_path, wanted)
    if found is not None:
        log(f"reusing {folder}")
        return CachedIndex(found[0], found[1], reused=True)
    embedder = load_embedder(DEFAULT_MODEL)  # loaded before timing: throughput, not start-up
    log(f"building {folder} (max_chars={chunking.max_chars}) ...")
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    index = qa.Index.from_documents(documents, folder, chunking=chunking, progress=True, sentence_vectors=method)
    seconds = time.perf_counter() - started
    n_docs, n_chunks = index.size
    record = BuildRecord(
        **{**wanted, "model_id": embedder.model_id},
        max_chars=chunking.max_chars,
        overlap_sentences=chunking.overlap_sentences,
        min_paragraph_chars=chunking.min_paragraph_chars,
        documents=n_docs,
        passages=n_chunks,
        sentences=sum(e.sentences for e in index.documents()),
        build_seconds=round(seconds, 2),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
        load_average=round(os.getloadavg()[0], 2),
    )
    record_path.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    return CachedIndex(index, record, reused=False)


def build_line(cached: CachedIndex) -> str:
    """How the pooled index was built: passages, sentences, seconds, throughput and load."""
    r = cached.record
    how = f"recorded build of {r.built_at}" if cached.reused else "built now"
    return (
        f"Indexing ({how}, max_chars={r.max_chars}): {r.documents:,} documents -> "
        f"{r.passages:,} passages + {r.sentences:,} sentences embedded in {r.build_seconds:.1f} s "
        f"= {r.passages / r.build_seconds:.1f} passages/s ({r.documents / r.build_seconds:.1f} documents/s), "
        f"load average {r.load_average:.1f} on {os.cpu_count()} cores"
    )


# --- measuring retrieval -----------------------------------------------------------------------

QUALITY_HEADER = ("R@1", "R@5", "R@20", "MRR@10", "nDCG@10", "strict R@5")
LATENCY_HEADER = ("p50 ms", "p95 ms")


def evaluate(index: "qa.Index", config: "FusionConfig", questions: list["EvalQuestion"], label: str) -> "RetrievalReport":
    """Every question asked once with fusion `config` (`qa.eval.evaluation.evaluate_retrieval`,
    the code `qa eval` and the tests score with), progress to stderr."""
    from qa.eval.evaluation import evaluate_retrieval

    index.fusion = config
    return evaluate_retrieval(index, questions, progress=progress_printer(label))


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A `progress(done, total)` callback that logs every `PROGRESS_EVERY` questions."""

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            log(f"  {label}: {done}/{total}")

    return progress


def quality_cells(report: "RetrievalReport") -> list[str]:
    """R@1, R@5, R@20, MRR@10, nDCG@10 and strict R@5, three decimals."""
    m = report.metrics
    values = (m.recall_at(1), m.recall_at(5), m.recall_at(20), m.mrr_at_10, m.ndcg_at_10, report.strict_recall_at_5)
    return [f"{v:.3f}" for v in values]


def latency_cells(report: "RetrievalReport") -> list[str]:
    """p50 and p95 of one `retrieve` call, in ms."""
    return [f"{report.latency.p50_ms:.1f}", f"{report.latency.p95_ms:.1f}"]


def conditions_line(torch_threads: int | None, index: "qa.Index") -> str:
    """How questions were encoded, torch's threads and the load: what latency depends on."""
    threads = torch_threads or "torch default"
    backend = getattr(index.embedder(), "query_backend", "?")
    return f"questions encoded by {backend}; torch threads: {threads}; 1-minute load average after the queries: {os.getloadavg()[0]:.1f}"


@contextmanager
def questions_encoded_once(embedder: Any) -> Iterator[None]:
    """While active, `embedder.encode_queries` returns a remembered vector for texts it has seen.

    Why: a sweep asks the same questions once per setting, and no fusion setting changes a
    question's vector; encoding each once makes a sweep many times cheaper. The price is that
    timings taken meanwhile are no query latencies, so sweeps report none.
    """
    original: Callable[[list[str]], Any] = embedder.encode_queries
    seen: dict[tuple[str, ...], Any] = {}

    def encode(texts: list[str]) -> Any:
        key = tuple(texts)
        if key not in seen:
            seen[key] = original(texts)
        return seen[key].copy()

    embedder.encode_queries = encode
    try:
        yield
    finally:
        del embedder.encode_queries  # the instance attribute; the class method shows again


# --- a one-page PDF --------------------------------------------------------------------------


def one_page_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer is `text` (Helvetica, plain ASCII), written by hand:
    qa reads PDFs but ships no writer, and bad_files.py needs a good PDF to cut short."""
    stream = f"BT /F1 12 Tf 72 720 Td 14 TL\n({text}) Tj T*\nET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
