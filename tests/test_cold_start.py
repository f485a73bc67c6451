"""A fresh process answers questions without torch; on a CPU it embeds documents without it too
(int8 through the ONNX export), and torch loads only where a GPU may be there or another
precision is chosen.

Why: importing torch, transformers and sentence-transformers took ~6 s of a 6.5 s `qa ask`,
although questions are encoded by the int8 ONNX model (`qa.models.query_encoding`). These tests run
the real thing in a new interpreter (real model files, real index) and read its `sys.modules`;
timings live in benchmarks/startup.py, not here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa.index.coordinator import Index
from qa.models.precision import INT8, PRECISION_VARIABLE, gpu_ruled_out
from qa.models.query_encoding import BACKEND_VARIABLE, OnnxQueryEncoder

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
# How often a starting app is polled for its page (not a timing bar either).
POLL_S = 0.2
# torch's native library, as the server's memory map names it (Linux /proc).
TORCH_LIBRARY = "libtorch"

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
quotes_exact = [index.document(c.doc_id).text[c.start : c.end] == c.quote for c in answer.citations]
query_backend = index.embedder().query_backend
report = index.add([new_file])
new_answer = index.answer(new_question)
print(json.dumps({
    "answer": answer.text,
    "quotes_exact": quotes_exact,
    "after_answer": after_answer,
    "query_backend": query_backend,
    "added": report.added,
    "after_add": loaded(),
    "model_loaded": index.embedder().model_loaded,
    "document_precision": index.embedder().precision,
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
    assert "backstop" in fresh_run["answer"] and fresh_run["quotes_exact"] and all(fresh_run["quotes_exact"])


def test_adding_a_document_from_that_state_loads_the_document_model_and_indexes_it(fresh_run):
    assert fresh_run["added"] == ["lighthouse"]
    assert fresh_run["model_loaded"]
    if not (fresh_run["document_precision"] == INT8 and gpu_ruled_out()):  # else: the next test
        assert {"torch", "sentence_transformers"} <= set(fresh_run["after_add"])
    assert "gradio" not in fresh_run["after_add"]
    assert "green" in fresh_run["new_answer"] and fresh_run["new_cited"] == ["lighthouse"]


def test_documents_run_in_int8_without_torch_where_no_gpu_can_be_there(fresh_run):
    if not gpu_ruled_out() or os.environ.get(PRECISION_VARIABLE):
        pytest.skip("a GPU driver is loaded, or $QA_EMBED_PRECISION chooses: torch decides the device")
    assert fresh_run["document_precision"] == INT8
    assert not {"torch", "sentence_transformers", "transformers"} & set(fresh_run["after_add"])


def test_read_only_cli_commands_import_neither_torch_nor_gradio(index_path: Path):
    seen = _run_fresh(CLI_COMMANDS, str(index_path), QUESTION, ",".join(TORCH_STACK + WEB_STACK))
    assert seen and all(code == 0 and loaded == [] for code, loaded in seen.values()), seen


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ask_app(base: str, question: str) -> str:
    """One answer's text through Gradio's HTTP API for the `/ask` endpoint."""
    request = urllib.request.Request(
        f"{base}/gradio_api/call/ask",
        data=json.dumps({"data": [question]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=CHILD_TIMEOUT_S) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event_id}", timeout=CHILD_TIMEOUT_S) as stream:
        lines = [raw.decode().strip() for raw in stream]
    data = [line.split(":", 1)[1] for line in lines if line.startswith("data:")]
    return json.loads(data[-1])[0]["text"]


def _wait_for_page(app: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        assert app.poll() is None, f"app.py exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"app.py served no page:\n{log.read_text()[-3000:]}"
        time.sleep(POLL_S)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the server's memory map (Linux /proc)")
def test_app_answers_through_its_server_without_loading_torch(index_path: Path, tmp_path: Path):
    """`python app.py` as a user starts it (its Gradio stub-writing skip included) answers the
    first question, and the server process never mapped torch's library."""
    base = f"http://127.0.0.1:{_free_port()}"
    log = tmp_path / "app.log"
    env = {k: v for k, v in os.environ.items() if k != BACKEND_VARIABLE and not k.startswith("QA_AUTH_")}
    env.update(QA_DATA=str(tmp_path / "data"), GRADIO_TEMP_DIR=str(tmp_path / "gradio-tmp"))
    with open(log, "w") as output:
        app = subprocess.Popen(
            [sys.executable, str(PROJECT / "app.py"), "--port", base.rsplit(":", 1)[1], "--index", str(index_path)],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_page(app, base, log)
            text = _ask_app(base, QUESTION)
            mapped = Path(f"/proc/{app.pid}/maps").read_text()
        finally:
            app.terminate()
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()
    assert "backstop" in text and "[1]" in text
    assert TORCH_LIBRARY not in mapped
