"""qa/models/reading.py and the reader's answers: the shipped int8 model, its checksum, short answers
that are exact in their documents and inside a cited quote, and abstention on text that lacks
the answer. Everything runs the real shipped model through onnxruntime."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answering.compose import AnswerConfig, answer_json
from qa.checksums import sha256_file
from qa.cli import main
from qa.loading.documents import Document
from qa.index.coordinator import Index
from qa.models.reading import (
    READER_FILE, READER_SETTINGS_FILE, ReaderProblem, Window, load_reader, open_reader, reader_in_use,
)
from qa.serving.rendering import answer_html, sources_html

from conftest import PROJECT

PACKAGE = PROJECT / "qa" / "models"  # where the reader ships
POWELL = "The talks in London are led by Jonathan Powell, the national security adviser."


def test_the_reader_finds_the_span_and_its_offsets_are_exact():
    reader = load_reader()
    [reading] = reader.read("Who leads the talks in London?", [Window("doc", 100, POWELL)])
    assert "Jonathan Powell" in POWELL[reading.start : reading.end]
    assert reading.margin > reader.abstain_margin


def test_one_read_of_windows_of_different_lengths_answers_each_in_order():
    reader = load_reader()
    windows = [Window("a", 0, "The sky was grey all week."), Window("b", 0, POWELL + " He arrived on Monday.")]
    readings = reader.read("Who leads the talks in London?", windows)
    assert len(readings) == 2
    assert readings[1].margin > readings[0].margin
    for window, reading in zip(windows, readings):
        assert 0 <= reading.start <= reading.end <= len(window.text)


def test_a_window_reads_the_same_whatever_is_read_beside_it():
    # The int8 model scales its activations per call: read in one padded batch, a window's
    # scores moved with its company. Each window is now its own call.
    reader = load_reader()
    question = "Who leads the talks in London?"
    alone = reader.read(question, [Window("b", 0, POWELL)])
    company = [Window("a", 0, "The sky was grey all week, and the wind came from the sea. " * 6), Window("b", 0, POWELL)]
    beside = reader.read(question, company)[1]
    assert (beside.start, beside.end, beside.margin) == (alone[0].start, alone[0].end, alone[0].margin)


def test_confidence_rises_with_the_margin():
    reader = load_reader()
    assert 0.0 < reader.confidence(-5.0) < reader.confidence(0.0) < reader.confidence(5.0) < 1.0


def test_a_damaged_or_missing_model_is_a_clear_problem(tmp_path: Path):
    model, settings = tmp_path / READER_FILE, tmp_path / READER_SETTINGS_FILE
    shutil.copy(PACKAGE / READER_SETTINGS_FILE, settings)
    with pytest.raises(ReaderProblem, match="missing"):
        open_reader(model, settings)
    data = bytearray((PACKAGE / READER_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ReaderProblem, match="damaged"):
        open_reader(model, settings)
    settings.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReaderProblem, match="settings"):
        open_reader(model, settings)


def test_a_model_onnxruntime_cannot_run_is_a_clear_problem(tmp_path: Path):
    # What an onnxruntime older than the reader's kernels meets: a file it cannot load.
    model, settings = tmp_path / READER_FILE, tmp_path / READER_SETTINGS_FILE
    model.write_bytes(b"not an onnx graph")
    raw = json.loads((PACKAGE / READER_SETTINGS_FILE).read_text(encoding="utf-8"))
    settings.write_text(json.dumps({**raw, "sha256": sha256_file(model)}), encoding="utf-8")
    with pytest.raises(ReaderProblem, match="cannot be run by this onnxruntime") as raised:
        open_reader(model, settings)
    assert "\n" not in str(raised.value)


def test_a_reader_in_use_answers_inside_its_block_only():
    shipped = load_reader()
    other = open_reader(PACKAGE / READER_FILE, PACKAGE / READER_SETTINGS_FILE)
    assert other is not shipped
    with reader_in_use(other):
        assert load_reader() is other
    assert load_reader() is shipped


def test_answering_never_imports_torch():
    code = (
        "import sys; from qa.models.reading import load_reader, Window; "
        "r = load_reader(); r.read('Who?', [Window('d', 0, 'Powell leads.')]); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _check_short_answer(index: Index, answer) -> None:
    short = answer.short_answer
    assert short is not None and short.text.strip()
    assert index.document(short.doc_id).text[short.start : short.end] == short.text
    cited = next(c for c in answer.citations if c.number == short.number)
    assert cited.doc_id == short.doc_id and cited.start <= short.start and short.end <= cited.end


def test_the_backstop_answer_marks_its_short_answer_inside_the_quote(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?")
    assert not answer.abstained and "backstop" in answer.citations[0].quote
    _check_short_answer(seed_index, answer)
    payload = answer_json(answer)
    assert payload["short_answer"]["text"] == answer.short_answer.text
    assert payload["short_answer"]["number"] == answer.short_answer.number


def test_an_abstained_answer_has_no_short_answer(seed_index: Index):
    answer = seed_index.answer("Who won the 2022 World Cup?")
    assert answer.abstained and answer.short_answer is None
    assert answer_json(answer)["short_answer"] is None


def test_same_topic_text_without_the_answer_abstains(seed_index: Index):
    # On the seed's topic (Trump, Putin, the ceasefire) and not answered by it: the off-topic
    # rule lets it through, the reader's no-answer score must not.
    answer = seed_index.answer("When did Trump meet Putin?")
    assert answer.abstained
    assert answer.margin is not None and answer.margin < load_reader().abstain_margin


def test_without_the_reader_the_composer_before_it_answers(seed_index: Index):
    answer = seed_index.answer("What is the US backstop position?", config=AnswerConfig(reader=False))
    assert not answer.abstained and answer.short_answer is None and answer.margin is None


def test_a_short_answer_in_a_document_is_escaped_and_bold_in_the_chat(tmp_path: Path, embedder):
    text = "Inventory note\n\nThe <script>alert(1)</script> vault key is kept by Mr. Harold Finch in room 12."
    doc = Document("note", "Inventory note", "notes", "note.txt", text, ((16, len(text)),), "h")
    index = Index.from_documents([doc], tmp_path / "index", progress=False)
    answer = index.answer("Who keeps the vault key?")
    assert not answer.abstained
    _check_short_answer(index, answer)
    html = answer_html(answer, 1) + sources_html(answer, 1)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('<strong class="qa-short">') == 2  # in the answer and on its source card
    assert f'<strong class="qa-short">{answer.short_answer.text}</strong>' in html


def test_qa_ask_marks_the_short_answer_when_piped(seed_index: Index, capsys):
    assert main(["ask", "What is the US backstop position?", "--index", str(seed_index.path)]) == 0
    out = capsys.readouterr().out
    short = seed_index.answer("What is the US backstop position?").short_answer
    assert f"«{short.text}»" in out
    assert "\033[1m" not in out  # no terminal: no escape codes
    assert main(["ask", "What is the US backstop position?", "--index", str(seed_index.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["short_answer"]["text"] == short.text


ZEBRAS = (
    "Farm notes\n\n"
    "The Lindenhof zebras graze on clover in the north meadow every morning.\n\n"
    "A wooden fence was painted blue in 2019.\n\n"
    "At night the Lindenhof zebras sleep in the old stone barn by the river."
)
TWO_PARTS = "What do the Lindenhof zebras do in the morning and at night?"
SURE = 4.0  # a runner-up margin the reader reaches only for a sentence that answers


def test_a_runner_up_the_reader_is_sure_of_is_quoted_too(tmp_path: Path, embedder):
    # Each part of the question has its own sentence; the reader is surer of the first, by
    # more than second_quote_margin (0 here), so only sure_quote_margin quotes the second (its
    # margin is ~5.8 with the shipped file: over 4, under the shipped 6, chosen on SQuAD train
    # for length, which this test does not pin).
    paragraphs = tuple((m.start(), m.end()) for m in re.finditer(r"[^\n]+", ZEBRAS))
    doc = Document("zebras", "Farm notes", "notes", "zebras.txt", ZEBRAS, paragraphs, "h")
    index = Index.from_documents([doc], tmp_path / "index", progress=False)
    one = index.answer(TWO_PARTS, config=AnswerConfig(second_quote_margin=0.0, sure_quote_margin=1e9))
    both = index.answer(TWO_PARTS, config=AnswerConfig(second_quote_margin=0.0, sure_quote_margin=SURE))
    assert [s.text for s in one.sentences] == [ZEBRAS.split("\n\n")[1]]
    assert [s.text for s in both.sentences] == [ZEBRAS.split("\n\n")[1], ZEBRAS.split("\n\n")[3]]
    assert [s.score >= SURE for s in both.sentences] == [True, True]  # each quoted for its own margin
    _check_short_answer(index, both)
