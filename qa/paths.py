"""Where qa keeps things by default; environment variables override each.

    QA_SEEDS  the default corpus            default: <project>/seeds
    QA_INDEX  where its index lives         default: <project>/index
    QA_DATA   uploads and feedback          default: <project>/data

Its own module so that uploads, feedback and evaluation can find the data folder without
importing the default index (and with it the whole library).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    """The default corpus: $QA_SEEDS, else <project>/seeds."""
    return Path(os.environ.get("QA_SEEDS", PROJECT_ROOT / "seeds"))


def index_dir() -> Path:
    """The default corpus's index: $QA_INDEX, else <project>/index."""
    return Path(os.environ.get("QA_INDEX", PROJECT_ROOT / "index"))


def data_dir() -> Path:
    """Uploads, feedback, logs and eval caches: $QA_DATA, else <project>/data (read at each call,
    so a test can point it elsewhere)."""
    return Path(os.environ.get("QA_DATA", PROJECT_ROOT / "data"))
