"""The reader's windows: each candidate sentence with its neighbours in its paragraph, each read
on its own, and the best span of each as a `Pick` (document offsets and the sentences holding it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from qa.answering.candidates import Candidate
from qa.answering.config import AnswerSource
from qa.answering.pointing import points_back
from qa.models.reading import Reader, Reading, Window
from qa.text.chunking import Sentence


@dataclass(frozen=True)
class Pick:
    """The reader's best span in one window: document offsets, and the sentences holding it."""

    margin: float
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[Candidate, ...]


def read_windows(
    index: AnswerSource,
    reader: Reader,
    questions: Sequence[str],
    targets: Sequence[Candidate],
    candidates: Sequence[Candidate],
    neighbours: int,
    already_read: set[tuple[str, int]],
) -> list[Pick]:
    """The reader over the windows around `targets` (not yet read), each read with every
    phrasing in `questions` and keeping its surest reading; picks by margin."""
    by_key = {(c.sentence.doc_id, c.sentence.start): c for c in candidates}
    windows = windows_around(index, [t for t in targets if (t.sentence.doc_id, t.sentence.start) not in already_read], neighbours)
    readings = [
        max(group, key=lambda r: r.margin)
        for group in zip(*(reader.read(q, [w for w, _ in windows]) for q in questions))
    ]
    picks = []
    for (window, sentences), reading in zip(windows, readings):
        pick = _pick(window, sentences, reading, by_key)
        if pick is not None:
            picks.append(pick)
    return sorted(picks, key=lambda p: -p.margin)


def _pick(window: Window, sentences: list[Sentence], reading: Reading, by_key) -> Pick | None:
    start, end = window.start + reading.start, window.start + reading.end
    if end <= start:
        return None
    holding = [by_key.get((s.doc_id, s.start)) for s in sentences if s.start < end and s.end > start]
    if not holding or any(c is None for c in holding):
        return None
    return Pick(reading.margin, window.doc_id, start, end, window.text[reading.start : reading.end], tuple(holding))


def windows_around(index: AnswerSource, targets: Sequence[Candidate], neighbours: int) -> list[tuple[Window, list[Sentence]]]:
    """Each target sentence with up to `neighbours` sentences either side in its paragraph, one
    window per target (the same range twice is read once). A window whose first sentence points
    back ("This urgency …", `qa.answering.pointing`) starts a sentence earlier, in the paragraph
    before if need be: the reader needs what it refers to.

    Overlapping windows are not merged: a window yields one span, so a merged window of two
    candidates lost the gold sentence whenever its neighbour's span scored higher. Read apart,
    the best window's span is in a gold sentence .862 of the time against .849, one of the two
    best .914 against .877 (held-out train, `benchmarks/window_choice.py`); the cost is the
    sentences that neighbouring windows share, read twice."""
    windows = []
    seen: set[tuple[str, int, int]] = set()
    for target in targets:
        sentences, _ = index.chunk_sentences(target.passage.chunk_id)
        at = next((i for i, s in enumerate(sentences) if s.start == target.sentence.start), None)
        if at is None:
            continue
        same = [i for i in range(max(0, at - neighbours), min(len(sentences), at + neighbours + 1))
                if sentences[i].paragraph == target.sentence.paragraph]
        lo, hi = min(same), max(same)
        if lo > 0 and points_back(sentences[lo].text):
            lo -= 1  # "This urgency may account for…" is read with what it refers to, across a paragraph break too
        start, end = sentences[lo].start, sentences[hi].end
        if (target.sentence.doc_id, start, end) in seen:
            continue
        seen.add((target.sentence.doc_id, start, end))
        passage = target.passage
        text = passage.text[start - passage.start : end - passage.start]
        windows.append((Window(passage.doc_id, start, text), sentences[lo : hi + 1]))
    return windows


def covered(pick: Pick, chosen: list[Candidate]) -> bool:
    """Whether the quoted sentences (cut ones as cut) hold all of the reader's span."""
    spans = sorted(
        (c.sentence.start, c.sentence.end) for c in chosen
        if c.sentence.doc_id == pick.doc_id and c.sentence.start < pick.end and c.sentence.end > pick.start
    )
    return bool(spans) and spans[0][0] <= pick.start and spans[-1][1] >= pick.end
