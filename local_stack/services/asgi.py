"""The emulation as an ASGI app for hypercorn: DynamoDB and Kinesis answered on the event loop,
the rest by moto's WSGI app on a thread pool.

hypercorn runs a WSGI app by handing each request to a thread and each piece of its response
back to the event loop (``call_soon_threadsafe``, a future per hand-off): for a call that moto
answers in well under a millisecond, the hand-offs and the two threads' turns at the GIL cost
about as much as the call. DynamoDB's and Kinesis's handlers (``local_stack.services.dispatch``)
neither block nor wait, so they run where the request arrived, on the event loop. Everything
else keeps a thread: an SQS ``ReceiveMessage`` long-polls for up to 20 s (the SQS documentation
recommends it, and the loader runners do it), and that must not hold up the loop.

Threads: ``REQUEST_THREADS``, not Python's default of min(32, cores + 4), 6 on a 2-core
machine. A few loader runners' long polls held every thread of the default pool, and every
other call waited for one: ~1 s per PutRecords, leases assigned tens of seconds late.

Bodies are read whole before a call and sent whole after it, with their ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from local_stack.services.dispatch import WsgiApp, handler_for, respond

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Response = tuple[int, list[tuple[str, str]], bytes]

REQUEST_THREADS = 64


def environ_of(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of one ASGI HTTP request whose body has been read."""
    server = scope.get("server") or ("127.0.0.1", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        # PEP 3333: native strings holding the bytes as latin-1.
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        if name in ("content-length", "content-type"):
            key = name.upper().replace("-", "_")
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        # Repeated headers are joined with commas (RFC 9110, 5.3).
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def run_wsgi(app: WsgiApp, environ: dict[str, Any]) -> Response:
    """One request through a WSGI app, its body collected whole."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:  # noqa: ANN401
        started["status"], started["headers"] = int(status.split(" ", 1)[0]), headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if "status" not in started:
        raise RuntimeError(f"the WSGI app answered {environ['PATH_INFO']} without start_response")
    headers = [(n, v) for n, v in started["headers"] if n.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return started["status"], headers, body


class EmulationApp:
    """An ASGI app: JSON-protocol DynamoDB and Kinesis calls on the loop, the rest on ``pool``."""

    def __init__(self, fallback: WsgiApp, pool: Executor) -> None:
        self.fallback = fallback
        self.pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the AWS emulation serves HTTP only, not {scope['type']}")
        environ = environ_of(scope, await self._body(receive))
        handler = handler_for(environ)
        if handler is not None:
            status, headers, body = respond(handler, environ)
        else:
            loop = asyncio.get_running_loop()
            status, headers, body = await loop.run_in_executor(
                self.pool, run_wsgi, self.fallback, environ
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    @staticmethod
    async def _body(receive: Receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
