"""Thumbs up/down on answers, appended to a local JSON Lines file.

The file is `feedback.jsonl` in the data directory (`$QA_DATA`, default `<project>/data/`).
Each line is one JSON object:

    {"timestamp": "2026-11-26T00:29:26.902596+00:00", "rating": "up", "answer_id": "…",
     "question": "…", "answer": "… [1]", "abstained": false, "citations": [{…Citation…}]}

`rating` is "up", "down" or "cleared" (a vote taken back). A later line about the same
`answer_id` supersedes an earlier one.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from qa.paths import data_dir

FEEDBACK_FILE = "feedback.jsonl"
RATINGS = ("up", "down", "cleared")
_lock = threading.Lock()


def feedback_path() -> Path:
    """Where feedback goes: `$QA_DATA/feedback.jsonl` (default `<project>/data/feedback.jsonl`)."""
    return data_dir() / FEEDBACK_FILE


def rating_of(liked: object) -> str:
    """Gradio's like value (True, False, None or a label) -> "up", "down" or "cleared"."""
    if liked is True or (isinstance(liked, str) and liked.lower() in ("like", "up")):
        return "up"
    if liked is False or (isinstance(liked, str) and liked.lower() in ("dislike", "down")):
        return "down"
    return "cleared"


def record_feedback(
    rating: str,
    question: str,
    answer: str,
    citations: Sequence[dict[str, Any]] = (),
    *,
    abstained: bool = False,
    answer_id: str | None = None,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Append one feedback line and return the object written."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    entry = {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "rating": rating,
        "answer_id": answer_id,
        "question": question,
        "answer": answer,
        "abstained": abstained,
        "citations": [dict(c) for c in citations],
    }
    target = Path(path) if path is not None else feedback_path()
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a+b") as out:
            if out.tell() and not _ends_with_newline(out):
                line = "\n" + line  # a crash left half a line: keep ours on a line of its own
            out.write(line.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())  # acknowledged feedback survives a crash
    return entry


def _ends_with_newline(handle) -> bool:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1) == b"\n"


def read_feedback(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every feedback line so far (an empty list when there is no file)."""
    target = Path(path) if path is not None else feedback_path()
    if not target.exists():
        return []
    lines = [line for line in target.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            # Half a line, cut by a crash mid-write: skipped. Anything else is a damaged file.
            if number < len(lines) and not _followed_by_valid(lines, number):
                raise ValueError(f"{target}: line {number} is not JSON; the file is damaged") from None
    return entries


def _followed_by_valid(lines: list[str], number: int) -> bool:
    """Whether the line after a bad one parses: a crash's half line is followed by new entries."""
    try:
        json.loads(lines[number])
    except json.JSONDecodeError:
        return False
    return True
