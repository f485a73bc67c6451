"""The default corpus and index: `seeds/` indexed into `index/`, kept up to date on first use.

Paths (environment variables override them):
    QA_SEEDS  the default corpus            default: <project>/seeds
    QA_INDEX  where its index lives         default: <project>/index
    QA_DATA   uploads and feedback          default: <project>/data

`default_index()` opens the index once per process. A missing, damaged or mismatched index
(other model, format or chunking settings) is rebuilt from scratch; changed, new or deleted
input files are re-indexed incrementally. Each rebuild prints one line to stderr saying why.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from typing import Sequence

from qa.answering.compose import Answer
from qa.paths import PROJECT_ROOT, data_dir, index_dir, seeds_dir
from qa.index.coordinator import Index, PathsLike
from qa.index.retrieval import Passage
from qa.errors import IndexProblem
from qa.index.settings import settings_outdated

__all__ = ["PROJECT_ROOT", "data_dir", "index_dir", "seeds_dir", "default_index", "retrieve", "answer"]


def _say(message: str) -> None:
    print(f"qa: {message}", file=sys.stderr)


def open_or_build(path: str | Path, inputs: PathsLike) -> Index:
    """Open the index at `path`, (re)building or refreshing it from `inputs` when needed."""
    path = Path(path)
    inputs_list = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    try:
        index = Index.open(path)
    except IndexProblem as problem:
        if (path / "CURRENT").exists():
            _say(f"rebuilding the index: {problem}")
        else:
            _say(f"building the index at {path} from {', '.join(map(str, inputs_list))}")
        return Index.build(inputs_list, path)
    if settings_outdated(index.settings):
        _say("rebuilding the index: its chunking or BM25 settings differ from this qa's")
        return Index.build(inputs_list, path)
    missing = [p for p in inputs_list if str(Path(p).resolve()) not in index.inputs]
    if missing:
        _say(f"adding {', '.join(map(str, missing))} to the index")
        index.add(missing)
    reason = index.stale_reason()
    if reason:
        _say(f"updating the index: {reason}")
        index.refresh()
    return index


_lock = threading.Lock()
_default: Index | None = None


def default_index() -> Index:
    """The process-wide index of the default corpus (built on first use if needed)."""
    global _default
    with _lock:
        if _default is None:
            _default = open_or_build(index_dir(), [seeds_dir()])
        return _default


def retrieve(question: str, k: int = 5, documents: Sequence[str] | None = None) -> list[Passage]:
    """The `k` passages of the default corpus that best match `question`, best first (from
    `documents`, doc ids, alone when given).

    >>> [p.paragraph for p in retrieve("what is the US backstop position?", k=1)]
    [6]
    """
    return default_index().retrieve(question, k, documents)


def answer(
    question: str, history: Sequence[tuple[str, str]] | None = None, documents: Sequence[str] | None = None
) -> Answer:
    """A cited answer from the default corpus; `history` is earlier (question, answer) pairs,
    `documents` the doc ids to answer from (all when None).

    >>> answer("Who won the 2022 World Cup?").abstained
    True
    """
    return default_index().answer(question, history, documents=documents)
