"""qa/index/segment_commits.py: staged segments land with one manifest swap, or not at all."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from qa.index import store
from qa.loading.documents import Document
from qa.index.coordinator import Index
from qa.index.ingest import embed_documents
from qa.index.segment_commits import StagedSegment, commit_segments, write_staged


def _note(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id, "test", f"/nowhere/{doc_id}.txt", text, ((0, len(text)),), doc_id)


def _staged_note(root: Path, settings, embedder, doc_id: str, text: str, stack: contextlib.ExitStack) -> StagedSegment:
    data = embed_documents([_note(doc_id, text)], settings, embedder, [store.now()])
    return write_staged(stack.enter_context(store.staging(root)), data, settings.bm25)


def test_staged_segments_are_named_by_the_new_manifest_and_answer(tmp_path: Path, seed_index: Index, embedder):
    root = tmp_path / "index"
    shutil.copytree(seed_index.path, root)
    live = store.read_manifest(root)
    with contextlib.ExitStack() as stack:
        staged = [
            _staged_note(root, live.settings, embedder, "herons", "Nine herons nest by the weir.", stack),
            _staged_note(root, live.settings, embedder, "otters", "Two otters live under the mill.", stack),
        ]
        manifest = commit_segments(
            root, live.generation, staged, lambda current, entries: replace(current, segments=current.segments + entries)
        )
    assert manifest.generation == live.generation + 1
    assert [s.name for s in manifest.segments[-2:]] == [s.entry.name for s in staged]
    assert all((root / s.entry.name).is_dir() and not s.folder.exists() for s in staged)
    index = Index.open(root)
    assert {"herons", "otters"} <= {d.doc_id for d in index.documents()}
    assert index.retrieve("How many herons nest by the weir?", k=1)[0].doc_id == "herons"


def test_a_stale_commit_moves_no_staged_folder(tmp_path: Path, seed_index: Index, embedder):
    root = tmp_path / "index"
    shutil.copytree(seed_index.path, root)
    live = store.read_manifest(root)
    store.commit(root, live.generation, lambda m: m)  # another writer got there first
    with contextlib.ExitStack() as stack:
        staged = [_staged_note(root, live.settings, embedder, "herons", "Nine herons nest by the weir.", stack)]
        with pytest.raises(store.CommitConflict):
            commit_segments(root, live.generation, staged, lambda current, entries: current)
        assert staged[0].folder.is_dir() and not (root / staged[0].entry.name).exists()
    assert store.read_manifest(root).segments == live.segments
