"""A fresh process answers questions without torch; the document model loads only to embed.

Why: importing torch, transformers and sentence-transformers took ~6 s of a 6.5 s `qa ask`,
although questions are encoded by the int8 ONNX model (`qa.query_encoding`). These tests run
the real thing in a new interpreter (real model files, real index) and read its `sys.modules`;
timings live in benchmarks/startup.py, not here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.index import Index
from qa.query_encoding import BACKEND_VARIABLE, INT8_MINILM, OnnxQueryEncoder

from conftest import PROJECT, SEED_FILE

# The document model's stack: none of it may load to answer a question.
TORCH_STACK = ("torch", "transformers", "sentence_transformers")
# Only `qa serve` needs the web stack.
WEB_STACK = ("gradio",)
QUESTION = "what is the US backstop position?"
NEW_FACT = "The lighthouse at Port Quill was painted green in 1987 by the harbour trust."
NEW_QUESTION = "What colour was the lighthouse at Port Quill painted?"
# A guard against a hung child, not a timing bar: a cold start takes seconds.
CHILD_TIMEOUT_S = 600

# Run in a fresh interpreter: open, answer, note the modules; add a document, note them again.
OPEN_ANSWER_ADD = """
import json, sys
import qa
path, new_file, question, new_question, watched = sys.argv[1:6]
watched = watched.split(",")
loaded = lambda: sorted(m for m in watched if m in sys.modules)
index = qa.Index.open(path)
answer = index.answer(question)
after_answer = loaded()
query_backend = index.embedder().query_backend
report = index.add([new_file])
new_answer = index.answer(new_question)
print(json.dumps({
    "answer": answer.text,
    "cited_paragraphs": [c.paragraph for c in answer.citations],
    "after_answer": after_answer,
    "query_backend": query_backend,
    "added": report.added,
    "after_add": loaded(),
    "model_loaded": index.embedder().model_loaded,
    "new_answer": new_answer.text,
    "new_cited": [c.doc_id for c in new_answer.citations],
}))
"""

# Run each read-only CLI command in one fresh interpreter and note what it imported.
CLI_COMMANDS = """
import contextlib, io, json, sys
from qa.cli import main
path, question, watched = sys.argv[1:4]
watched = watched.split(",")
seen = {}
for command in (["ask", question], ["search", question], ["docs"], ["ask", question, "--json"]):
    with contextlib.redirect_stdout(io.StringIO()):
        code = main([*command, "--index", path])
    seen[" ".join(command)] = (code, sorted(m for m in watched if m in sys.modules))
print(json.dumps(seen))
"""


def _require_int8_encoder() -> None:
    if importlib.util.find_spec(INT8_MINILM.module) is None:
        pytest.skip(
            f"the int8 question encoder ({INT8_MINILM.package}) is not installed: questions then "
            "go through torch by design"
        )
    for module in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: questions then go through torch by design")


def _run_fresh(script: str, *args: str) -> dict:
    """Run `script` in a new interpreter (the ONNX path forced on) and parse its JSON line."""
    env = {k: v for k, v in os.environ.items() if k != BACKEND_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def index_path(embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default-model index of the seed article, built here (torch is loaded in *this* process)."""
    _require_int8_encoder()
    path = tmp_path_factory.mktemp("cold-start") / "index"
    Index.build([SEED_FILE], path)
    return path


@pytest.fixture(scope="module")
def fresh_run(index_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What a fresh process saw: open + answer, then add a document + answer about it."""
    new_file = tmp_path_factory.mktemp("cold-start-docs") / "lighthouse.txt"
    new_file.write_text(NEW_FACT + "\n", encoding="utf-8")
    return _run_fresh(
        OPEN_ANSWER_ADD, str(index_path), str(new_file), QUESTION, NEW_QUESTION, ",".join(TORCH_STACK + WEB_STACK)
    )


def test_open_and_answer_import_no_torch_transformers_or_sentence_transformers(fresh_run):
    assert fresh_run["query_backend"] == OnnxQueryEncoder.name
    assert fresh_run["after_answer"] == []
    assert "backstop" in fresh_run["answer"] and fresh_run["cited_paragraphs"] == [6]


def test_adding_a_document_from_that_state_loads_the_document_model_and_indexes_it(fresh_run):
    assert fresh_run["added"] == ["lighthouse"]
    assert fresh_run["model_loaded"]
    assert {"torch", "sentence_transformers"} <= set(fresh_run["after_add"])
    assert "gradio" not in fresh_run["after_add"]
    assert "green" in fresh_run["new_answer"] and fresh_run["new_cited"] == ["lighthouse"]


def test_read_only_cli_commands_import_neither_torch_nor_gradio(index_path: Path):
    seen = _run_fresh(CLI_COMMANDS, str(index_path), QUESTION, ",".join(TORCH_STACK + WEB_STACK))
    assert seen and all(code == 0 and loaded == [] for code, loaded in seen.values()), seen
