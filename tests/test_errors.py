"""qa/errors.py and the CLI's errors by cause: a full disk, a read-only folder, a bug.

The disk cases use a real tmpfs of a few hundred KB (mounting needs root; skipped otherwise).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qa import cli
from qa.errors import LOG_VARIABLE, describe_os_error
from qa.index.coordinator import Index

from conftest import SEEDS

SPARE_BYTES = 48 * 1024  # room left on the small disk after copying the index in


def test_os_errors_name_the_file_and_the_fix():
    full = describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/srv/index/seg-1"))
    assert full == "no space left on the device holding /srv/index/seg-1: free some space, then try again"
    assert "read-only file system" in describe_os_error(OSError(errno.EROFS, "Read-only file system", "/mnt/x"))
    assert describe_os_error(FileNotFoundError("no SQuAD file at /d")) == "no SQuAD file at /d"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs mounted at tmp_path/disk; its size is set by the test with `resize`."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)

    yield disk, remount
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _error_line(err: str) -> str:
    """The error: the last line of stderr (progress bars may come before it), and no traceback."""
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def _index_on_small_disk(seed_index: Index, small_disk) -> Path:
    """A copy of the seed index on the tmpfs, shrunk to leave `SPARE_BYTES` free."""
    disk, remount = small_disk
    index = disk / "index"
    shutil.copytree(seed_index.path, index)
    stats = os.statvfs(disk)  # what the tmpfs holds, in whole pages (file sizes undercount it)
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    remount(f"size={used + SPARE_BYTES}")
    return index


def test_a_full_disk_is_one_line_and_the_old_index_still_answers(seed_index: Index, small_disk, tmp_path, capsys):
    index = _index_on_small_disk(seed_index, small_disk)
    big = tmp_path / "docs" / "long.txt"
    big.parent.mkdir()
    # ~150 sentences: their vectors alone (~115 KB) overflow the disk's spare room.
    big.write_text("\n\n".join(f"Paragraph {i} says the harbour opened in year {1800 + i}." for i in range(150)))
    code = cli.main(["index", str(big.parent), "--index", str(index)])
    line = _error_line(capsys.readouterr().err)
    assert code == cli.EXIT_PROBLEM
    assert line.startswith("qa: error: no space left on the device holding ") and str(index) in line
    assert not list(index.glob(".staging*")) and not list(index.glob("*building*"))
    reopened = Index.open(index)
    assert reopened.size == seed_index.size
    assert not reopened.answer("What is the US backstop position?").abstained


def test_a_read_only_folder_is_one_line_naming_it(seed_index: Index, small_disk, tmp_path, capsys):
    disk, remount = small_disk
    index = _index_on_small_disk(seed_index, small_disk)
    remount("ro")
    note = tmp_path / "docs" / "note.txt"
    note.parent.mkdir()
    note.write_text("The harbour reopened in March after the storm.")
    code = cli.main(["index", str(note.parent), "--index", str(index)])
    line = _error_line(capsys.readouterr().err)
    assert code == cli.EXIT_PROBLEM and "read-only file system" in line and str(index) in line
    assert Index.open(index).size == seed_index.size


def test_a_bug_is_an_id_on_screen_and_a_traceback_in_the_log(monkeypatch, tmp_path, capsys):
    """A bug cannot be summoned on demand, so one command is replaced by one that fails."""
    log = tmp_path / "qa.log"
    monkeypatch.setenv(LOG_VARIABLE, str(log))

    def broken(args) -> int:
        raise RuntimeError("an internal inconsistency")

    monkeypatch.setattr(cli, "cmd_docs", broken)
    code = cli.main(["docs"])
    line = _error_line(capsys.readouterr().err)
    assert code == cli.EXIT_PROBLEM
    error_id = re.fullmatch(rf"qa: internal error \(id ([0-9a-f]{{8}})\); the details are in {re.escape(str(log))}", line)
    assert error_id, line
    logged = log.read_text()
    assert f"id {error_id.group(1)} in qa docs" in logged and "RuntimeError: an internal inconsistency" in logged
    assert "Traceback (most recent call last)" in logged


def test_a_bug_while_answering_in_the_chat_is_an_id_and_a_logged_traceback(seed_index: Index, monkeypatch, tmp_path):
    """The index's answer is replaced by one that fails (a bug cannot be summoned on demand)."""
    from qa.serving.service import QaService
    from qa.serving.web import ChatApp

    log = tmp_path / "qa.log"
    monkeypatch.setenv(LOG_VARIABLE, str(log))

    class BrokenIndex(Index):
        def answer(self, question, history=None, config=None, documents=None):
            raise RuntimeError("a broken ranking")

    broken = BrokenIndex.open(seed_index.path)
    turn = list(ChatApp(QaService(broken)).respond("What is the US backstop position?", []))[-1][3][-1]
    assert turn["error"] and "Traceback" not in turn["text"]
    found = re.fullmatch(r"internal error \(id ([0-9a-f]{8})\); the details are in the server log", turn["text"])
    assert found, turn["text"]
    assert f"id {found.group(1)} in answering a question" in log.read_text()
    assert "RuntimeError: a broken ranking" in log.read_text()
