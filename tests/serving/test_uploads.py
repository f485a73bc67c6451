"""qa/serving/uploads.py: safe names, limits, no silent overwrites, and indexing into a real index."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from qa.index.coordinator import Index
from qa.serving.uploads import (
    ALLOWED_SUFFIXES,
    UploadRejected,
    add_uploads,
    check_upload,
    max_upload_bytes,
    remove_document,
    safe_filename,
    store_upload,
    uploads_dir,
)

from conftest import SEEDS


@pytest.mark.parametrize(
    "name, safe",
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\win.INI.md", "win.INI.md"),
        ("/abs/path/Report.PDF", "Report.pdf"),
        (".hidden.md", "hidden.md"),
        ("...md", "upload.md"),
        ("a b\tc\x00d.txt", "a bcd.txt"),  # control characters dropped
        ("résumé — final!.docx", "résumé - final.docx"),
        ("CON.txt", "_CON.txt"),
        ("we<i>rd|na*me?.html", "we-i-rd-na-me.html"),
        ("page.htm", "page.htm"),
        ("x.markdown", "x.markdown"),
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_safe_filename_is_bounded_and_never_leaves_the_folder():
    long = safe_filename("a" * 500 + ".txt")
    assert len(long) <= 100 and long.endswith(".txt")
    for hostile in ["../x.txt", "..", "/", "a/../../b.md", "..\\..\\c.md", "\u202egnp.txt"]:
        try:
            name = safe_filename(hostile)
        except UploadRejected:
            continue
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert (Path("/srv/uploads") / name).resolve().parent == Path("/srv/uploads")


@pytest.mark.parametrize("name", ["tool.exe", "x.pdf.exe", "data.json", "noext", "x.meta.json", "script.js"])
def test_unsupported_types_are_refused_naming_the_file(name):
    with pytest.raises(UploadRejected) as error:
        safe_filename(name)
    assert str(error.value).startswith(f"{name}:") and ".txt" in str(error.value)


def test_size_limit_has_a_clear_message(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("QA_MAX_UPLOAD_MB", "0.001")  # 1 KB
    assert max_upload_bytes() == 1048
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(UploadRejected, match=r"^big.txt: the file is 5 KB; the limit is 1 KB per file$"):
        check_upload(big)
    empty = tmp_path / "empty.md"
    empty.write_text("")
    with pytest.raises(UploadRejected, match="empty.md: the file is empty"):
        check_upload(empty)
    monkeypatch.delenv("QA_MAX_UPLOAD_MB")
    assert max_upload_bytes() == 10 * 1024 * 1024


def test_storing_never_overwrites_a_different_file(tmp_path: Path):
    folder = tmp_path / "uploads"
    first, second = tmp_path / "a" / "notes.txt", tmp_path / "b" / "notes.txt"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text("first version")
    second.write_text("second version")
    one = store_upload(first, folder=folder)
    two = store_upload(second, folder=folder)
    again = store_upload(first, folder=folder)
    assert one.path == folder / "notes.txt" and one.created and not one.renamed
    assert two.path == folder / "notes-2.txt" and two.created and two.renamed
    assert again.path == one.path and not again.created  # identical content: reused
    assert one.path.read_text() == "first version" and two.path.read_text() == "second version"


def test_store_uses_the_sanitised_name_inside_the_folder(tmp_path: Path):
    source = tmp_path / "upload.bin"
    source.write_text("hello")
    stored = store_upload(source, "../../../evil.md", folder=tmp_path / "uploads")
    assert stored.path == tmp_path / "uploads" / "evil.md"
    assert not (tmp_path.parent / "evil.md").exists()


def test_default_folder_is_under_the_data_dir(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("QA_DATA", str(tmp_path / "data"))
    assert uploads_dir() == tmp_path / "data" / "uploads"


@pytest.fixture()
def index(tmp_path: Path, embedder) -> Index:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return Index.build([corpus], tmp_path / "index")


def _file(folder: Path, name: str, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_uploads_become_answerable_and_bad_files_say_why(index: Index, tmp_path: Path):
    incoming = tmp_path / "incoming"
    good = _file(incoming, "Quokka notes.md", "# Quokka Council\n\nThe Quokka Council meets every Tuesday in the old mill at Lindenhof.\n")
    broken = _file(incoming, "scan.pdf", b"%PDF-1.4 this is not really a pdf")
    empty = _file(incoming, "blank.txt", "   \n")
    wrong = _file(incoming, "tool.exe", b"MZ\x00\x00")
    folder = tmp_path / "uploads"
    steps: list[tuple[float, str]] = []
    outcomes = add_uploads(index, [good, broken, empty, wrong], folder=folder, progress=lambda f, m: steps.append((f, m)))

    assert [o.ok for o in outcomes] == [True, False, False, False]
    assert outcomes[0].message == "Quokka notes.md: added as “Quokka Council” (1 passage)"
    assert outcomes[1].message.startswith("scan.pdf: cannot be indexed: not a readable PDF")
    assert outcomes[2].message == "blank.txt: file is empty" or outcomes[2].message.startswith("blank.txt: ")
    assert outcomes[3].message.startswith("tool.exe: type '.exe' is not supported")
    assert sorted(p.name for p in folder.iterdir()) == ["Quokka notes.md"]  # failed files not kept
    assert steps[-1] == (1.0, "done") and all(0 <= f <= 1 for f, _ in steps)

    answer = index.answer("When does the Quokka Council meet?")
    assert not answer.abstained and answer.citations[0].doc_id == outcomes[0].doc_id
    assert "every Tuesday" in answer.citations[0].quote
    assert index.size[0] == 2


def test_an_upload_is_parsed_once(index: Index, tmp_path: Path, monkeypatch):
    """The check before storing and the indexing share one parse: every converter call goes
    through `load_file` (the uploads module's and the loader's own), counted here."""
    import qa.loading.documents as documents
    import qa.serving.uploads as uploads

    parsed: list[str] = []

    def counting(path, *args, **kwargs):
        parsed.append(Path(path).name)
        return real(path, *args, **kwargs)

    real = documents.load_file
    monkeypatch.setattr(documents, "load_file", counting)
    monkeypatch.setattr(uploads, "load_file", counting)
    notes = _file(tmp_path / "incoming", "otters.md", "# Otters\n\nThe otters of Lindenhof fish at dusk.\n")
    (outcome,) = add_uploads(index, [notes], folder=tmp_path / "uploads")
    assert outcome.ok and parsed == ["otters.md"]


def test_same_name_different_content_is_added_beside_not_over(index: Index, tmp_path: Path):
    folder = tmp_path / "uploads"
    v1 = _file(tmp_path / "one", "memo.txt", "The memo says the bridge opens in May.")
    v2 = _file(tmp_path / "two", "memo.txt", "The memo says the tunnel closes in June.")
    first = add_uploads(index, [v1], folder=folder)[0]
    second = add_uploads(index, [v2], folder=folder)[0]
    repeat = add_uploads(index, [v1], folder=folder)[0]
    assert first.ok and second.ok and repeat.ok
    assert "stored as memo-2.txt because another file is named memo.txt" in second.message
    assert "unchanged" in repeat.message
    assert first.doc_id != second.doc_id and repeat.doc_id == first.doc_id
    assert {e.doc_id for e in index.documents()} >= {first.doc_id, second.doc_id}
    assert (folder / "memo.txt").read_text().endswith("May.")


def test_content_already_indexed_from_elsewhere_is_not_added_twice(index: Index, tmp_path: Path):
    seed = next(SEEDS.glob("*.txt"))
    copy = _file(tmp_path / "in", "copy.txt", seed.read_bytes())
    # The seed has a side-car file, so its hash differs: the copy is added once...
    first = add_uploads(index, [copy], folder=tmp_path / "uploads")[0]
    again_elsewhere = _file(tmp_path / "in2", "copy again.txt", seed.read_bytes())
    second = add_uploads(index, [again_elsewhere], folder=tmp_path / "uploads")[0]
    assert first.ok and second.ok and "same content" in second.message
    assert not (tmp_path / "uploads" / "copy again.txt").exists()
    assert index.size[0] == 2


def test_removed_upload_comes_back_when_uploaded_again(index: Index, tmp_path: Path):
    source = _file(tmp_path / "in", "fact.txt", "The lighthouse on Skarv island was painted green in 1911.")
    first = add_uploads(index, [source], folder=tmp_path / "uploads")[0]
    index.remove(first.doc_id)
    assert index.answer("What colour was the Skarv lighthouse painted?").citations == [] or all(
        c.doc_id != first.doc_id for c in index.answer("What colour was the Skarv lighthouse painted?").citations
    )
    again = add_uploads(index, [source], folder=tmp_path / "uploads")[0]
    assert again.ok and "added" in again.message
    assert index.answer("What colour was the Skarv lighthouse painted?").citations[0].doc_id == again.doc_id


def test_questions_are_answered_while_an_upload_is_indexed(index: Index, tmp_path: Path):
    """The model is shared: a question waits for one embedding slice, not the whole upload."""
    lines = [f"Report {i}: the station at point {i} measured {i % 17} millimetres of rain on day {i}." for i in range(700)]
    big = _file(tmp_path / "in", "rain.txt", "\n".join(lines))
    done: list[list] = []
    worker = threading.Thread(target=lambda: done.append(add_uploads(index, [big], folder=tmp_path / "uploads")))
    began = time.monotonic()
    worker.start()
    waits = []
    try:
        while worker.is_alive():
            started = time.monotonic()
            answer = index.answer("What is the US backstop position?")
            assert answer.citations and "backstop" in answer.citations[0].quote
            waits.append(time.monotonic() - started)
    finally:
        worker.join()
    took = time.monotonic() - began
    assert done and done[0][0].ok, done
    assert index.size[0] == 2
    print(f"upload indexed in {took:.1f}s; {len(waits)} questions answered meanwhile, slowest {max(waits):.2f}s")
    assert len(waits) >= 3 and max(waits) < took / 3, (took, waits)


def test_allowed_suffixes_match_the_loaders():
    from qa.loading.documents import SUPPORTED_SUFFIXES

    assert set(ALLOWED_SUFFIXES) == SUPPORTED_SUFFIXES


def test_removing_an_upload_deletes_its_stored_file_but_never_a_seed(index: Index, tmp_path: Path):
    source = _file(tmp_path / "in", "ferry.txt", "The ferry to Skarv island now leaves at nine.")
    added = add_uploads(index, [source], folder=tmp_path / "uploads")[0]
    stored = tmp_path / "uploads" / "ferry.txt"
    assert stored.is_file()
    assert remove_document(index, added.doc_id, folder=tmp_path / "uploads")
    assert not stored.exists() and source.is_file()
    assert added.doc_id not in {d.doc_id for d in index.documents()}
    seed = index.documents()[0]
    remove_document(index, seed.doc_id, folder=tmp_path / "uploads")
    assert Path(seed.path).is_file()  # a file outside the uploads folder is never deleted
