"""The emulation's ASGI app: JSON calls answered on the loop, the rest on the pool, bodies whole.

Real moto backends in this process; the pool is a real thread pool, wrapped to count what it
is given; the server's side (receive, send) is played by the test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import create_backend_app

from local_stack.services.asgi import EmulationApp, environ_of, run_wsgi
from local_stack.services.dispatch import CachedDomainDispatcher

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20261204/eu-west-2/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)


class CountingPool(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(4)
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def _scope(method: str, path: str, headers: dict[str, str], query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 54566),
        "client": ("127.0.0.1", 40000),
    }


def _serve(
    app: EmulationApp, scope: dict[str, Any], body_parts: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    messages = [
        {"type": "http.request", "body": part, "more_body": index < len(body_parts) - 1}
        for index, part in enumerate(body_parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    assert bodies[-1]["more_body"] is False
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(b["body"] for b in bodies)


@pytest.fixture
def pool() -> CountingPool:
    with CountingPool() as counting:
        yield counting


@pytest.fixture
def app(pool: CountingPool) -> EmulationApp:
    return EmulationApp(CachedDomainDispatcher(create_backend_app), pool)


def test_dynamodb_and_kinesis_are_answered_on_the_loop_without_the_pool(app, pool):
    table = f"t{uuid.uuid4().hex[:8]}"
    body = json.dumps(
        {
            "TableName": table,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    ).encode()
    headers = {
        "Host": "127.0.0.1:54566",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.CreateTable",
        "Authorization": AUTH.format(service="dynamodb"),
        "Content-Length": str(len(body)),
    }
    # The body arrives in three pieces, as a server may deliver it.
    status, got, answer = _serve(
        app, _scope("POST", "/", headers), [body[:10], body[10:30], body[30:]]
    )
    assert status == 200
    assert json.loads(answer)["TableDescription"]["TableName"] == table
    assert got["content-length"] == str(len(answer))
    assert got["content-type"].startswith("application/x-amz-json")

    headers.update(
        {
            "X-Amz-Target": "Kinesis_20131202.ListStreams",
            "Authorization": AUTH.format(service="kinesis"),
            "Content-Length": "2",
        }
    )
    status, _, answer = _serve(app, _scope("POST", "/", headers), [b"{}"])
    assert status == 200
    assert "StreamNames" in json.loads(answer)
    assert pool.submitted == 0


def test_s3_goes_through_motos_path_on_the_pool_with_its_body_whole(app, pool):
    bucket = f"b{uuid.uuid4().hex[:8]}"
    # us-east-1: a bucket created without a location constraint (S3's rule for every other region).
    s3 = {
        "Host": "127.0.0.1:54566",
        "Authorization": AUTH.format(service="s3").replace("eu-west-2", "us-east-1"),
    }
    assert _serve(app, _scope("PUT", f"/{bucket}", s3), [b""])[0] == 200
    data = bytes(range(256)) * 400
    status, _, _ = _serve(
        app,
        _scope("PUT", f"/{bucket}/a/key.parquet", {**s3, "Content-Length": str(len(data))}),
        [data[:1000], data[1000:]],
    )
    assert status == 200
    status, got, answer = _serve(app, _scope("GET", f"/{bucket}/a/key.parquet", s3), [b""])
    assert (status, answer) == (200, data)
    assert got["content-length"] == str(len(data))
    status, _, answer = _serve(
        app, _scope("GET", f"/{bucket}", s3, query=b"list-type=2&prefix=a/"), [b""]
    )
    assert status == 200
    assert b"<Key>a/key.parquet</Key>" in answer
    assert pool.submitted == 4


def test_the_environ_is_the_wsgi_one_of_the_request():
    scope = _scope(
        "POST",
        "/b/caf\u00e9",
        {"Content-Type": "text/plain", "Content-Length": "2", "X-Thing": "a"},
        query=b"x=1",
    )
    scope["headers"].append((b"x-thing", b"b"))
    environ = environ_of(scope, b"hi")
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/b/caf\u00e9".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "x=1"
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("text/plain", "2")
    assert environ["HTTP_X_THING"] == "a,b"
    assert environ["wsgi.input"].read() == b"hi"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "54566")


def test_a_wsgi_answer_is_collected_whole_and_its_iterable_closed():
    closed = threading.Event()

    class Chunks:
        def __iter__(self) -> Any:  # noqa: ANN401
            yield b"ab"
            yield b""
            yield b"cd"

        def close(self) -> None:
            closed.set()

    def wsgi(environ: dict[str, Any], start_response: Any) -> Chunks:  # noqa: ANN401
        start_response("201 Created", [("Content-Length", "99"), ("X-A", "1")])
        return Chunks()

    status, headers, body = run_wsgi(wsgi, environ_of(_scope("GET", "/", {}), b""))
    assert (status, body) == (201, b"abcd")
    assert ("Content-Length", "4") in headers
    assert ("X-A", "1") in headers
    assert closed.is_set()


def test_a_wsgi_app_that_never_starts_its_response_is_an_error():
    with pytest.raises(RuntimeError, match="without start_response"):
        run_wsgi(lambda environ, start_response: [b"x"], environ_of(_scope("GET", "/x", {}), b""))


def test_lifespan_is_acknowledged(app):
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
