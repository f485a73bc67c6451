"""The plain JSON API served next to the web chat, and the listening socket both share.

    curl -s http://127.0.0.1:7860/api/ask -H 'Content-Type: application/json' \\
         -d '{"question": "What is the US backstop position?"}'

Routes (all refuse without the login when QA_AUTH_USER/QA_AUTH_PASSWORD are set: HTTP Basic):
    POST   /api/ask               {"question": str, "history": [[question, answer], ...]?}
                                  -> {"question", "text", "abstained", "citations": [Citation...]}
    GET    /api/documents         -> {"documents": [DocumentEntry...]}
    POST   /api/documents         multipart "files" -> {"outcomes": [{"name", "ok", "message", "doc_id"}]}
    DELETE /api/documents/{id}    -> {"removed": id, "title": str}
    GET    /api/documents/{id}/original
                                  -> the stored file of an uploaded document (404 for any other):
                                     PDF inline (open it at a page with #page=N), DOCX as a
                                     download, text, Markdown and HTML as plain text (never rendered)
    POST   /api/rebuild           -> {"added", "updated", "unchanged", "removed", "skipped"} (counts)
Bad input is 400 {"error": one line}; a --read-only server answers 403 to the three writes.

Why not Gradio's `/ask` endpoint: every Gradio call goes through its event queue (join, then a
server-sent event stream, a default concurrency of 1-4), which held 32 clients to 13.5
requests/s. These routes are plain Starlette endpoints on the same server: the answer is
computed in a small thread pool, so the event loop keeps parsing requests while ONNX (which
releases the GIL) encodes questions.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import ipaddress
import json
import os
import socket
import sys
import tempfile
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from qa.answering.compose import answer_json
from qa.errors import describe_failure
from qa.serving.uploads import add_uploads, is_upload, max_upload_bytes, remove_document

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.coordinator import Index


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# A question is at most 2,000 characters; the rest is history. 1 MiB leaves room for a long
# conversation and still refuses a body that could only be a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024
# Threads that compute answers ($QA_ANSWER_THREADS): two per core, at most
# `MAX_DEFAULT_ANSWER_THREADS`. ~half of an answer is the ONNX question encoder, which releases
# the GIL; the rest holds it, so many more threads than cores only contend. On this 2-core
# machine with nothing else running (benchmarks/README.md, "Load"), 32 clients got 121-130
# requests/s from 2 threads, 112-134 from 4 and 93-107 from 8; during an upload 4 threads kept
# the most (96 requests/s, p95 492 ms, against 66-83 with 2). On a machine busy with other jobs
# more threads win more of the CPU, which is why an earlier, loaded run favoured 8.
ANSWER_THREADS_PER_CORE = 2
MAX_DEFAULT_ANSWER_THREADS = 8
ANSWER_THREADS = max(1, min(ANSWER_THREADS_PER_CORE * (os.cpu_count() or 1), MAX_DEFAULT_ANSWER_THREADS))
# Index writers (upload, remove, rebuild) run at this niceness: questions come first.
WRITER_NICENESS = 10
REALM = "qa"
# FastAPI's generated docs are routes a login would not cover: off, here and in Gradio's app.
NO_GENERATED_DOCS = {"docs_url": None, "redoc_url": None, "openapi_url": None}
READ_ONLY_TEXT = "this server is read-only: uploading, removing and rebuilding are turned off"
LOGIN_TEXT = "login required: HTTP Basic with QA_AUTH_USER and QA_AUTH_PASSWORD"

Handler = Callable[[Request], Awaitable[Response]]

ORIGINAL_ROUTE = "/api/documents/{doc_id}/original"
# How a stored original is served, by suffix: (media type, inline). Only a PDF is shown as
# itself (the browser's viewer follows #page=N); anything a browser would render (HTML, and
# text it might sniff as HTML) is sent as plain text, a .docx as a download.
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ORIGINAL_TYPES = {".pdf": (PDF_TYPE, True), ".docx": (DOCX_TYPE, False)}
PLAIN_TEXT = "text/plain"
# Sent with every original: no type sniffing, and (all but PDFs, which Chromium's viewer
# will not show in a sandbox) no scripts, no same-origin access, nothing loaded.
ORIGINAL_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
SANDBOX = "sandbox; default-src 'none'"


@dataclass(frozen=True)
class Address:
    """Where the server listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The address as a URL for messages, an IPv6 host in brackets: 'http://[::1]:7860/'."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


