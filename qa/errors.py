"""One line for whatever went wrong: OS errors by their cause, internal bugs by a short id.

The CLI and the web chat show a user one sentence, never a traceback. For a problem with the
machine (a full disk, a read-only folder, a busy port) that sentence names the file or
resource and the fix; for a bug it gives an id that finds the traceback in the log file:

    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "index/seg-1"))
    'no space left on the device holding index/seg-1: free some space, then try again'
    >>> record_internal_error(RuntimeError("boom"), "qa ask")  # doctest: +SKIP
    'internal error (id 3f9c2a1b); the details are in data/logs/qa.log'
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import traceback
import uuid
from pathlib import Path

from qa.paths import data_dir

# --- the library's own problems (each message says what is wrong and how to fix it) ---


class IndexProblem(Exception):
    """Base class of index problems; the message says what is wrong and how to fix it."""


class IndexNotFound(IndexProblem):
    """Raised when a folder holds no index; the message names the folder and the `qa index`
    command that builds one."""


class IndexCorrupted(IndexProblem):
    """Raised when an index file is missing, unreadable or damaged (checksum or size mismatch);
    the message names the file and the `qa index` command that rebuilds it."""


class IndexMismatch(IndexProblem):
    """The index was built with another model, format or settings than requested."""


class ModelUnavailable(RuntimeError):
    """The requested model is not installed as a package; the message says how to fix it."""


def now() -> str:
    """The time in UTC, ISO 8601 to the second: one format for log lines, manifests and documents'
    added stamps."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()



LOG_VARIABLE = "QA_LOG"  # the log file of internal errors (default: <data>/logs/qa.log)
ERROR_ID_LENGTH = 8
logger = logging.getLogger(__name__)


def log_path() -> Path:
    """Where internal errors' tracebacks go: $QA_LOG, else <data>/logs/qa.log."""
    return Path(os.environ.get(LOG_VARIABLE) or data_dir() / "logs" / "qa.log")


def describe_os_error(error: OSError) -> str:
    """What the OS refused and what to do about it, naming the file or resource."""
    if error.errno is None:  # raised by qa itself with its own message
        return str(error)
    where = error.filename or "a file"
    fixes = {
        errno.ENOSPC: f"no space left on the device holding {where}: free some space, then try again",
        errno.EDQUOT: f"disk quota exceeded writing {where}: free some space, then try again",
        errno.EROFS: f"{where} is on a read-only file system: use a writable folder (e.g. --index DIR)",
        errno.EACCES: f"permission denied on {where}: fix its permissions or use another folder",
        errno.EPERM: f"operation not permitted on {where}: fix its permissions or use another folder",
        errno.ENOENT: f"{where} does not exist",
        errno.EADDRINUSE: f"{where} is already in use: stop what is using it or choose another port",
        errno.EMFILE: "too many open files: raise the limit (ulimit -n) or close other programs",
    }
    return fixes.get(error.errno, f"{error.strerror or error} ({where})")


def record_internal_error(error: BaseException, context: str, *, name_log: bool = True) -> str:
    """Write `error`'s traceback under a new short id to the log; return the line to show.

    `name_log=False` leaves the log's path out (a web page shows "the server log" instead).
    """
    error_id = uuid.uuid4().hex[:ERROR_ID_LENGTH]
    path = log_path()
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {now()} id {error_id} in {context}\n{details}\n")
    except OSError as problem:  # the traceback goes to stderr instead
        logger.error("internal error (id %s) in %s\n%s", error_id, context, details)
        return f"internal error (id {error_id}); the log could not be written ({describe_os_error(problem)})"
    where = path if name_log else "the server log"
    return f"internal error (id {error_id}); the details are in {where}"


def describe_failure(error: Exception, context: str) -> str:
    """The one line a page shows for an unexpected `error` in `context`: the cause and fix for
    an OS error (a full disk), else an internal error id whose traceback is in the log."""
    if isinstance(error, OSError):
        logger.warning("%s failed: %s", context, error)
        return describe_os_error(error)
    return record_internal_error(error, context, name_log=False)
