"""Shared fixtures: one real embedding model and one real seed index per test session.

The tests mirror the package: tests/<stage>/test_<module>.py tests qa/<stage>/<module>.py, and
tests/test_<module>.py a top-level module of qa or the whole package. No test folder has an
`__init__.py`: pytest's default import mode puts each test's folder and, through this file,
tests/ itself on `sys.path`, so a test anywhere imports `conftest` and the helper modules here
(`pdf_files`, `counting_text`) by name, and every test file needs a basename of its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from qa.models.embedding import Embedder, load_embedder
from qa.index.coordinator import Index

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "seeds"
SEED_FILE = SEEDS / "000_56409ce4796d023f.txt"


def benchmark_script(name: str) -> ModuleType:
    """`benchmarks/<name>.py` loaded from its file (benchmarks/ is not a package), registered
    under its own name so that its dataclasses find their module and a script's own `import
    common` finds `benchmark_script("common")` once that is loaded."""
    spec = importlib.util.spec_from_file_location(name, PROJECT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


# Questions the seed article answers, each with a term of the question that the answer's quotes
# hold. Tests assert behaviour with them (answered, quoted exactly, the question's subject
# quoted); which paragraph answers each, a measure of the models, is benchmarks/answers.py's.
SEED_QUESTIONS = (
    ("What is the US backstop position?", "backstop"),
    ("Where are Ukrainian forces losing ground?", "Ukrainian forces"),
    ("When will military leaders meet in the UK?", "military leaders"),
    ("What did participants of the virtual summit agree to?", "virtual summit"),
    ("Why did Ukrainian soldiers keep territory in Kursk?", "Kursk"),
    ("Where was the 30-day ceasefire agreement reached?", "30-day ceasefire"),
    ("Who persuaded Zelensky to consider the US ceasefire proposal?", "Zelensky"),
    ("What does Ukraine deny about its troops in Kursk?", "Kursk"),
    ("What did Sir Keir say about momentum?", "momentum"),
    ("Where was the coalition of the willing proposal first discussed?", "coalition of the willing"),
    ("What new commitments did Sir Keir mention?", "new commitments"),
    ("Why might Putin have given an equivocal response to the ceasefire?", "equivocal response"),
    ("What could the success of the coalition depend on?", "coalition"),
    ("Since when have Ukrainian forces held Russian territory?", "Russian territory"),
    ("Is the coalition a well defined initiative?", "initiative"),
)
# Questions the seed article does not touch: the answer abstains.
OFF_TOPIC_QUESTIONS = (
    "Who won the 2022 World Cup?",
    "What is the population of Canada?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water at sea level?",
    "Who wrote Pride and Prejudice?",
    "What is the capital of Australia?",
    "How many moons does Jupiter have?",
    "What is the price of Bitcoin today?",
    "Who painted the Mona Lisa?",
    "How tall is Mount Everest?",
    "What programming language is Python written in?",
    "When did the Titanic sink?",
    "What is photosynthesis?",
    "Who is the lead singer of Coldplay?",
    "What is the speed of light?",
    "How do vaccines work?",
    "What are the rules of cricket?",
    "Which team won the Super Bowl last year?",
    "What is the tallest building in the world?",
    "How much does an elephant weigh?",
)


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