class ListenError(Exception):
    """The server cannot listen where asked (port in use, no permission, unknown host).

    The message is one line that names the address and the fix."""


class BadRequest(Exception):
    """Input the API refuses; the message is the one line returned as {"error": ...}."""


def listen_address(host: str | None = None, port: int | str | None = None) -> Address:
    """`host`/`port`, else $QA_HOST/$QA_PORT, else 127.0.0.1:7860; `ValueError` for a bad port."""
    host = host or os.environ.get("QA_HOST") or DEFAULT_HOST
    raw = port if port is not None else os.environ.get("QA_PORT") or DEFAULT_PORT
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"QA_PORT must be a port number, not {raw!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {number}")
    return Address(host, number)


def bind_listener(address: Address) -> socket.socket:
    """A socket bound to `address` (not yet listening), or `ListenError` with one clear line.

    Binding before anything else (before Gradio is even imported) lets a busy port fail in
    well under a second, before any line claims the server is up, and hands uvicorn the very
    socket that was checked, so nothing can take the port in between.
    """
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ListenError(f"cannot listen on {address.host!r}: {error.strerror}; check --host or QA_HOST") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
    try:
        sock.bind(sockaddr)
    except OSError as error:
        sock.close()
        where = f"{address.host}:{address.port}"
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise ListenError(
                f"port {address.port} is already in use on {address.host}; stop the other server "
                "or choose another port with --port (or QA_PORT)"
            ) from None
        raise ListenError(f"cannot listen on {where}: {error.strerror or error}; choose another --host/--port") from None
    sock.set_inheritable(True)
    return sock


def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from QA_AUTH_USER and QA_AUTH_PASSWORD; None when neither is set."""
    user = os.environ.get("QA_AUTH_USER", "")
    password = os.environ.get("QA_AUTH_PASSWORD", "")
    if not user and not password:
        return None
    if not user or not password:
        raise ValueError("set both QA_AUTH_USER and QA_AUTH_PASSWORD for basic auth, or neither")
    return user, password


@dataclass(frozen=True)
class Listener:
    """A bound socket and the address it was asked for (for messages and URLs)."""

    socket: socket.socket
    address: Address


def open_listener(host: str | None = None, port: int | str | None = None, *, share: bool = False) -> Listener:
    """Check the settings, bind the port and warn about an open server, all in well under a
    second: `qa serve` calls this before importing Gradio or loading the index.

    Raises `ValueError` for bad settings and `ListenError` when the port cannot be had.
    """
    address = listen_address(host, port)
    auth = auth_from_env()
    listener = Listener(bind_listener(address), address)
    warning = exposure_warning(address.host, share, auth)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return listener


def answer_threads() -> int:
    """$QA_ANSWER_THREADS (1-64), else `ANSWER_THREADS`."""
    raw = os.environ.get("QA_ANSWER_THREADS", "").strip()
    if not raw:
        return ANSWER_THREADS
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ValueError(f"QA_ANSWER_THREADS must be a number of threads from 1 to 64, not {raw!r}")
    return int(raw)


def is_loopback(host: str) -> bool:
    """True when `host` reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except socket.gaierror:
            return False
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def exposure_warning(host: str, share: bool, auth: tuple[str, str] | None) -> str | None:
    """One line when the server is reachable by others without a login, else None."""
    if auth is not None or (is_loopback(host) and not share):
        return None
    where = "a public --share link" if share else f"{host}, reachable from other machines,"
    return (
        f"qa: warning: serving on {where} without a login: anyone who can reach it can ask, "
        "upload and remove documents; set QA_AUTH_USER and QA_AUTH_PASSWORD (and consider --read-only)"
    )


# --- request handling ------------------------------------------------------------------------


