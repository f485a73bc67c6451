"""qa/loading/parsing.py: HTML, PDF and DOCX are parsed in a child process killed at the limits.

The misbehaving parsers run for real in the child: a test names one from
misbehaving_converters.py in `CONVERTERS`, and the child imports it by that name.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from qa.loading import parsing
from qa.loading.documents import load_documents, load_file
from qa.loading.file_limits import FileLimits, UnreadableFile
from qa.loading.parsing import ParserProcess, parse_file

from pdf_files import one_page_pdf
from servers import running_server  # noqa: F401 - the real-server fixture, shared

pytestmark = pytest.mark.skipif(not parsing.ISOLATED, reason="parsing runs in a child process on POSIX only")

LIMIT_S = 2.0
# What loading one stuck file may take beyond its limit: killing and reaping the child.
KILL_SLACK_S = 1.5
HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _helpers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child follows the parent's sys.path: put misbehaving_converters.py on it."""
    monkeypatch.syspath_prepend(str(HERE))


def _misbehaving(monkeypatch: pytest.MonkeyPatch, suffix: str, name: str) -> None:
    monkeypatch.setitem(parsing.CONVERTERS, suffix, f"misbehaving_converters:{name}")


def _wait_for(condition, seconds: float, what: str) -> None:
    """Poll `condition` until it holds, failing after `seconds`."""
    until = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < until, f"{what} did not happen within {seconds} s"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _warm_up() -> None:
    """Start a parser process before timing, so the timings below are the files' own."""
    parse_file(".html", b"<p>Warm.</p>", FileLimits())


@pytest.mark.parametrize("converter", ["never_returns", "spins_forever"])
def test_a_parser_that_never_returns_costs_one_skipped_file_and_the_time_limit(
    converter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _misbehaving(monkeypatch, ".pdf", converter)
    pid_file = tmp_path / "stuck.pid"
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a-good.txt").write_text("The harbour reopened on Monday.")
    (folder / "b-stuck.pdf").write_text(str(pid_file))
    (folder / "c-page.html").write_text("<p>The ferry runs twice a day.</p>")
    _warm_up()

    started = time.monotonic()
    result = load_documents([folder], FileLimits(parse_seconds=LIMIT_S))
    took = time.monotonic() - started

    assert [d.doc_id for d in result.documents] == ["a-good", "c-page"]  # the rest of the batch loads
    assert [(Path(s.path).name, s.reason) for s in result.skipped] == [
        ("b-stuck.pdf", "parsing took longer than 2 s, the limit per file")
    ]
    assert LIMIT_S <= took <= LIMIT_S + KILL_SLACK_S, took
    stuck = int(pid_file.read_text())
    assert not _alive(stuck)  # killed and reaped, not left running


def test_a_file_needing_more_memory_than_the_limit_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if not Path("/proc/self/statm").exists():
        pytest.skip("the memory limit needs Linux (RLIMIT_AS and /proc)")
    _misbehaving(monkeypatch, ".docx", "needs_memory")
    (tmp_path / "huge.docx").write_bytes(b"anything")
    (tmp_path / "small.html").write_text("<p>The ferry runs twice a day.</p>")
    result = load_documents([tmp_path], FileLimits(parse_memory_mb=64))
    assert [d.doc_id for d in result.documents] == ["small"]
    assert [s.reason for s in result.skipped] == ["parsing needed more than 64 MB, the limit per file"]


def test_a_parser_that_crashes_its_process_is_one_skipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _misbehaving(monkeypatch, ".html", "crashes")
    (tmp_path / "crash.html").write_text("<p>x</p>")
    (tmp_path / "report.pdf").write_bytes(one_page_pdf("Exports grew by four percent."))
    result = load_documents([tmp_path])
    assert [d.doc_id for d in result.documents] == ["report"]
    assert [s.reason for s in result.skipped] == ["its parser crashed (killed by SIGABRT)"]


def test_what_a_parser_prints_does_not_break_its_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _misbehaving(monkeypatch, ".pdf", "prints_and_returns")
    (tmp_path / "noisy.pdf").write_text("Printed paragraph.")
    document = load_file(tmp_path / "noisy.pdf")
    assert (document.title, document.text, document.pages) == ("Printed", "Printed paragraph.", (1,))


def test_real_files_parse_the_same_in_the_child_as_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import docx

    word = docx.Document()
    word.add_heading("Minutes", level=1)
    word.add_paragraph("The council approved the budget.")
    word.save(tmp_path / "minutes.docx")
    (tmp_path / "report.pdf").write_bytes(one_page_pdf("Exports grew by four percent."))
    (tmp_path / "page.html").write_text("<title>Harbour</title><h2>Boats</h2><p>Caf\u00e9 boats.</p>", encoding="cp1252")
    isolated = load_documents([tmp_path])
    monkeypatch.setattr(parsing, "ISOLATED", False)
    in_process = load_documents([tmp_path])
    assert isolated == in_process
    minutes, page, report = isolated.documents
    assert (minutes.title, minutes.sections) == ("Minutes", ("Minutes", "Minutes"))
    assert (page.title, page.text, page.sections) == ("Harbour", "Boats\n\nCaf\u00e9 boats.", ("Boats", "Boats"))
    assert (report.text, report.pages) == ("Exports grew by four percent.", (1,))


def test_parser_processes_are_reused_and_a_killed_one_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    started: list[int] = []
    original = ParserProcess.__init__

    def counting(self: ParserProcess) -> None:
        original(self)
        started.append(self.pid)

    monkeypatch.setattr(ParserProcess, "__init__", counting)
    parsing._POOL.close_all()
    for n in range(20):
        parse_file(".html", f"<p>Page {n}.</p>".encode(), FileLimits())
    assert len(started) == 1  # one process for twenty files

    _misbehaving(monkeypatch, ".pdf", "never_returns")
    with pytest.raises(UnreadableFile, match="longer than 0.5 s"):
        parse_file(".pdf", str(tmp_path / "pid").encode(), FileLimits(parse_seconds=0.5))
    assert parse_file(".html", b"<p>After.</p>", FileLimits()).paragraphs == ["After."]
    assert len(started) == 2


def test_threads_parse_at_once_each_in_its_own_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A stuck upload holds one parser process; another thread's file does not wait for it."""
    _misbehaving(monkeypatch, ".pdf", "never_returns")
    pid_file = tmp_path / "stuck.pid"
    outcome: list[BaseException] = []

    def stuck() -> None:
        try:
            parse_file(".pdf", str(pid_file).encode(), FileLimits(parse_seconds=30))
        except UnreadableFile as error:
            outcome.append(error)

    thread = threading.Thread(target=stuck, daemon=True)
    thread.start()
    _wait_for(pid_file.exists, 30, "the stuck parse starting")
    assert parse_file(".html", b"<p>Meanwhile.</p>", FileLimits()).paragraphs == ["Meanwhile."]
    assert thread.is_alive()
    os.kill(int(pid_file.read_text()), 9)  # end the stuck one: its file is skipped as crashed
    thread.join(30)
    assert [str(e) for e in outcome] == ["its parser crashed (killed by SIGKILL)"]


def test_a_zero_second_limit_starts_no_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ParserProcess, "__init__", lambda self: pytest.fail("a process was started"))
    with pytest.raises(UnreadableFile, match="longer than 0 s"):
        parse_file(".pdf", b"%PDF", FileLimits(parse_seconds=0))


