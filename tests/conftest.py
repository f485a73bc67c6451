"""Shared fixtures: one real embedding model and one real seed index per test session.

The tests mirror the package: tests/<stage>/test_<module>.py tests qa/<stage>/<module>.py, and
tests/test_<module>.py a top-level module of qa or the whole package. No test folder has an
`__init__.py`: pytest's default import mode puts each test's folder and, through this file,
tests/ itself on `sys.path`, so a test anywhere imports `conftest` and the helper modules here
(`pdf_files`, `counting_text`) by name, and every test file needs a basename of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.models.embedding import Embedder, load_embedder
from qa.index.coordinator import Index

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "seeds"
SEED_FILE = SEEDS / "000_56409ce4796d023f.txt"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once (about 5 s)."""
    return load_embedder()


@pytest.fixture(scope="session")
def seed_index(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """A real index of seeds/ in a temporary folder. Do not modify it: build your own."""
    return Index.build([SEEDS], tmp_path_factory.mktemp("seed-index") / "index")


@pytest.fixture(autouse=True, scope="session")
def _isolated_default_paths(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests away from the project's own index/ and data/ folders."""
    root = tmp_path_factory.mktemp("default-paths")
    os.environ["QA_INDEX"] = str(root / "index")
    os.environ["QA_DATA"] = str(root / "data")
    os.environ.setdefault("QA_SEEDS", str(SEEDS))
