"""The parser process: reads files' bytes from its parent, parses each, answers with the text.

Started as a plain Python process by `qa.loading.parsing`, which kills it when a file takes
longer than its time limit. Here, each file is parsed with an address-space limit
(`RLIMIT_AS`, Linux) of what the process holds plus `FileLimits.parse_memory_mb`, so a file
that needs more fails with `MemoryError` and is answered as such; and with an alarm a little
after the time limit, so that a stuck parse ends even if the parent is gone.

The protocol, over stdin and stdout (stdout is kept for it; what a library prints goes to
stderr): frames of an 8-byte big-endian length and that many bytes. The child sends
`{"ready": true}` once started; then for each file the parent sends a JSON header
(`converter` "module:function", `limits`, `remaining` seconds, `sys_path`) and a frame of the
file's bytes, and the child answers a JSON frame: `{"status": "ok", "extracted": {...}}`,
`{"status": "unreadable", "reason": ...}` or `{"status": "memory"}`, each with `"retire"`:
whether the child exits after it (it grew too big to keep). JSON, not pickle: the parent
never unpickles what a process that parsed a hostile file sends.

A converter takes `(raw, deadline, limits)` and returns `Extracted`; `CONVERTERS` in
`qa.loading.parsing` names one per file type (a test may name its own).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from qa.loading.file_limits import Deadline, FileLimits, UnreadableFile, error_line
from qa.loading.formats import Extracted, extract_docx, extract_html, extract_pdf
from qa.loading.plain_text import decode_text

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

Converter = Callable[[bytes, Deadline, FileLimits], Extracted]
FRAME_HEADER = struct.Struct(">Q")
# A child that holds more than this after a file exits and a fresh one takes the next file, so
# one big file does not keep its memory for good (a child with every parser loaded holds ~60 MB).
RETIRE_RSS_MB = 256
# The child's own alarm rings this long after the parent's limit, in case the parent is gone.
ALARM_GRACE_SECONDS = 2


def convert_html(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """An HTML file's bytes -> `Extracted` (decoded as text files are)."""
    return extract_html(decode_text(raw)[0], deadline)


def convert_pdf(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A PDF's bytes -> `Extracted`, refused past `limits.pdf_pages` pages."""
    return extract_pdf(raw, deadline, limits.pdf_pages)


def convert_docx(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A .docx file's bytes -> `Extracted`."""
    return extract_docx(raw, deadline)


def resolve_converter(name: str) -> Converter:
    """The converter a "module:function" name refers to."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame from a blocking stream, or None at its end."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    body = stream.read(length)
    return body if len(body) == length else None


def frame(body: bytes) -> bytes:
    """`body` as a frame: its length, then itself."""
    return FRAME_HEADER.pack(len(body)) + body


def _process_megabytes(field_number: int) -> float | None:
    """Field `field_number` of /proc/self/statm (0: address space, 1: resident) in MB, or None
    where there is no /proc."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[field_number])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


@contextmanager
def _memory_limit(megabytes: int) -> Iterator[None]:
    """Limit the address space to what is held now plus `megabytes`, for the `with` body."""
    held = _process_megabytes(0)
    if resource is None or held is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int((held + megabytes) * 1024 * 1024)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _add_paths(paths: list[str]) -> None:
    """Make what the parent can import importable here too (a test's converter module)."""
    for path in paths:
        if isinstance(path, str) and path not in sys.path:
            sys.path.append(path)


def parse_request(header: dict, raw: bytes) -> dict:
    """Parse one file as `header` asks; the answer to send (see the module docstring)."""
    _add_paths(header.get("sys_path", []))
    limits = FileLimits(**header["limits"])
    deadline = Deadline(time.monotonic() + header["remaining"], limits.parse_seconds)
    signal.alarm(math.ceil(header["remaining"]) + ALARM_GRACE_SECONDS)  # the default action ends the process
    try:
        convert = resolve_converter(header["converter"])
        with _memory_limit(limits.parse_memory_mb):
            extracted = convert(raw, deadline, limits)
    except MemoryError:
        return {"status": "memory", "retire": True}
    except UnreadableFile as error:
        return {"status": "unreadable", "reason": str(error), "retire": _too_big()}
    except Exception as error:  # noqa: BLE001 - parsers raise anything; one bad file is one reason
        return {"status": "unreadable", "reason": f"could not be read ({error_line(error)})", "retire": _too_big()}
    finally:
        signal.alarm(0)
    return {"status": "ok", "extracted": dataclasses.asdict(extracted), "retire": _too_big()}


def _too_big() -> bool:
    resident = _process_megabytes(1)
    return resident is not None and resident > RETIRE_RSS_MB


def main() -> None:
    """Serve parse requests on stdin/stdout until stdin ends or the child retires."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a library's print cannot break a frame
    requests = sys.stdin.buffer
    answers.write(frame(b'{"ready": true}'))
    answers.flush()
    while (header := read_frame(requests)) is not None and (raw := read_frame(requests)) is not None:
        answer = parse_request(json.loads(header), raw)
        answers.write(frame(json.dumps(answer).encode("ascii")))
        answers.flush()
        if answer["retire"]:
            return


if __name__ == "__main__":
    main()
