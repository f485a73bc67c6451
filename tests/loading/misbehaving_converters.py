"""Converters that misbehave, for the parser process to run (tests/loading/test_parsing.py).

A test names one in `qa.loading.parsing.CONVERTERS` ("misbehaving_converters:never_returns"):
the child process imports this module by that name (this folder is on the parent's sys.path,
which the child follows), so the misbehaviour really happens in the child, not in the test.
Each takes `(raw, deadline, limits)` like a real converter; where a test needs to find the
child, the file's bytes are the path of a file the converter writes its process id into.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from qa.loading.file_limits import Deadline, FileLimits
from qa.loading.formats import Extracted


def _say_pid(raw: bytes) -> None:
    """Write this process's id to the path the file holds, for the test to see the parse start."""
    target = Path(raw.decode().strip())
    target.with_suffix(".tmp").write_text(str(os.getpid()))
    target.with_suffix(".tmp").replace(target)  # appears whole


def never_returns(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A parser call that never returns and never checks its deadline (blocked in C)."""
    _say_pid(raw)
    threading.Event().wait()
    raise AssertionError("unreachable")


def spins_forever(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A parser stuck in a loop that never checks its deadline."""
    _say_pid(raw)
    while True:
        pass


def needs_memory(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A parser that allocates four times the memory limit (and touches it)."""
    held = bytearray(4 * limits.parse_memory_mb * 1024 * 1024)
    held[::4096] = b"x" * len(held[::4096])
    return Extracted(paragraphs=["Never reached."])


def crashes(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A parser that kills its process (a segfault in a C extension, say)."""
    os.abort()


def prints_and_returns(raw: bytes, deadline: Deadline, limits: FileLimits) -> Extracted:
    """A parser that prints to stdout (the child's answers must not be broken by it)."""
    print("noise from a parser library\n" * 3)
    return Extracted(paragraphs=[raw.decode()], title="Printed", pages=(1,), sections=("",))
