"""`/feeds/...`: the plant's own systems (ERP, MES, logistics) write records in bulk.

- ``POST /feeds/records``: a body of NDJSON records (``application/x-ndjson``, gzipped or
  not), applied by :func:`domain.feeds.batch.run_batch` as it arrives: the body is
  streamed into the batch, never held whole, and bounded by ``KEYLINK_FEED_MAX_BYTES``
  (:mod:`api.bodies` counts it as it arrives; what it unpacks to is counted here). Query
  ``mode=all|each`` and ``dryRun=true``; the batch is named by an ``Idempotency-Key``
  header or ``batch=<uuid>``, so that it can be polled while it runs and a retry finds
  it. Answers 200 with the batch's result, 422 when it is rejected (mode ``all``: nothing
  is written).
- ``GET /feeds/batches/{id}``: a batch's progress or result, for the system that sent it
  and the mill's admins; 404 for anyone else, as for a batch that does not exist.
- ``GET /feeds/schemas`` and ``/feeds/schemas/{kind}.schema.json``: the kinds and the
  JSON Schema of each one's records (the files shipped in ``domain/feeds/schemas``).

Only a token with the ``integration`` role feeds records (and only the kinds its
``kinds`` claim names); any other token is refused with 403 before the body is read.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from api.auth import AuthError
from api.bodies import error_response
from api.context import Context, Services
from domain.actor import Actor
from domain.errors import Invalid
from domain.feeds.batch import (
    MODES,
    PERMISSIONS,
    BatchResult,
    batch_status,
    ndjson_lines,
    run_batch,
)
from domain.feeds.kinds import KINDS
from domain.feeds.schema_files import render
from settings import Settings

NDJSON = "application/x-ndjson"
SCHEMA_MEDIA = "application/schema+json"
# A body that sends nothing for this long fails its batch: an open batch holds a
# transaction, which a stalled sender must not keep open.
STALL_SECONDS = 60.0
# What one step of unpacking a gzipped body may yield, so that a small, dense piece of
# the body never becomes a large piece of memory.
PIECE_BYTES = 1 << 20
# The results that are final: a named batch sent again is answered with its result.
_FINAL = ("committed", "rejected", "checked")


class FeedTooLarge(Exception):
    """The body unpacks to more than the feed's bound."""


class BadBody(Exception):
    """The body cannot be read: gzip that is not, or that ends early."""


class BodyStalled(Exception):
    """Nothing of the body arrived for :data:`STALL_SECONDS`."""


