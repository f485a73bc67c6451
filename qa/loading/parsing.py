"""HTML, PDF and DOCX files are parsed in a child process that is killed at the time limit.

A parser call that never returns (pypdf on an adversarial PDF, lxml on a huge page) cannot be
stopped inside the process: a thread cannot be killed and SIGALRM works in the main thread only
(the server loads files in worker threads). So `parse_file` hands the file's bytes to a child
process (`qa.loading.parser_child`), waits for its answer until `FileLimits.parse_seconds` have
passed, and kills it then; the child limits its own memory to `FileLimits.parse_memory_mb`
more than it held. Either way the file is skipped with the reason, and the next file gets a
fresh child.

Children are kept and reused (at most `MAX_IDLE_PARSERS` idle), so many small files pay for one
process start (~0.3-0.8 s with the parser libraries imported), not one each. Plain text and
Markdown are parsed in the calling process: their parsing is linear in a file bounded by
`MAX_FILE_BYTES`. The child is a plain `python -c` running `qa.loading.parser_child`, not a
`multiprocessing` one: spawn and forkserver re-import the caller's main module in the child
(the `qa` script would import the whole command line for each), and fork is unsafe in the
threaded server. Where there are no POSIX pipes to wait on (Windows), parsing stays in-process,
bounded by the extractors' own deadline checks only.

    >>> parse_file(".html", b"<p>Boats came back.</p>", FileLimits()).paragraphs
    ['Boats came back.']
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from qa.loading.file_limits import Deadline, FileLimits, UnreadableFile, memory_limit_reason, time_limit_reason
from qa.loading.formats import Extracted
from qa.loading.parser_child import FRAME_HEADER, frame, resolve_converter

# The converter each risky file type is parsed with, as "module:function" (a name, because the
# child imports it; a test can name a converter of its own here).
CONVERTERS: dict[str, str] = {
    ".html": "qa.loading.parser_child:convert_html",
    ".htm": "qa.loading.parser_child:convert_html",
    ".pdf": "qa.loading.parser_child:convert_pdf",
    ".docx": "qa.loading.parser_child:convert_docx",
}
# Whether parsing runs in a child process (POSIX: pipes can be waited on with a timeout).
ISOLATED = os.name == "posix" and bool(sys.executable)
# Idle parser processes kept for the next files (more run at once when threads load in parallel).
MAX_IDLE_PARSERS = 2
# A new parser process must be ready within this (its start is not charged to the file).
STARTUP_SECONDS = 60.0
_READ_BYTES = 1024 * 1024
# The child's program. It imports qa.loading alone: `qa` is made a bare package of the folder
# given as its argument, so qa/__init__ (the whole library, numpy and all: ~0.25 s and ~30 MB
# per child) is not run.
_BOOTSTRAP = """import sys, types
package = types.ModuleType("qa")
package.__path__ = [sys.argv[1]]
sys.modules["qa"] = package
from qa.loading.parser_child import main
main()
"""


def parse_file(suffix: str, raw: bytes, limits: FileLimits) -> Extracted:
    """A risky file's bytes (its type in `CONVERTERS`) -> `Extracted`, parsed in a child
    process under `limits`; `UnreadableFile` with the reason when it cannot be read, took too
    long or needed too much memory."""
    Deadline.after(limits.parse_seconds).check()  # a limit of 0 s has passed already
    converter = CONVERTERS[suffix]
    if not ISOLATED:
        deadline = Deadline.after(limits.parse_seconds)
        return resolve_converter(converter)(raw, deadline, limits)
    return _POOL.parse(converter, raw, limits)


class ParserProcess:
    """One child parser process (see the module docstring); used by one thread at a time."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, str(Path(__file__).resolve().parents[1])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True,
        )
        self.usable = True
        self.busy = False  # a request is out and its answer not read: never reused then
        try:
            ready = self._read_answer(time.monotonic() + STARTUP_SECONDS)
        except (OSError, EOFError, ValueError):
            self.close()
            raise RuntimeError(f"the parser process did not start ({self._how_it_ended()})") from None
        if ready is None:
            self.close()
            raise RuntimeError(f"the parser process did not start within {STARTUP_SECONDS:g} s")

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def parse(self, converter: str, raw: bytes, limits: FileLimits) -> Extracted:
        """Parse one file in the child; on a timeout, a crash or a retiring child, the child is
        ended and `usable` turns False."""
        until = time.monotonic() + limits.parse_seconds
        header = {
            "converter": converter,
            "limits": {"pdf_pages": limits.pdf_pages, "parse_seconds": limits.parse_seconds,
                       "parse_memory_mb": limits.parse_memory_mb},
            "remaining": limits.parse_seconds,
            "sys_path": [p for p in sys.path if isinstance(p, str)],
        }
        try:
            self.busy = True
            self._send(frame(json.dumps(header).encode()) + frame(raw))
            answer = self._read_answer(until)
        except (OSError, EOFError, ValueError):
            self.close()
            raise UnreadableFile(f"its parser crashed ({self._how_it_ended()})") from None
        if answer is None:
            self.close()
            raise UnreadableFile(time_limit_reason(limits.parse_seconds))
        self.busy = False
        if answer.get("retire", True):
            self.close()
        return _extracted(answer, limits)

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        stdin = self._process.stdin
        assert stdin is not None
        while view:
            written = stdin.write(view)
            view = view[written or 0 :]

    def _read_answer(self, until: float) -> dict | None:
        """The child's next JSON frame, or None when `until` passes first; EOFError when the
        child ends."""
        header = self._read_exactly(FRAME_HEADER.size, until)
        if header is None:
            return None
        body = self._read_exactly(FRAME_HEADER.unpack(header)[0], until)
        return None if body is None else json.loads(body)

    def _read_exactly(self, count: int, until: float) -> bytes | None:
        stdout = self._process.stdout
        assert stdout is not None
        received = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while len(received) < count:
                remaining = until - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(stdout.fileno(), min(count - len(received), _READ_BYTES))
                if not chunk:
                    raise EOFError("the parser process ended")
                received += chunk
        return bytes(received)

    def _how_it_ended(self) -> str:
        code = self._process.poll()
        if code is None or code >= 0:
            return f"exit status {code}"
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"

    def close(self) -> None:
        """End the child (killed if it is still working) and reap it."""
        self.usable = False
        for stream in (self._process.stdin, self._process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


def _extracted(answer: dict, limits: FileLimits) -> Extracted:
    """The child's answer as `Extracted`, or `UnreadableFile` with its reason."""
    status = answer.get("status")
    if status == "memory":
        raise UnreadableFile(memory_limit_reason(limits.parse_memory_mb))
    if status == "unreadable":
        raise UnreadableFile(str(answer.get("reason", "no detail")))
    found = answer.get("extracted")
    if status != "ok" or not isinstance(found, dict):
        raise UnreadableFile(f"its parser answered {str(status)[:40]!r}")
    return Extracted(
        paragraphs=[str(p) for p in found.get("paragraphs", [])],
        title=_text_or_none(found.get("title")),
        source=_text_or_none(found.get("source")),
        pages=tuple(int(n) for n in found.get("pages", [])),
        sections=tuple(str(s) for s in found.get("sections", [])),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


class _Pool:
    """The idle parser processes of this process, shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[ParserProcess] = []
        self._owner = os.getpid()

    def parse(self, converter: str, raw: bytes, limits: FileLimits) -> Extracted:
        process = self._take()
        try:
            return process.parse(converter, raw, limits)
        finally:
            self._give_back(process)

    def _take(self) -> ParserProcess:
        with self._lock:
            if self._owner != os.getpid():  # forked: the idle children are the parent's
                self._idle, self._owner = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return ParserProcess()

    def _give_back(self, process: ParserProcess) -> None:
        if process.busy:  # interrupted (Ctrl-C) while the child was working
            process.close()
        with self._lock:
            if process.usable and len(self._idle) < MAX_IDLE_PARSERS and self._owner == os.getpid():
                self._idle.append(process)
                return
        if process.usable:
            process.close()

    def close_all(self) -> None:
        """End every idle parser process (at exit; a busy one is ended by its caller)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.close()


_POOL = _Pool()
atexit.register(_POOL.close_all)
