"""An OpenAI-compatible chat API on `qa serve`, so any client of the OpenAI chat API (Open WebUI,
LibreChat, Jan, the `openai` package) can ask the served documents:

    GET  /v1/models               -> {"object": "list", "data": [{"id": "qa-index", ...}]}
    POST /v1/chat/completions     {"model": "qa-index", "messages": [...], "stream": false|true}

The last user message is the question; earlier user/assistant pairs are the history, so
follow-ups work as in the chat; system and developer messages are accepted and ignored (qa's
answers are the documents' words, not a prompted model's). `message.content` is the answer with
its `[n]` markers and a Markdown list of sources (`qa.serving.markdown`, document words
escaped); the structured `citations` (`/api/ask`'s shape: `quote == text[start:end]`) and the
`short_answer` ride along on the message, and on the last chunk of a stream. Sampling options
(`temperature`, `max_tokens`, ...) are ignored: the answer is extractive. `usage` is left out:
qa generates no tokens to count.

Login: HTTP Basic with QA_AUTH_USER/QA_AUTH_PASSWORD, or `Authorization: Bearer $QA_API_KEY`;
either one, when set, is required. Errors use OpenAI's body, {"error": {"message", "type",
"param", "code"}}, with a 4xx for anything the client sent wrong.

    >>> from openai import OpenAI                                        # doctest: +SKIP
    >>> client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="unused")
    >>> client.chat.completions.create(model="qa-index", messages=[{"role": "user",
    ...     "content": "What is the US backstop position?"}]).choices[0].message.content
"""

from __future__ import annotations

import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from qa.answering.compose import Answer
from qa.serving.api import MAX_BODY_BYTES, BadRequest, Handler, JsonApi, read_body
from qa.serving.markdown import answer_markdown, answer_markdown_pieces
from qa.serving.service import ServiceError

API_KEY_VARIABLE = "QA_API_KEY"
MODEL_PREFIX = "qa-"
OWNER = "qa"
# Roles a client may send besides the user's and qa's own; their content is not used.
IGNORED_ROLES = ("system", "developer", "tool")


@dataclass(frozen=True)
class ChatRequest:
    """What a chat completion asks: the question, the earlier turns, and whether to stream."""

    model: str
    question: str
    history: list[tuple[str, str]]
    stream: bool


class OpenAiError(Exception):
    """A request refused with OpenAI's error body; `status` the HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code

    def response(self) -> JSONResponse:
        """The error as OpenAI sends one."""
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        body = {"error": {"message": str(self), "type": kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


def api_key_from_env() -> str | None:
    """$QA_API_KEY, or None when it is unset or empty."""
    return os.environ.get(API_KEY_VARIABLE) or None


def model_id(index_name: str) -> str:
    """The model name a served index answers to: "qa-" and its folder's name ("qa-index")."""
    return MODEL_PREFIX + index_name


def _content_text(content: object, where: str) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        if any(p.get("type") != "text" or not isinstance(p.get("text"), str) for p in content):
            raise OpenAiError(400, f"{where}: only text content is supported", "messages")
        return " ".join(p["text"] for p in content)
    raise OpenAiError(400, f"{where}: content must be a string or a list of text parts", "messages")


def _turns(messages: list[object]) -> list[tuple[str, str]]:
    """(role, text) of every message that is not ignored, checked."""
    turns = []
    for number, message in enumerate(messages):
        where = f"messages[{number}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise OpenAiError(400, f"{where} must be an object with a role", "messages")
        role = message["role"]
        if role in IGNORED_ROLES:
            continue
        if role not in ("user", "assistant"):
            raise OpenAiError(400, f"{where}: unknown role {role!r}", "messages")
        turns.append((role, _content_text(message.get("content"), where)))
    return turns


