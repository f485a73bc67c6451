"""qa/index/merging.py: the tiered merge policy, merges that keep every live document, and deletes that
land while a merge runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from qa.index import merging
from qa.index.coordinator import Index
from qa.index.store import Manifest, SegmentEntry

from conftest import SEEDS

SEED_ID = "000_56409ce4796d023f"


def _entries(*chunks: int, deleted: dict[int, int] | None = None) -> tuple[SegmentEntry, ...]:
    deleted = deleted or {}
    return tuple(
        SegmentEntry(f"s{i}", documents=10, chunks=c, checksum="", deleted=frozenset(range(deleted.get(i, 0))))
        for i, c in enumerate(chunks)
    )


def test_nothing_to_merge_below_a_full_tier():
    assert merging.plan_merge(_entries(*[5] * (merging.MERGE_FACTOR - 1))) == ()


def test_a_full_tier_merges_its_smallest_segments():
    small = [3] * merging.MERGE_FACTOR
    plan = merging.plan_merge(_entries(50_000, *small, 7))
    assert len(plan) == merging.MERGE_FACTOR and "s0" not in plan


def test_a_segment_with_many_deletes_is_rewritten():
    assert merging.plan_merge(_entries(100, 100, deleted={1: 4})) == ("s1",)


def test_full_compaction_merges_everything_once():
    assert merging.plan_merge(_entries(100, 200), full=True) == ("s0", "s1")
    assert merging.plan_merge(_entries(100), full=True) == ()
    assert merging.plan_merge(_entries(100, deleted={0: 1}), full=True) == ("s0",)


def test_deletes_made_during_a_merge_carry_over():
    # The merge began with s0's row 0 already deleted (so not copied) and copied s0's rows
    # 1..9 and s1's rows 0..9; by commit time s0's row 1 was deleted too.
    live = Manifest(5, "", None, _entries(10, 10, deleted={0: 2}))  # type: ignore[arg-type]
    new_rows = {("s0", row): row - 1 for row in range(1, 10)} | {("s1", row): 9 + row for row in range(10)}
    merged = SegmentEntry("m", documents=19, chunks=30, checksum="")
    result = merging.apply_merge(live, ("s0", "s1"), merged, new_rows)
    assert [s.name for s in result.segments] == ["m"]
    assert result.segments[0].deleted == frozenset({0})  # s0's row 1, now row 0


def test_merging_segments_whose_names_are_gone_is_a_conflict():
    import pytest

    from qa.index.store import CommitConflict

    live = Manifest(5, "", None, _entries(10))  # type: ignore[arg-type]
    with pytest.raises(CommitConflict):
        merging.apply_merge(live, ("s0", "gone"), None, {})


CAPES = ["Finisterre", "Wrath", "Horn", "Agulhas", "Hatteras", "Trafalgar", "Comorin", "Leeuwin", "Farewell", "Spartel", "Matapan", "Verde"]


def _notes(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(count):
        path = folder / f"note{n}.txt"
        path.write_text(f"The lighthouse keeper at Cape {CAPES[n]} logged {n * 7 + 2} ships passing.")
        files.append(path)
    return files


def test_adds_trigger_a_background_merge_that_keeps_every_document(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = Index.build([corpus], tmp_path / "index")
    for file in _notes(tmp_path / "notes", merging.MERGE_FACTOR):
        index.add([file])
    index.wait_for_merges()
    assert len(index.segments()) < merging.MERGE_FACTOR
    assert {d.doc_id for d in index.documents()} == {SEED_ID} | {f"note{n}" for n in range(merging.MERGE_FACTOR)}
    assert index.retrieve("How many ships passed Cape Agulhas?", k=1)[0].doc_id == "note3"


def test_compaction_gives_the_same_answers_in_one_segment(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = Index.build([corpus], tmp_path / "index")
    files = _notes(tmp_path / "notes", 3)
    for file in files:
        index.add([file])
    index.remove("note1")
    question = "what is the US backstop position?"
    before = index.retrieve(question, k=5)
    sentences_before = index.pinned().chunk_sentences(before[0].chunk_id)
    index.wait_for_merges()  # the segment left empty by the remove is dropped in the background
    segments = len(index.segments())
    assert segments > 1 and index.compact() == segments
    assert len(index.segments()) == 1 and not index.segments()[0].deleted
    after = index.retrieve(question, k=5)
    assert [(p.doc_id, p.start, p.end) for p in after] == [(p.doc_id, p.start, p.end) for p in before]
    np.testing.assert_allclose([p.dense_score for p in after], [p.dense_score for p in before], rtol=1e-5)
    sentences_after = index.pinned().chunk_sentences(after[0].chunk_id)
    assert sentences_after[0] == sentences_before[0]
    np.testing.assert_array_equal(sentences_after[1], sentences_before[1])
    assert {d.doc_id for d in Index.open(tmp_path / "index").documents()} == {SEED_ID, "note0", "note2"}
    added = {d.doc_id: d.added for d in index.documents()}
    assert added[SEED_ID] <= added["note0"]  # dates added survive the merge
