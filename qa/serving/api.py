"""The plain JSON API served next to the web chat, over the same `QaService`.

    curl -s http://127.0.0.1:7860/api/ask -H 'Content-Type: application/json' \\
         -d '{"question": "What is the US backstop position?"}'

Routes (all refuse without the login when QA_AUTH_USER/QA_AUTH_PASSWORD are set: HTTP Basic):
    POST   /api/ask               {"question": str, "history": [[question, answer], ...]?, "documents": [doc_id, ...]?}
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
import json
import os
import tempfile
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from qa.answering.compose import answer_json
from qa.errors import describe_failure
from qa.serving.service import READ_ONLY_TEXT, QaService, ReadOnlyIndex, ServiceError
from qa.serving.uploads import max_upload_bytes

# A question is at most 2,000 characters; the rest is history. 1 MiB leaves room for a long
# conversation and still refuses a body that could only be a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024
# Threads that compute answers ($QA_ANSWER_THREADS): two per core, at most
# `MAX_DEFAULT_ANSWER_THREADS`. ~half of an answer is the ONNX question encoder, which releases
# the GIL; the rest holds it, so many more threads than cores only contend. On this 2-core
# machine with nothing else running (benchmarks/HISTORY.md, "Load", before the reader), 32 clients got 121-130
# requests/s from 2 threads, 112-134 from 4 and 93-107 from 8; during an upload 4 threads kept
# the most (96 requests/s, p95 492 ms, against 66-83 with 2). On a machine busy with other jobs
# more threads win more of the CPU, which is why an earlier, loaded run favoured 8.
ANSWER_THREADS_PER_CORE = 2
MAX_DEFAULT_ANSWER_THREADS = 8
ANSWER_THREADS = max(1, min(ANSWER_THREADS_PER_CORE * (os.cpu_count() or 1), MAX_DEFAULT_ANSWER_THREADS))
REALM = "qa"
# FastAPI's generated docs are routes a login would not cover: off, here and in Gradio's app.
NO_GENERATED_DOCS = {"docs_url": None, "redoc_url": None, "openapi_url": None}
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


class BadRequest(Exception):
    """Input the API refuses; the message is the one line returned as {"error": ...}."""


def answer_threads() -> int:
    """$QA_ANSWER_THREADS (1-64), else `ANSWER_THREADS`."""
    raw = os.environ.get("QA_ANSWER_THREADS", "").strip()
    if not raw:
        return ANSWER_THREADS
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ValueError(f"QA_ANSWER_THREADS must be a number of threads from 1 to 64, not {raw!r}")
    return int(raw)


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


@dataclass(frozen=True)
class AskRequest:
    """What a POST /api/ask asks: the question, the earlier turns, the documents to answer from."""

    question: str
    history: list[tuple[str, str]]
    documents: list[str] | None = None  # doc ids; None: every document


def parse_ask(body: bytes) -> AskRequest:
    """The request in `body`, or `BadRequest` saying what is wrong.

    Types and shapes are checked here; the question's length and content, and whether the
    documents exist, are checked by the library (`qa.index.retrieval.check_question`,
    `IndexView.within`), which also trims the history it prepends.
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
    documents = data.get("documents")
    if documents is not None and (not isinstance(documents, list) or not all(isinstance(d, str) for d in documents)):
        raise BadRequest('"documents" must be a list of document ids (GET /api/documents lists them)')
    return AskRequest(question, [(q, a) for q, a in history], documents)


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


async def read_body(request: Request, limit: int) -> bytes:
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