def parse_chat(body: bytes) -> ChatRequest:
    """The chat request in `body`, or `OpenAiError` saying what is wrong with it."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise OpenAiError(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise OpenAiError(400, "the body must be a JSON object")
    if not isinstance(data.get("model"), str):
        raise OpenAiError(400, '"model" is required: a string (GET /v1/models lists them)', "model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAiError(400, '"messages" must be a non-empty list', "messages")
    turns = _turns(messages)
    if not turns or turns[-1][0] != "user":
        raise OpenAiError(400, "the last message must be the user's question", "messages")
    history = [(q, a) for (r1, q), (r2, a) in zip(turns, turns[1:]) if r1 == "user" and r2 == "assistant"]
    return ChatRequest(data["model"], turns[-1][1], history, data.get("stream") is True)


class OpenAiApi:
    """The /v1 routes over the JSON API's service and answer threads (`qa.serving.api.JsonApi`)."""

    def __init__(self, api: JsonApi, api_key: str | None = None) -> None:
        self.api = api
        self.api_key = api_key
        self.model = model_id(api.service.index.path.name)

    def routes(self) -> list[Route]:
        """GET /v1/models and POST /v1/chat/completions, each behind the login."""
        return [
            Route("/v1/models", self._guarded(self.models), methods=["GET"]),
            Route("/v1/chat/completions", self._guarded(self.chat), methods=["POST"]),
        ]

    def _authorised(self, request: Request) -> bool:
        """Open when no login is set; else HTTP Basic with the login, or the API key as Bearer."""
        if self.api.auth is None and self.api_key is None:
            return True
        if self.api.auth is not None and self.api.authorised(request):
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = self.api_key
        return key is not None and scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), key.encode())

    def _guarded(self, handler: Handler) -> Handler:
        """`handler` behind the login, every refusal in OpenAI's error body."""
        async def guarded(request: Request) -> Response:
            if not self._authorised(request):
                return OpenAiError(401, "login required: an API key (Bearer QA_API_KEY) or HTTP Basic", code="invalid_api_key").response()
            try:
                return await handler(request)
            except OpenAiError as error:
                return error.response()
            except BadRequest as error:
                return OpenAiError(400, str(error)).response()
            except ServiceError as error:
                return OpenAiError(error.status, str(error), "messages" if error.status == 400 else None).response()

        return guarded

    async def models(self, request: Request) -> Response:
        """GET /v1/models: the one model, the served index."""
        entry = {"id": self.model, "object": "model", "created": 0, "owned_by": OWNER}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat(self, request: Request) -> Response:
        """POST /v1/chat/completions: the answer as one completion, or as a stream of chunks."""
        asked = parse_chat(await read_body(request, MAX_BODY_BYTES))
        if asked.model != self.model:
            raise OpenAiError(404, f"the model {asked.model!r} does not exist; this server has {self.model!r}", "model", "model_not_found")
        answer = await self.api.run(self.api.service.ask, asked.question, asked.history)
        completion = Completion(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), self.model, answer)
        if asked.stream:
            return StreamingResponse(completion.events(), media_type="text/event-stream")
        return JSONResponse(completion.whole())


@dataclass(frozen=True)
class Completion:
    """One answer in OpenAI's completion shapes: whole, or as Server-Sent Event chunks whose
    content deltas join to exactly the whole one's content."""

    id: str
    created: int
    model: str
    answer: Answer

    def _extras(self) -> dict[str, object]:
        short = self.answer.short_answer
        return {
            "citations": [asdict(c) for c in self.answer.citations],
            "short_answer": asdict(short) if short else None,
        }

    def _envelope(self, kind: str, choice: dict[str, object]) -> dict[str, object]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model, "choices": [choice]}

    def whole(self) -> dict[str, object]:
        """The `chat.completion` object."""
        message = {"role": "assistant", "content": answer_markdown(self.answer), **self._extras()}
        return self._envelope("chat.completion", {"index": 0, "message": message, "finish_reason": "stop"})

    def deltas(self) -> list[str]:
        """The content in pieces: each quoted sentence with its marker, then the sources."""
        return answer_markdown_pieces(self.answer)

    async def events(self) -> AsyncIterator[str]:
        """The SSE stream: the role, the content deltas, the last chunk (finish_reason and the
        citations), then [DONE]."""
        chunk = "chat.completion.chunk"
        yield _event(self._envelope(chunk, {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}))
        for piece in self.deltas():
            yield _event(self._envelope(chunk, {"index": 0, "delta": {"content": piece}, "finish_reason": None}))
        yield _event(self._envelope(chunk, {"index": 0, "delta": self._extras(), "finish_reason": "stop"}))
        yield "data: [DONE]\n\n"


def _event(data: dict[str, object]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