def original_url(doc_id: str) -> str:
    """The path the stored original of document `doc_id` is served at (`ORIGINAL_ROUTE`)."""
    return ORIGINAL_ROUTE.format(doc_id=urllib.parse.quote(doc_id, safe=""))


def original_response(path: Path, encoding: str) -> Response:
    """The stored file at `path`, typed and framed as `ORIGINAL_TYPES` says (see there)."""
    media_type, inline = ORIGINAL_TYPES.get(path.suffix.lower(), (PLAIN_TEXT, True))
    headers = dict(ORIGINAL_HEADERS)
    if media_type != PDF_TYPE:
        headers["Content-Security-Policy"] = SANDBOX
    if media_type == PLAIN_TEXT:
        media_type = f"{PLAIN_TEXT}; charset={encoding}"
    return FileResponse(
        path, media_type=media_type, headers=headers, filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
    )


def parse_ask(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(question, history) from a request body, or `BadRequest` saying what is wrong.

    Types and shapes are checked here; the question's length and content are checked by the
    library (`qa.index.retrieval.check_question`), which also trims the history it prepends.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('the body must be JSON: {"question": "...", "history": [["question", "answer"], ...]}') from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object: {"question": "..."}')
    if "question" not in data:
        raise BadRequest('"question" is missing')
    question = data["question"]
    if not isinstance(question, str):
        raise BadRequest(f'"question" must be a string, not {_json_type(question)}')
    history = data.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(turn, list) and len(turn) == 2 and all(isinstance(part, str) for part in turn) for turn in history
    ):
        raise BadRequest('"history" must be a list of [question, answer] string pairs')
    return question, [(q, a) for q, a in history]


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _authorised(request: Request, auth: tuple[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Both compared, always, in constant time: no early exit tells which part was wrong.
    good_user = hmac.compare_digest(user.encode(), auth[0].encode())
    good_password = hmac.compare_digest(password.encode(), auth[1].encode())
    return good_user and good_password


async def _body(request: Request, limit: int) -> bytes:
    """The request body, or `BadRequest` once it passes `limit` bytes (never read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _lower_priority() -> None:
    """Nice the calling thread (Linux: per thread) by `WRITER_NICENESS`; elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not permitted
        pass


class JsonApi:
    """The routes over one `Index`, shared by every request (the index is thread-safe)."""

    def __init__(self, index: "Index", *, auth: tuple[str, str] | None = None, read_only: bool = False) -> None:
        self.index = index
        self.auth = auth
        self.read_only = read_only
        self._pool = ThreadPoolExecutor(answer_threads(), thread_name_prefix="qa-answer")
        # One writer at a time, niced: embedding an upload would otherwise take both cores from
        # the questions (p95 x2.4 in benchmarks/load.py); torch's worker threads, started from
        # this thread, inherit its lower priority.
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="qa-write", initializer=_lower_priority)

    def routes(self) -> list[Route]:
        """The API's routes, each behind the login; the three writes also refused when read-only."""
        guard, write = self._guarded, self._writer
        return [
            Route("/api/ask", guard(self.ask), methods=["POST"]),
            Route("/api/documents", guard(self.documents), methods=["GET"]),
            Route("/api/documents", guard(write(self.upload)), methods=["POST"]),
            Route("/api/documents/{doc_id}", guard(write(self.remove)), methods=["DELETE"]),
            Route(ORIGINAL_ROUTE, guard(self.original), methods=["GET"]),
            Route("/api/rebuild", guard(write(self.rebuild)), methods=["POST"]),
        ]

    def close(self) -> None:
        """Stop the answer and writer threads without waiting; the app's lifespan calls it at shutdown."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._writer_pool.shutdown(wait=False, cancel_futures=True)

    # --- wrappers: login, read-only, errors -----------------------------------------------

    def _guarded(self, handler: Handler) -> Handler:
        """`handler` behind the login, with bad input as 400 and anything else as 500 + log id."""

        async def guarded(request: Request) -> Response:
            if self.auth is not None and not _authorised(request, self.auth):
                return _error(401, LOGIN_TEXT, {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
            try:
                return await handler(request)
            except BadRequest as error:
                return _error(400, str(error))
            except Exception as error:  # noqa: BLE001 - the client gets one line, the log the traceback
                return _error(500, describe_failure(error, f"{request.method} {request.url.path}"))

        return guarded

    def _writer(self, handler: Handler) -> Handler:
        async def writer(request: Request) -> Response:
            if self.read_only:
                return _error(403, READ_ONLY_TEXT)
            return await handler(request)

        return writer

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def _write(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, function, *args)

    # --- routes ---------------------------------------------------------------------------

    async def ask(self, request: Request) -> Response:
        """POST /api/ask: the answer as `answer_json` gives it; a question the library refuses is a 400."""
        question, history = parse_ask(await _body(request, MAX_BODY_BYTES))
        try:
            answer = await self._run(self.index.answer, question, history)
        except (ValueError, TypeError) as error:  # the library's refusal, one line with the reason
            raise BadRequest(str(error)) from None
        return JSONResponse(answer_json(answer))

    async def documents(self, request: Request) -> Response:
        """GET /api/documents: every indexed document, with the fields of `DocumentEntry`."""
        entries = await self._run(self.index.documents)
        return JSONResponse({"documents": [asdict(e) for e in entries]})

    async def upload(self, request: Request) -> Response:
        """POST /api/documents: store and index the multipart "files" (`add_uploads`); a refused
        file is an outcome with "ok": false and its reason, not an error status."""
        limit = max_upload_bytes()
        async with request.form(max_files=100, max_part_size=limit) as form:
            files = [f for f in form.getlist("files") if not isinstance(f, str)]
            if not files:
                raise BadRequest('send the files as multipart form data, field "files"')
            with tempfile.TemporaryDirectory(prefix="qa-api-upload-") as folder:
                staged = []
                for number, item in enumerate(files):
                    name = item.filename or f"upload-{number}"
                    path = Path(folder) / f"{number}{Path(name).suffix[:16]}"
                    path.write_bytes(await item.read(limit + 1))
                    staged.append((path, name))
                outcomes = await self._write(add_uploads, self.index, staged)
        return JSONResponse(
            {"outcomes": [{"name": o.name, "ok": o.ok, "message": o.message, "doc_id": o.doc_id} for o in outcomes]}
        )

    async def remove(self, request: Request) -> Response:
        """DELETE /api/documents/{id}: remove the document (and its file when it is an upload);
        404 for an id not in the index."""
        doc_id = request.path_params["doc_id"]
        try:
            title = await self._write(remove_document, self.index, doc_id)
        except KeyError:
            return _error(404, f"{doc_id!r} is not in the index")
        return JSONResponse({"removed": doc_id, "title": title})

    async def original(self, request: Request) -> Response:
        """The stored file of an uploaded document; 404 for unknown ids and for documents
        indexed from anywhere else (qa serves only what was uploaded to it)."""
        doc_id = request.path_params["doc_id"]
        found = await self._run(self.stored_original, doc_id)
        if found is None:
            return _error(404, f"{doc_id!r} is not an uploaded document of this index")
        return original_response(*found)

    def stored_original(self, doc_id: str) -> tuple[Path, str] | None:
        """(file, text encoding) of document `doc_id` when its file is a stored upload that
        still exists, else None."""
        try:
            document = self.index.document(doc_id)
        except KeyError:
            return None
        path = Path(document.path).resolve()
        return (path, document.encoding) if is_upload(path) and path.is_file() else None

    async def rebuild(self, request: Request) -> Response:
        """POST /api/rebuild: re-read every indexed file (`Index.refresh`); answers how many
        documents were added, updated, unchanged, removed and skipped."""
        report = await self._write(self.index.refresh)
        counts = {name: len(getattr(report, name)) for name in ("added", "updated", "unchanged", "removed", "skipped")}
        return JSONResponse(counts)


def create_app(api: JsonApi) -> FastAPI:
    """The outer app: the JSON routes, and nothing else yet (the web chat mounts under it).
    The API is documented in this module's docstring and README.md, not by generated pages."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        api.close()

    return FastAPI(**NO_GENERATED_DOCS, routes=api.routes(), lifespan=lifespan)