class Gunzip:
    """Unpacks gzip as it arrives (one member or several, as ``cat a.gz b.gz`` makes),
    at most :data:`PIECE_BYTES` at a time."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                out = self._inflate.decompress(data, PIECE_BYTES)
                if out:
                    yield out
                if self._inflate.eof:
                    data = self._inflate.unused_data
                    if not data:
                        return
                    self._inflate = zlib.decompressobj(wbits=31)
                    continue
                data = self._inflate.unconsumed_tail
                if not data and len(out) < PIECE_BYTES:
                    return
        except zlib.error as exc:
            raise BadBody(f"the body is not valid gzip: {exc}") from None

    def close(self) -> None:
        if not self._inflate.eof:
            raise BadBody("the gzipped body ends before its end")


class FeedGate:
    """How many batches one API process runs at once: each holds a pooled connection for
    its transaction, which the rest of the API must not run out of."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    @classmethod
    def of(cls, settings: Settings) -> FeedGate:
        return cls(max(1, settings.db_pool_max // 2))


async def post_records(request: Request) -> Response:
    services: Services = request.app.state.services
    settings: Settings = request.app.state.settings
    actor = await _actor(request, services)
    if isinstance(actor, Response):
        return actor
    if not PERMISSIONS.allows(actor, "feed"):
        return _error(403, "FORBIDDEN", "feeding records needs a plant system's token (role "
                      "integration, naming the kinds it may write)")
    params = _params(request)
    if isinstance(params, Response):
        return params
    mode, dry_run, batch_id, gzipped = params
    gate: FeedGate = request.app.state.feed_gate
    if gate.running >= gate.limit:
        return _error(503, "BUSY", f"{gate.limit} batches are running here; send this one "
                      "again in a while", headers={"retry-after": "10"})
    gate.running += 1
    try:
        body = _body(request, gzipped, settings.feed_max_bytes)
        result = await run_batch(services.db, actor, ndjson_lines(body), mode=mode,
                                 dry_run=dry_run, batch_id=batch_id)
    except Invalid as exc:
        if exc.field != "batch" or batch_id is None:
            raise
        return await _sent_before(services, actor, batch_id)
    except FeedTooLarge:
        return _error(413, "PAYLOAD_TOO_LARGE", "a feed of records is limited to "
                      f"{settings.feed_max_bytes:,} bytes, unpacked",
                      headers={"connection": "close"})
    except BadBody as exc:
        return _error(400, "BAD_REQUEST", str(exc))
    except BodyStalled:
        return _error(408, "REQUEST_TIMEOUT", f"nothing of the body arrived for "
                      f"{STALL_SECONDS:.0f} s: the batch failed, nothing of it is written",
                      headers={"connection": "close"})
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it
    finally:
        gate.running -= 1
    return _result(result)


async def get_batch(request: Request) -> Response:
    services: Services = request.app.state.services
    actor = await _actor(request, services)
    if isinstance(actor, Response):
        return actor
    try:
        batch_id = uuid.UUID(request.path_params["batch_id"])
    except ValueError:
        return _error(404, "NOT_FOUND", "no such batch")
    found = await batch_status(services.db, actor, batch_id)
    if found is None:
        return _error(404, "NOT_FOUND", "no such batch")
    return JSONResponse(found.as_json(), headers={"cache-control": "no-store"})


async def list_schemas(request: Request) -> Response:
    refused = await _schema_reader(request)
    if refused is not None:
        return refused
    kinds = [{"kind": k.name, "title": k.title, "description": k.description,
              "schema": f"/feeds/schemas/{k.name}.schema.json", "id": k.schema()["$id"]}
             for k in KINDS.values()]
    return JSONResponse({"kinds": kinds, "envelope": _ENVELOPE},
                        headers={"cache-control": "no-cache"})


async def get_schema(request: Request) -> Response:
    refused = await _schema_reader(request)
    if refused is not None:
        return refused
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        return _error(404, "NOT_FOUND", f"no record kind {request.path_params['kind']!r}; "
                      "GET /feeds/schemas lists them")
    text = render(kind).encode("utf-8")
    etag = f'"{hashlib.sha256(text).hexdigest()[:32]}"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(text, media_type=SCHEMA_MEDIA, headers=headers)


_ENVELOPE = ("One JSON object a line: {\"kind\", \"key\", \"version\", \"data\"} to write a "
             "record, or {\"kind\", \"key\", \"version\", \"retire\": true} to retire it. "
             "POST them as application/x-ndjson to /feeds/records.")


async def _actor(request: Request, services: Services) -> Actor | Response:
    context = Context(request=request, response=None, services=services)
    try:
        return await context.actor()
    except AuthError as exc:
        return _error(401, "UNAUTHENTICATED", str(exc), headers={"www-authenticate": "Bearer"})


async def _schema_reader(request: Request) -> Response | None:
    """The schemas need a valid token in production, as the GraphQL schema does."""
    settings: Settings = request.app.state.settings
    if settings.development:
        return None
    actor = await _actor(request, request.app.state.services)
    return actor if isinstance(actor, Response) else None


def _params(request: Request) -> tuple[str, bool, uuid.UUID | None, bool] | Response:
    """mode, dry run, the batch's id and whether the body is gzipped; or the refusal."""
    query = request.query_params
    unknown = sorted(set(query) - {"mode", "dryRun", "batch"})
    if unknown:
        return _error(400, "BAD_REQUEST", f"unknown parameter {unknown[0]!r}: the parameters "
                      "are mode, dryRun and batch")
    mode = query.get("mode", "all")
    if mode not in MODES:
        return _error(400, "BAD_REQUEST", f"mode must be one of {', '.join(MODES)}, got "
                      f"{mode[:40]!r}")
    flag = query.get("dryRun", "false").lower()
    if flag not in ("true", "false", "1", "0"):
        return _error(400, "BAD_REQUEST", "dryRun must be true or false")
    named = {v.strip() for v in (request.headers.get("idempotency-key"), query.get("batch"))
             if v is not None}
    if len(named) > 1:
        return _error(400, "BAD_REQUEST", "the Idempotency-Key header and the batch "
                      "parameter name different batches")
    batch_id = None
    if named:
        try:
            batch_id = uuid.UUID(named.pop()[:64])
        except ValueError:
            return _error(400, "BAD_REQUEST", "a batch is named by a UUID (Idempotency-Key "
                          "or batch=)")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != NDJSON:
        return _error(415, "UNSUPPORTED_MEDIA_TYPE", f"records are sent as {NDJSON}: one "
                      "JSON object a line")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        return _error(415, "UNSUPPORTED_MEDIA_TYPE", "a body is sent as it is or gzipped "
                      "(Content-Encoding: gzip)")
    return mode, flag in ("true", "1"), batch_id, encoding == "gzip"


async def _body(request: Request, gzipped: bool, limit: int) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive (unpacked when gzipped, and then counted against
    ``limit``: the middleware counts what is sent)."""
    stream = request.stream().__aiter__()
    gunzip = Gunzip() if gzipped else None
    unpacked = 0
    while True:
        try:
            async with asyncio.timeout(STALL_SECONDS):
                chunk = await anext(stream)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise BodyStalled from None
        if gunzip is None:
            if chunk:
                yield chunk
            continue
        for piece in gunzip.feed(chunk):
            unpacked += len(piece)
            if unpacked > limit:
                raise FeedTooLarge
            yield piece
    if gunzip is not None:
        gunzip.close()


async def _sent_before(services: Services, actor: Actor, batch_id: uuid.UUID) -> Response:
    """A batch named again: its result when it is over (the body is not read again: the
    name stands for what was sent first), else a conflict."""
    found = await batch_status(services.db, actor, batch_id)
    if found is not None and found.status in _FINAL:
        return _result(found, headers={"idempotent-replayed": "true"})
    if found is not None and found.status == "running":
        return _error(409, "CONFLICT", f"batch {batch_id} is still running: GET "
                      f"/feeds/batches/{batch_id} tells how far it is")
    return _error(409, "CONFLICT", f"a batch {batch_id} exists already: name a new one")


def _result(result: BatchResult, headers: dict[str, str] | None = None) -> Response:
    """200 with the result; 422 when the batch is (or, as a dry run, would be) rejected."""
    refused = result.mode == "all" and result.rejected > 0
    return JSONResponse(result.as_json(), status_code=422 if refused else 200,
                        headers={"location": f"/feeds/batches/{result.id}", **(headers or {})})


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> Response:
    return error_response(status, code, message, headers=headers)
