"""qa/cli.py: commands, JSON output, exit codes and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from qa.cli import main

from conftest import SEEDS


def test_search_prints_ranked_passages(seed_index, capsys):
    assert main(["search", "what is the US backstop position?", "-k", "2", "--index", str(seed_index.path)]) == 0
    out = capsys.readouterr().out
    top = seed_index.retrieve("what is the US backstop position?", k=1)[0]
    assert out.startswith("1. [") and f"paragraph {top.paragraph}" in out.split("\n2. [")[0] and "2. [" in out


def test_search_json_has_exact_spans(seed_index, capsys):
    assert main(["search", "Kursk", "-k", "3", "--json", "--index", str(seed_index.path)]) == 0
    passages = json.loads(capsys.readouterr().out)
    assert len(passages) == 3
    for p in passages:
        text = seed_index.document(p["doc_id"]).text
        assert text[p["start"] : p["end"]] == p["text"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "   "], "question is empty"),
        (["search", "Kursk", "-k", "0"], "between 1 and 100"),
        (["search", "x" * 5000], "limit is 2,000"),
        (["ask", ""], "question is empty"),
    ],
)
def test_bad_input_exits_2_with_one_line(seed_index, capsys, argv, message):
    assert main([*argv, "--index", str(seed_index.path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_index_exits_1_naming_it(tmp_path: Path, capsys):
    assert main(["search", "Kursk", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "no index at" in err and "qa index" in err


def test_index_command_builds_and_reports_skips(tmp_path: Path, embedder, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "empty.txt").write_text("")
    assert main(["index", str(corpus), "--index", str(tmp_path / "index")]) == 0
    captured = capsys.readouterr()
    assert "indexed 1 document(s), 7 passage(s)" in captured.out
    assert "skipped" in captured.err and "empty.txt: file is empty" in captured.err


def test_index_sentence_vectors_late_is_recorded_and_kept_by_adds(tmp_path: Path, embedder, capsys):
    from qa.index.coordinator import Index

    path = tmp_path / "index"
    assert main(["index", str(SEEDS), "--index", str(path), "--sentence-vectors", "late"]) == 0
    index = Index.open(path)
    assert index.settings.sentence_vectors == "late"
    answer = index.answer("What is the US backstop position?")
    cited = answer.citations[0]
    assert not answer.abstained and "backstop" in cited.quote
    assert index.document(cited.doc_id).text[cited.start : cited.end] == cited.quote
    note = tmp_path / "note.txt"
    note.write_text("The harbour reopened in March after the storm. Ferries run twice a day.")
    index.add([note])
    assert Index.open(path).settings.sentence_vectors == "late"
    with pytest.raises(SystemExit) as exit_code:
        main(["index", str(SEEDS), "--index", str(path), "--sentence-vectors", "fast"])
    assert exit_code.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err


def test_a_bad_question_is_refused_before_any_index_is_built(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "default-index"))
    assert main(["ask", "   "]) == 2
    assert capsys.readouterr().err.strip() == "qa: error: question is empty: type a question"
    assert not (tmp_path / "default-index").exists()


def test_nothing_to_index_names_the_paths_plainly(tmp_path: Path, capsys):
    assert main(["index", str(tmp_path / "missing"), "--index", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert f"no documents to index under {tmp_path / 'missing'}: skipped" in err and "['" not in err


def test_index_with_nothing_loadable_exits_2(tmp_path: Path, embedder, capsys):
    (tmp_path / "empty.txt").write_text("")
    assert main(["index", str(tmp_path), "--index", str(tmp_path / "index")]) == 2
    assert "no documents to index" in capsys.readouterr().err


def test_console_script_runs_end_to_end(seed_index):
    """The installed `qa` entry point, in a real subprocess."""
    qa_bin = shutil.which("qa") or pytest.fail("the qa console script is not installed")
    result = subprocess.run(
        [qa_bin, "search", "what is the US backstop position?", "-k", "1", "--json", "--index", str(seed_index.path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (found,) = json.loads(result.stdout)
    assert "backstop" in found["text"]
    assert seed_index.document(found["doc_id"]).text[found["start"] : found["end"]] == found["text"]
    result = subprocess.run([qa_bin, "search", " ", "--index", str(seed_index.path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_index_compact_merges_segments(tmp_path: Path, embedder, capsys):
    from qa.index.coordinator import Index

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    assert main(["index", str(corpus), "--index", str(tmp_path / "index")]) == 0
    note = tmp_path / "note.txt"
    note.write_text("The ferry to the island was cancelled because of fog.")
    Index.open(tmp_path / "index").add([note])
    capsys.readouterr()
    assert main(["index", "--compact", "--index", str(tmp_path / "index")]) == 0
    assert "merged 2 segment(s): 1 segment(s), 2 document(s)" in capsys.readouterr().out
    assert len(Index.open(tmp_path / "index").segments()) == 1
    assert main(["index", "--index", str(tmp_path / "index")]) == 2
    assert "give the files or folders" in capsys.readouterr().err


def test_docs_counts_passages_in_words_that_agree(tmp_path: Path, embedder, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("The otters of Lindenhof fish at dusk.\n", encoding="utf-8")
    assert main(["index", str(corpus), "--index", str(tmp_path / "index")]) == 0
    capsys.readouterr()
    assert main(["docs", "--index", str(tmp_path / "index")]) == 0
    line = capsys.readouterr().out.strip()
    assert "\t1 passage\t" in line and "passages" not in line


def test_chat_carries_the_conversation_and_goes_on_after_a_refused_question(seed_index, capsys, monkeypatch):
    import io

    lines = "Who is Jonathan Powell?\nWho is he?\n" + "x" * 2500 + "\nWhat is happening in Kursk?\nexit\nnever asked\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["chat", "--index", str(seed_index.path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\nSources:\n") == 3  # three answered, the over-long one refused
    assert captured.out.split("Sources:")[1].count("Jonathan Powell") >= 1  # "he" resolved from the first turn
    assert captured.err.strip() == "qa: error: question is 2,500 characters long; the limit is 2,000"
    assert "Kursk" in captured.out.split("Sources:")[2]


def test_ask_markdown_is_the_chats_export_of_one_answer(seed_index, capsys):
    from qa.serving.markdown import conversation_markdown

    assert main(["ask", "What is the US backstop position?", "--markdown", "--index", str(seed_index.path)]) == 0
    out = capsys.readouterr().out
    assert out == conversation_markdown([seed_index.answer("What is the US backstop position?")])
    assert out.startswith("# Conversation with qa\n\n## 1. What is the US backstop position?") and "\n  > " in out
