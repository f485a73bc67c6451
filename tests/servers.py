"""A real qa server for tests: uvicorn on a free port in a thread, over a real index, started
with `qa.serving.server.make_server` and awaited on the event it sets once it accepts
connections. Shared by the API, pages and web tests (`from servers import running_server`)."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from qa.index.coordinator import Index
from qa.serving.listening import Address, Listener, bind_listener
from qa.serving.server import make_server

USER, PASSWORD = "reader", "s3cret: with colon"
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Running:
    port: int
    index: Index

    def request(
        self, method: str, path: str, body: bytes | str | dict | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict, dict[str, str]]:
        """(status, JSON body, headers) of one request on a fresh connection."""
        if isinstance(body, dict):
            body = json.dumps(body)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            raw = response.read()
            data = json.loads(raw) if response.getheader("content-type", "").startswith("application/json") else {}
            return response.status, data, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def ask(self, payload: bytes | str | dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        status, data, _ = self.request("POST", "/api/ask", payload, headers)
        return status, data


def basic_login(user: str, password: str) -> dict[str, str]:
    """The Authorization header of HTTP Basic for `user` and `password`."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


LOGIN = basic_login(USER, PASSWORD)


@pytest.fixture(scope="module")
def running_server() -> Iterator:
    """A factory: start a real server over an index; all are stopped at the end of the module."""
    stops: list = []

    def start(index: Index, **options) -> Running:
        sock = bind_listener(Address("127.0.0.1", 0))
        listener = Listener(sock, Address("127.0.0.1", sock.getsockname()[1]))
        started = threading.Event()
        server = make_server(index, listener, examples=(), on_started=started.set, **options)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        stops.append((server, thread))
        assert started.wait(START_TIMEOUT_S), "the server did not start"
        return Running(listener.address.port, index)

    yield start
    for server, thread in stops:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def server(running_server, seed_index: Index) -> Running:
    """Open (no login), writable, over the shared seed index (the tests using it only ask)."""
    return running_server(seed_index)