def test_a_parser_process_that_cannot_start_is_a_reason_not_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    parsing._POOL.close_all()
    monkeypatch.setattr(parsing, "_BOOTSTRAP", "import sys; sys.exit(3)")
    (tmp_path / "page.html").write_text("<p>The ferry runs twice a day.</p>")
    with pytest.raises(UnreadableFile, match=r"RuntimeError: the parser process did not start \(exit status 3\)"):
        load_file(tmp_path / "page.html")


def test_limits_come_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QA_PARSE_SECONDS", "7.5")
    monkeypatch.setenv("QA_PARSE_MEMORY_MB", "300")
    assert (FileLimits().parse_seconds, FileLimits().parse_memory_mb) == (7.5, 300)
    monkeypatch.setenv("QA_PARSE_SECONDS", "soon")
    monkeypatch.setenv("QA_PARSE_MEMORY_MB", "-1")
    assert (FileLimits().parse_seconds, FileLimits().parse_memory_mb) == (30.0, 2048)


def test_the_child_does_not_import_the_whole_library():
    """The child runs qa.loading alone (no numpy, no models): it starts in a fraction of a second."""
    import subprocess

    code = parsing._BOOTSTRAP.replace("main()", "print(sorted(m for m in sys.modules if m.startswith(('qa', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", code, str(Path(parsing.__file__).parent.parent)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "numpy" not in out and "qa.index" not in out and "'qa.loading.parser_child'" in out


def _upload(port: int, name: str, data: bytes) -> list[dict]:
    """POST one file to /api/documents, as the web page does; the outcomes."""
    import http.client
    import uuid

    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", "/api/documents", body=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())["outcomes"]
    finally:
        connection.close()


def test_a_stuck_upload_costs_the_time_limit_while_the_server_answers(
    embedder, running_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from qa.index.coordinator import Index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text("The harbour of Tarnwick reopened on Monday after the storm.")
    server = running_server(Index.build([docs], path=tmp_path / "index"))
    monkeypatch.setenv("QA_PARSE_SECONDS", "4")  # what `qa serve` reads for its uploads
    _misbehaving(monkeypatch, ".pdf", "never_returns")
    pid_file = tmp_path / "stuck.pid"
    outcomes: list[dict] = []
    upload = threading.Thread(target=lambda: outcomes.extend(_upload(server.port, "stuck.pdf", str(pid_file).encode())))
    upload.start()
    _wait_for(pid_file.exists, 60, "the stuck parse starting")
    stuck_since = time.monotonic()

    answered = 0
    while upload.is_alive() and answered < 3:  # questions are answered while the parse is stuck
        status, data = server.ask({"question": "When did the harbour of Tarnwick reopen?"})
        assert status == 200 and "Monday" in json.dumps(data), data
        answered += 1
    assert answered == 3 and upload.is_alive()
    upload.join(60)
    assert time.monotonic() - stuck_since <= 4 + KILL_SLACK_S
    (outcome,) = outcomes
    assert not outcome["ok"] and "parsing took longer than 4 s, the limit per file" in outcome["message"], outcome
    assert not _alive(int(pid_file.read_text()))
