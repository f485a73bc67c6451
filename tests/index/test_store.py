"""qa/index/store.py and the writers of qa/index/coordinator.py: compare-and-set commits, no lost updates across
threads and processes, readers that follow other writers, old generations collected."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.index import store
from qa.index.coordinator import Index

from conftest import SEEDS

SEED_ID = "000_56409ce4796d023f"


def _seeded_index(tmp_path: Path, seed_index: Index) -> Path:
    path = tmp_path / "index"
    shutil.copytree(seed_index.path, path)
    return path


def _notes(folder: Path, prefix: str, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        path = folder / f"{prefix}{n}.txt"
        path.write_text(f"Field note {prefix} {n}: the {prefix} team counted {n + 3} herons near the weir.")
        files.append(path)
    return files


def test_a_commit_on_a_stale_generation_is_refused(tmp_path: Path, seed_index: Index):
    path = _seeded_index(tmp_path, seed_index)
    live = store.read_manifest(path)
    store.commit(path, live.generation, lambda m: m)
    with pytest.raises(store.CommitConflict):
        store.commit(path, live.generation, lambda m: m.with_segments(()))
    assert store.read_manifest(path).generation == live.generation + 1
    assert store.read_manifest(path).segments == live.segments


def test_concurrent_thread_writers_lose_nothing(tmp_path: Path, seed_index: Index, embedder):
    path = _seeded_index(tmp_path, seed_index)
    shared = Index.open(path)
    other = Index.open(path)  # a second object on the same folder commits by compare-and-set
    batches = [_notes(tmp_path / f"t{t}", f"t{t}x", 5) for t in range(4)]
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def add(files: list[Path], index: Index) -> None:
        try:
            for file in files:
                index.add([file])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def refresh() -> None:
        try:
            while not writers_done.is_set():
                shared.refresh()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=add, args=(b, shared if i % 2 else other)) for i, b in enumerate(batches)]
    refresher = threading.Thread(target=refresh)
    refresher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    refresher.join()
    assert not errors
    shared.wait_for_merges()
    other.wait_for_merges()
    ids = {d.doc_id for d in Index.open(path).documents()}
    assert ids == {SEED_ID} | {f"t{t}x{n}" for t in range(4) for n in range(5)}


def test_a_writer_that_keeps_losing_the_race_still_commits(tmp_path: Path, seed_index: Index, embedder):
    """Another writer commits as fast as it can for as long as the adds run: each add must
    still land (after `OPTIMISTIC_ATTEMPTS` lost races it commits under the lock)."""
    path = _seeded_index(tmp_path, seed_index)
    index = Index.open(path)
    adds_done = threading.Event()
    bumps: list[int] = []

    def bump() -> None:
        while True:  # at least one commit, then until the adds are done
            bumps.append(store.commit(path, store.ANY_GENERATION, lambda live: live).generation)
            if adds_done.is_set():
                return

    bumper = threading.Thread(target=bump)
    bumper.start()
    try:
        files = _notes(tmp_path / "race", "race", 6)
        for file in files:
            index.add([file])
    finally:
        adds_done.set()
        bumper.join()
    assert bumps
    assert {d.doc_id for d in Index.open(path).documents()} == {SEED_ID} | {f"race{n}" for n in range(6)}


def test_a_refresh_that_finds_nothing_commits_nothing(tmp_path: Path, seed_index: Index):
    path = _seeded_index(tmp_path, seed_index)
    before = store.read_manifest(path).generation
    Index.open(path).refresh()
    assert store.read_manifest(path).generation == before


WRITER_SCRIPT = """
import sys
from pathlib import Path
from qa.index.coordinator import Index

index = Index.open(sys.argv[1])
for name in sys.argv[2:]:
    index.add([name])
index.wait_for_merges()
print("acknowledged", len(sys.argv) - 2)
"""


def test_concurrent_processes_lose_nothing(tmp_path: Path, seed_index: Index, embedder):
    path = _seeded_index(tmp_path, seed_index)
    batches = [_notes(tmp_path / f"p{p}", f"p{p}x", 8) for p in range(2)]
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path), *map(str, batch)], stdout=subprocess.PIPE, text=True)
        for batch in batches
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert all("acknowledged 8" in out for out in outputs)
    ids = {d.doc_id for d in Index.open(path).documents()}
    assert ids == {SEED_ID} | {f"p{p}x{n}" for p in range(2) for n in range(8)}


def test_an_open_index_follows_commits_of_other_writers(tmp_path: Path, seed_index: Index, embedder):
    path = _seeded_index(tmp_path, seed_index)
    reader = Index.open(path)
    writer = Index.open(path)
    (heron,) = _notes(tmp_path / "h", "heron", 1)
    writer.add([heron])
    assert reader.retrieve("How many herons near the weir?", k=1)[0].doc_id == "heron0"
    writer.remove(SEED_ID)
    assert SEED_ID not in {p.doc_id for p in reader.retrieve("what is the US backstop position?", k=5)}


def test_a_pinned_search_keeps_its_generation(tmp_path: Path, seed_index: Index, embedder):
    path = _seeded_index(tmp_path, seed_index)
    index = Index.open(path)
    pinned = index.pinned()
    index.remove(SEED_ID)
    passage = pinned.search("what is the US backstop position?", k=1).passages[0]
    assert passage.doc_id == SEED_ID and "backstop" in passage.text  # the removed document is still readable through the pin
    sentences, vectors = pinned.chunk_sentences(passage.chunk_id)
    assert sentences and len(sentences) == len(vectors)


def test_old_generations_and_unreferenced_segments_are_collected(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = Index.build([corpus], tmp_path / "index")
    for file in _notes(tmp_path / "n", "n", 4):
        index.add([file])
        index.remove(file.stem)
    index.wait_for_merges()
    manifests = sorted((tmp_path / "index").glob(store.MANIFEST_PREFIX + "*"))
    assert len(manifests) == store.KEPT_GENERATIONS + 1
    named = set()
    for generation_file in manifests:
        named |= {s["name"] for s in __import__("json").loads(generation_file.read_text())["segments"]}
    on_disk = {p.name for p in (tmp_path / "index").glob(store.SEGMENT_PREFIX + "*")}
    assert on_disk <= named


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_staging_folders_of_another_machine_are_left_until_long_idle(tmp_path: Path):
    """On a folder shared by several machines a pid means nothing elsewhere: a staging folder
    named with another host is kept while recent, whatever that pid is here."""
    import os
    import socket

    dead = _dead_pid()
    here = tmp_path / store.staging_name(host=socket.gethostname(), pid=dead)
    elsewhere = tmp_path / store.staging_name(host="worker-7.cluster", pid=dead)
    stale_elsewhere = tmp_path / store.staging_name(host="worker-8.cluster", pid=os.getpid())
    older_qa = tmp_path / f"{store.BUILDING_PREFIX}{dead}-0123456789ab"
    mine = tmp_path / store.staging_name()
    for folder in (here, elsewhere, stale_elsewhere, older_qa, mine):
        folder.mkdir()
    idle_since = stale_elsewhere.stat().st_mtime - store.ABANDONED_ELSEWHERE_SECONDS - 60
    os.utime(stale_elsewhere, (idle_since, idle_since))
    store.remove_abandoned_builds(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([elsewhere.name, mine.name])
