"""Shared fixtures: one real embedding model and one real seed index per test session."""

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
