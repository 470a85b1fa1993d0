"""How the emulation finds a request's handler: DynamoDB and Kinesis straight, the rest by moto.

Both services speak the AWS JSON protocol: every call is a ``POST /`` that names its operation
in the ``X-Amz-Target`` header (``DynamoDB_20120810.UpdateItem``, ``Kinesis_20131202.PutRecords``;
"Making HTTP requests to DynamoDB" in the Amazon DynamoDB Developer Guide, "Common Parameters"
in the Amazon Kinesis Data Streams API Reference). moto's server finds a request's service by
matching the host against every backend's URL patterns under one lock, then runs it through a
Flask app (request context, URL map, response class): about a quarter of the emulation's CPU
(docs/benchmarks.md, "Where the emulation's CPU goes"). These two services carry nearly every
request the pipeline makes (the join state's one ``UpdateItem`` per changed row, the KCL's
leases, every ``PutRecords`` and ``GetRecords``), so their requests go to the same moto
handler the Flask view would call, with the same request object; the rest (S3, SQS, Secrets
Manager, CloudWatch, SNS, moto's own API) keep moto's path, with one repair: moto looks a
host's backend up again on every request, listing its package directory (a ``stat`` of each of
about 190 entries) and matching the URL patterns, though the answer for a host never changes;
``CachedDomainDispatcher`` remembers it.

What the Flask view adds and this keeps: a ``ClientError`` raised by a handler becomes a 400
with its message; a text body is sent as UTF-8; a response without a content type says
``text/html; charset=utf-8``, as Flask's does. What it leaves out: CORS headers (no browser
calls the emulation) and moto's request recorder (off unless asked for through the moto API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.kinesis.responses import KinesisResponse
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The X-Amz-Target prefix (the API's name and version) of each service on the short path.
HANDLERS: dict[str, Callable[..., Any]] = {
    "DynamoDB_20120810": DynamoHandler.dispatch,
    "Kinesis_20131202": KinesisResponse.dispatch,
}
DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"


def handler_for(environ: dict[str, Any]) -> Callable[..., Any] | None:
    """moto's handler for a JSON-protocol call on the short path, or None for moto's own."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") != "/":
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if not target:
        return None
    return HANDLERS.get(target.partition(".")[0])


def respond(
    handler: Callable[..., Any], environ: dict[str, Any]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through moto's handler: its status, headers and body, as Flask's view
    would send them."""
    request = BackendRequest(environ)
    try:
        result = handler(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    if len(result) == 3:
        status, headers, content = result
    else:
        status, headers, content = 200, {}, result
    body = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
    out = [(str(name), str(value)) for name, value in headers.items()]
    names = {name.lower() for name, _ in out}
    if "content-type" not in names:
        out.append(("Content-Type", DEFAULT_CONTENT_TYPE))
    out = [(name, value) for name, value in out if name.lower() != "content-length"]
    out.append(("Content-Length", str(len(body))))
    return int(status), out, body


class CachedDomainDispatcher(DomainDispatcherApplication):
    """moto's domain dispatcher, remembering each host's backend (the lookup is pure: the same
    host always names the same backend, and neither moto's modules nor its URL patterns change
    while it runs)."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:  # noqa: ANN401 - moto's type
        # Called under moto's lock (get_application), so the dict needs no lock of its own.
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]