class JsonApi:
    """The routes over one `QaService`, shared by every request (the service is thread-safe)."""

    def __init__(self, service: QaService, *, auth: tuple[str, str] | None = None) -> None:
        self.service = service
        self.auth = auth
        self._pool = ThreadPoolExecutor(answer_threads(), thread_name_prefix="qa-answer")

    def routes(self) -> list[Route]:
        """The API's routes, each behind the login (the service refuses writes when read-only)."""
        guard = self._guarded
        return [
            Route("/api/ask", guard(self.ask), methods=["POST"]),
            Route("/api/documents", guard(self.documents), methods=["GET"]),
            Route("/api/documents", guard(self.upload), methods=["POST"]),
            Route("/api/documents/{doc_id}", guard(self.remove), methods=["DELETE"]),
            Route(ORIGINAL_ROUTE, guard(self.original), methods=["GET"]),
            Route("/api/rebuild", guard(self.rebuild), methods=["POST"]),
        ]

    def close(self) -> None:
        """Stop the answer threads and the service's writer without waiting (at shutdown)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.service.close()

    def _guarded(self, handler: Handler) -> Handler:
        """`handler` behind the login; a refusal is its status with one line, anything
        unexpected a 500 with a log id."""

        async def guarded(request: Request) -> Response:
            if self.auth is not None and not self.authorised(request):
                return _error(401, LOGIN_TEXT, {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
            try:
                return await handler(request)
            except BadRequest as error:
                return _error(400, str(error))
            except ServiceError as error:
                return _error(error.status, str(error))
            except Exception as error:  # noqa: BLE001 - the client gets one line, the log the traceback
                return _error(500, describe_failure(error, f"{request.method} {request.url.path}"))

        return guarded

    def authorised(self, request: Request) -> bool:
        """Whether `request` carries the login (HTTP Basic) this API was given."""
        return self.auth is not None and _authorised(request, self.auth)

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function` on an answer thread, so the event loop keeps taking requests."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def _wait_for_write(self, function: Callable[..., Any], *args: Any) -> Any:
        """A write: the service queues it on its writer thread; waiting takes no answer thread."""
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    # --- routes ---------------------------------------------------------------------------

    async def ask(self, request: Request) -> Response:
        """POST /api/ask: the answer as `answer_json` gives it; a question the library refuses is a 400."""
        asked = parse_ask(await read_body(request, MAX_BODY_BYTES))
        answer = await self.run(self.service.ask, asked.question, asked.history, asked.documents)
        return JSONResponse(answer_json(answer))

    async def documents(self, request: Request) -> Response:
        """GET /api/documents: every indexed document, with the fields of `DocumentEntry`."""
        entries = await self.run(self.service.documents)
        return JSONResponse({"documents": [asdict(e) for e in entries]})

    async def upload(self, request: Request) -> Response:
        """POST /api/documents: store and index the multipart "files" (`QaService.upload`); a
        refused file is an outcome with "ok": false and its reason, not an error status."""
        if self.service.read_only:  # before reading a body that would be refused
            raise ReadOnlyIndex(READ_ONLY_TEXT)
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
                outcomes = await self._wait_for_write(self.service.upload, staged)
        return JSONResponse(
            {"outcomes": [{"name": o.name, "ok": o.ok, "message": o.message, "doc_id": o.doc_id} for o in outcomes]}
        )

    async def remove(self, request: Request) -> Response:
        """DELETE /api/documents/{id}: remove the document (and its file when it is an upload);
        404 for an id not in the index."""
        doc_id = request.path_params["doc_id"]
        title = await self._wait_for_write(self.service.remove, doc_id)
        return JSONResponse({"removed": doc_id, "title": title})

    async def original(self, request: Request) -> Response:
        """The stored file of an uploaded document; 404 for unknown ids and for documents
        indexed from anywhere else (qa serves only what was uploaded to it)."""
        doc_id = request.path_params["doc_id"]
        found = await self.run(self.service.stored_original, doc_id)
        if found is None:
            return _error(404, f"{doc_id!r} is not an uploaded document of this index")
        return original_response(*found)

    async def rebuild(self, request: Request) -> Response:
        """POST /api/rebuild: re-read every indexed file (`Index.refresh`); answers how many
        documents were added, updated, unchanged, removed and skipped."""
        report = await self._wait_for_write(self.service.rebuild)
        counts = {name: len(getattr(report, name)) for name in ("added", "updated", "unchanged", "removed", "skipped")}
        return JSONResponse(counts)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def with_method_not_allowed(routes: Sequence[Route]) -> list[Route]:
    """`routes`, then for each path a route answering every other method with 405 and an
    `Allow` header: without it the web chat mounted at / would answer `GET /api/ask` as a 404."""
    allowed: dict[str, set[str]] = {}
    for route in routes:
        allowed.setdefault(route.path, set()).update(route.methods or ())

    def refuse(methods: set[str]) -> Handler:
        async def not_allowed(request: Request) -> Response:
            message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(sorted(methods - {'HEAD'}))}"
            return JSONResponse({"error": message}, status_code=405, headers={"Allow": ", ".join(sorted(methods))})

        return not_allowed

    refusals = [
        Route(path, refuse(methods), methods=[m for m in HTTP_METHODS if m not in methods])
        for path, methods in allowed.items()
    ]
    return [*routes, *refusals]


def create_app(api: JsonApi, extra_routes: Sequence[Route] = ()) -> FastAPI:
    """The outer app: the JSON routes and `extra_routes` (the OpenAI-compatible ones); the web
    chat mounts under it. The APIs are documented in their modules' docstrings and the README,
    not by generated pages."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        api.close()

    return FastAPI(**NO_GENERATED_DOCS, routes=with_method_not_allowed([*api.routes(), *extra_routes]), lifespan=lifespan)
