"""`qa serve`: the web chat (`qa.serving.web`) and the JSON API (`qa.serving.api`) on one uvicorn
server, on a socket bound before the slow start, with a login when one is set.

    qa serve [--host 127.0.0.1] [--port 7860] [--index DIR] [--share] [--read-only] [--watch FOLDER...]
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402

from qa.index.coordinator import Index  # noqa: E402
from qa.index.planning import UpdateReport  # noqa: E402
from qa.serving import rendering  # noqa: E402
from qa.serving.api import NO_GENERATED_DOCS, JsonApi, create_app  # noqa: E402
from qa.serving.openai_api import OpenAiApi, api_key_from_env  # noqa: E402
from qa.serving.listening import Address, Listener, auth_from_env, open_listener  # noqa: E402
from qa.serving.service import QaService  # noqa: E402
from qa.serving.feedback import feedback_path  # noqa: E402
from qa.serving.uploads import max_upload_bytes  # noqa: E402
from qa.serving.web import EXAMPLES, build_app, theme  # noqa: E402


# How long a stopping server lets requests in flight finish.
SHUTDOWN_GRACE_S = 5


def serve(
    host: str | None = None,
    port: int | None = None,
    index_path: str | Path | None = None,
    share: bool = False,
    read_only: bool = False,
    listener: Listener | None = None,
    watch: Sequence[str | Path] = (),
    force_polling: bool | None = None,
) -> None:
    """Start the web chat and the JSON API (`qa.serving.api`) on one server; block until Ctrl-C.

    host/port default to $QA_HOST/$QA_PORT, else 127.0.0.1:7860; `listener`: a socket already
    bound by `qa.serving.listening.open_listener` (what `qa serve` passes, so a busy port fails before the
    slow start). `index_path`: serve that index (`Index.open`); default: the default corpus.
    `read_only`: uploads, removals and rebuilds are refused (UI and API). `watch`: folders
    followed into the index (`QaService.watch`; `force_polling` for network file systems).
    """
    from qa.defaults import default_index

    listener = listener or open_listener(host, port, share=share)
    index = Index.open(index_path) if index_path else default_index()
    index.answer(EXAMPLES[0])  # load the model now, so the first question is answered at once
    server = make_server(
        index, listener, auth=auth_from_env(), read_only=read_only, share=share,
        examples=EXAMPLES if not index_path else (), watch=watch, force_polling=force_polling,
    )
    server.run(sockets=[listener.socket])


class QaServer(uvicorn.Server):
    """uvicorn on an already bound socket; `on_started` runs once it accepts connections, so
    nothing claims the server is up before it is."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup, then `on_started` once the socket accepts connections (never when
        startup failed)."""
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.on_started()


def make_server(
    index: Index,
    listener: Listener,
    *,
    auth: tuple[str, str] | None = None,
    read_only: bool = False,
    share: bool = False,
    examples: Sequence[str] = EXAMPLES,
    on_started: Callable[[], None] | None = None,
    watch: Sequence[str | Path] = (),
    force_polling: bool | None = None,
) -> QaServer:
    """The server over `index`: the JSON API's routes first, the Gradio chat mounted at /.

    Run it with `server.run(sockets=[listener.socket])` (any thread); `on_started` defaults to
    printing where it serves. Both share `auth`: Gradio's login page, HTTP Basic for the API.
    `watch`: folders whose changes reach the index within seconds, through the
    service's writer thread (`QaService.watch`), the first sync catching up with them.
    """
    service = QaService(index, read_only=read_only)  # one writer thread for the chat, the API and watching
    if watch:
        service.watch(watch, force_polling=force_polling, on_report=_say_synced, on_error=_say_watch_failed)
    api = JsonApi(service, auth=auth)
    app = create_app(api, OpenAiApi(api, api_key_from_env()).routes())
    blocks = build_app(service, examples)
    blocks.queue(default_concurrency_limit=4)
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        server_name=listener.address.host,
        server_port=listener.address.port,
        auth=auth,
        max_file_size=max_upload_bytes(),
        show_error=False,
        ssr_mode=False,
        theme=theme(),
        css=rendering.CSS,
        footer_links=[],  # no Gradio "Use via API": the page names /api/ask and /v1 (web.API_NOTE)
        app_kwargs=dict(NO_GENERATED_DOCS),  # Gradio's /openapi.json would be open without login
    )
    announce = on_started or (lambda: _announce(index, listener.address, auth, read_only, share))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    return QaServer(config, announce)


def _say_synced(report: UpdateReport) -> None:
    """One line on stderr for a watched change that changed the index."""
    if report.added or report.updated or report.removed:
        changed = [f"{len(report.added)} added", f"{len(report.updated)} updated", f"{len(report.removed)} removed"]
        print(f"qa: watched folders: {', '.join(changed)}", file=sys.stderr, flush=True)


def _say_watch_failed(error: Exception) -> None:
    """One line on stderr for a watched change that failed (the watcher tries it again)."""
    print(f"qa: warning: watched folders: {error}", file=sys.stderr, flush=True)


def _announce(index: Index, address: Address, auth: tuple[str, str] | None, read_only: bool, share: bool) -> None:
    documents, passages = index.size
    notes = [n for n, on in (("login required", auth), ("read-only", read_only)) if on]
    print(
        f"qa: serving {documents} document(s), {passages} passage(s) from {index.path} on {address.url}"
        + (f" ({', '.join(notes)})" if notes else "")
        + f"; JSON API: POST {address.url}api/ask; OpenAI-compatible: {address.url}v1",
        file=sys.stderr,
        flush=True,
    )
    print(f"qa: feedback goes to {feedback_path()}", file=sys.stderr, flush=True)
    if share:
        threading.Thread(target=_share_link, args=(address,), daemon=True, name="qa-share").start()


def _share_link(address: Address) -> None:
    """Gradio's public tunnel to this server (needs internet); one line either way."""
    from gradio import networking

    local = "127.0.0.1" if address.host in ("0.0.0.0", "::") else address.host
    try:
        url = networking.setup_tunnel(local, address.port, secrets.token_urlsafe(32), None, None)
    except Exception as error:  # noqa: BLE001 - offline is the usual case: say so, keep serving
        print(f"qa: warning: no public share link ({error}); serving locally only", file=sys.stderr, flush=True)
        return
    print(f"qa: public link: {url}", file=sys.stderr, flush=True)
