"""The API's edge against what a hostile or careless client sends: request bodies limited
before they are read, WebSockets that must sign in quickly and cannot be hoarded, rate
limits per token and per address (in Redis when there is one), CORS for the configured
origins only, and a normal disconnect that is not logged as an error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from starlette.applications import Starlette
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.app import SERVER_OPTIONS, WS_MAX_MESSAGE_BYTES, create_app
from api.auth import Claims, TokenCodec
from api.context import Services
from api.embedded import free_port
from api.sockets import HeadTimeoutProtocol, TransportWSHandler
from domain.db import Database
from resolvers.relay import to_global_id
from settings import Settings, SettingsError
from tests.shipments.test_shipment_subscriptions import POSITIONS, _position
from tests.support.api import CODEC, SETTINGS, graphql_ws, serving, token
from tests.support.factory import build
from tests.support.shipments import build_tracking

VIEWER = {"query": "{ viewer { subject } }"}
PROTOCOL = ["graphql-transport-ws"]


def _app(db: Database, settings: Settings, redis: Any = None) -> Starlette:
    app = create_app(settings, services=Services(db=db, codec=CODEC, redis=redis))
    app.state.services = Services(db=db, codec=CODEC, redis=redis)
    return app


def _client(app_or_db: Starlette | Database, settings: Settings = SETTINGS, *,
            address: str = "127.0.0.1", redis: Any = None) -> httpx.AsyncClient:
    """A client of ``app_or_db`` (an app, or a new one on a database) from ``address``."""
    app = app_or_db if isinstance(app_or_db, Starlette) else _app(app_or_db, settings, redis)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://keylink.test")


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# -- request bodies -------------------------------------------------------------------

class Chunks:
    """A JSON body sent in chunks without a Content-Length; counts what was taken."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"x" * self.chunk
        yield b'"}'


async def test_a_body_over_the_limit_is_refused_before_it_is_read(db: Database) -> None:
    settings = SETTINGS.replace(body_max_bytes=256 * 1024)
    async with _client(db, settings) as client:
        # Stated too large: refused without taking a byte of it.
        stated = Chunks(300 * 1024 * 1024)
        r = await client.post("/graphql", content=stated, headers={
            "content-type": "application/json", "content-length": str(300 * 1024 * 1024)})
        assert r.status_code == 413 and _code(r) == "PAYLOAD_TOO_LARGE"
        assert stated.sent == 0
        # No length (chunked): counted as it arrives, refused at the limit.
        chunked = Chunks(300 * 1024 * 1024)
        r = await client.post("/graphql", content=chunked,
                              headers={"content-type": "application/json"})
        assert r.status_code == 413 and _code(r) == "PAYLOAD_TOO_LARGE"
        assert r.json()["errors"][0]["message"] == "a request body is limited to 262,144 bytes"
        assert chunked.sent <= 256 * 1024 + 64 * 1024
        # Under the limit, chunked or not, it runs.
        small = Chunks(128 * 1024)
        r = await client.post("/graphql", content=small,
                              headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["data"] == {"__typename": "Query"}
        # Uploads keep their own, larger limit.
        r = await client.post("/graphql", content=b"x" * 300 * 1024, headers={
            "content-type": "multipart/form-data; boundary=b",
            "authorization": f"Bearer {token('FAW-VW')}"})
        assert r.status_code == 400  # read (and found malformed), not refused for size


async def test_an_upload_without_a_valid_token_is_held_to_the_body_limit(
    db: Database,
) -> None:
    settings = SETTINGS.replace(body_max_bytes=256 * 1024)
    async with _client(db, settings) as client:
        for bearer in (None, "forged", token("FAW-VW")[:-4] + "abcd"):
            stated = Chunks(300 * 1024)
            r = await client.post("/graphql", content=stated, headers={
                "content-type": "multipart/form-data; boundary=b",
                "content-length": str(300 * 1024 + 64),
                **({"authorization": f"Bearer {bearer}"} if bearer else {})})
            assert r.status_code == 413 and _code(r) == "PAYLOAD_TOO_LARGE", bearer
            assert r.json()["errors"][0]["message"] == (
                "an upload without a valid token is limited to 262,144 bytes")
            assert stated.sent == 0


async def test_deeply_nested_json_is_a_bad_request_not_a_crash(api: Any) -> None:
    for body in (b"[" * 100_000, b'{"query": "{ __typename }", "variables": {"a": '
                 + b"[" * 100_000 + b"]" * 100_000 + b"}}"):
        r = await api.client.post("/graphql", content=body,
                                  headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert _code(r) == "BAD_REQUEST"
        assert "nested too deeply" in r.json()["errors"][0]["message"]


async def test_a_websocket_message_is_limited_as_served(db: Database) -> None:
    app = create_app(SETTINGS, services=Services(db=db, codec=CODEC))
    async with serving(app, **SERVER_OPTIONS) as address, websockets.connect(
            f"ws://{address}/graphql", subprotocols=PROTOCOL, max_size=None) as ws:
        await ws.send("x" * (WS_MAX_MESSAGE_BYTES + 1))
        assert await _closed_with(ws) == 1009  # message too big


# -- sockets --------------------------------------------------------------------------

@pytest.fixture
async def edge_ws(db: Database) -> AsyncIterator[str]:
    await build(db)
    settings = SETTINGS.replace(ws_auth_timeout_s=1, ws_max_per_address=3)
    async with graphql_ws(Services(db=db, codec=CODEC), settings) as url:
        yield url


async def _closed_with(ws: Any, wait: float = 5) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), wait)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def _init(ws: Any, payload: dict[str, Any]) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))


async def test_a_connection_must_send_its_request_head_within_seconds(
    db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(HeadTimeoutProtocol, "timeout", 1.0)
    await build(db)
    app = create_app(SETTINGS, services=Services(db=db, codec=CODEC))
    async with serving(app, **SERVER_OPTIONS) as address:
        port = int(address.rsplit(":", 1)[1])
        silent = await asyncio.open_connection("127.0.0.1", port)
        slow = await asyncio.open_connection("127.0.0.1", port)
        slow[1].write(b"POST /graphql HTTP/1.1\r\nHost: keylink.test\r\n")
        await slow[1].drain()
        # Both are closed by the server, with nothing sent back.
        for reader, _ in (silent, slow):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        # A request that comes in whole is served, then kept alive past the timeout.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(1.5)
            assert (await client.post("/graphql", json=VIEWER)).status_code == 200
        # A WebSocket is not affected once it has been opened.
        async with websockets.connect(f"ws://127.0.0.1:{port}/graphql",
                                      subprotocols=PROTOCOL) as ws:
            await asyncio.sleep(1.5)
            await _init(ws, {"Authorization": f"Bearer {token('FAW-VW')}"})
            assert json.loads(await ws.recv())["type"] == "connection_ack"


async def test_a_socket_that_does_not_sign_in_is_closed(edge_ws: str) -> None:
    async with websockets.connect(edge_ws, subprotocols=PROTOCOL) as silent:
        assert await _closed_with(silent) == 4408  # no connection_init within 1 s
    async with websockets.connect(edge_ws, subprotocols=PROTOCOL) as anonymous:
        await _init(anonymous, {})
        assert await _closed_with(anonymous, 0.5) == 4403
    async with websockets.connect(edge_ws, subprotocols=PROTOCOL) as forged:
        await _init(forged, {"Authorization": "Bearer forged"})
        assert await _closed_with(forged, 0.5) == 4403
    async with websockets.connect(edge_ws, subprotocols=PROTOCOL) as signed:
        await _init(signed, {"Authorization": f"Bearer {token('FAW-VW')}"})
        assert json.loads(await signed.recv())["type"] == "connection_ack"
        await asyncio.sleep(1.5)  # past the sign-in timeout, still open
        await signed.send(json.dumps({"type": "ping"}))
        assert json.loads(await signed.recv())["type"] == "pong"


async def test_a_socket_is_closed_once_its_token_has_expired(edge_ws: str) -> None:
    brief = CODEC.issue(org="FAW-VW", roles=["customer"], subject="brief", ttl_seconds=1)
    async with websockets.connect(edge_ws, subprotocols=PROTOCOL) as ws:
        await _init(ws, {"Authorization": f"Bearer {brief}"})
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        assert await _closed_with(ws, 5) == 4403  # 1 s of token, 1 s of grace


async def test_one_address_cannot_hold_more_sockets_than_its_cap(edge_ws: str) -> None:
    held = [await websockets.connect(edge_ws, subprotocols=PROTOCOL) for _ in range(3)]
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(edge_ws, subprotocols=PROTOCOL)
    assert refused.value.response.status_code == 429
    assert json.loads(refused.value.response.body)["errors"][0]["extensions"]["code"] == (
        "TOO_MANY_CONNECTIONS")
    # Another address is not affected, and a closed socket frees its place.
    other = await websockets.connect(edge_ws, subprotocols=PROTOCOL,
                                     local_addr=("127.0.0.2", 0))
    await other.close()
    await held.pop().close()
    for _ in range(50):
        try:
            held.append(await websockets.connect(edge_ws, subprotocols=PROTOCOL))
            break
        except InvalidStatus:
            await asyncio.sleep(0.05)
    assert len(held) == 3
    for ws in held:
        await ws.close()


# -- rate limits ----------------------------------------------------------------------

async def test_operations_are_limited_per_token_and_per_address(db: Database) -> None:
    await build(db)
    app = _app(db, SETTINGS.replace(rate_limit_per_minute=3))
    faw, galanz = token("FAW-VW", subject="a"), token("GALANZ", subject="b")
    async with _client(app) as client, _client(app, address="10.1.1.1") as other_place:
        for _ in range(3):
            r = await client.post("/graphql", json=VIEWER,
                                  headers={"authorization": f"Bearer {faw}"})
            assert r.status_code == 200 and "errors" not in r.json()
        r = await client.post("/graphql", json=VIEWER,
                              headers={"authorization": f"Bearer {faw}"})
        assert r.status_code == 429 and _code(r) == "RATE_LIMITED"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["errors"][0]["extensions"]["retryAfter"] == int(
            r.headers["retry-after"])
        # The same bearer from elsewhere spends the same budget; another bearer has its own.
        r = await other_place.post("/graphql", json=VIEWER,
                                   headers={"authorization": f"Bearer {faw}"})
        assert r.status_code == 429
        r = await client.post("/graphql", json=VIEWER,
                              headers={"authorization": f"Bearer {galanz}"})
        assert r.status_code == 200
        # Without a valid token, the address's budget: a forged token is no way out.
        for bearer in (None, "forged", "forged-again"):
            headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
            r = await client.post("/graphql", json=VIEWER, headers=headers)
            assert r.status_code == 200
        r = await client.post("/graphql", json=VIEWER, headers={"authorization": "Bearer x"})
        assert r.status_code == 429 and _code(r) == "RATE_LIMITED"
        assert (await other_place.post("/graphql", json=VIEWER)).status_code == 200
        # Health checks are not API operations.
        assert (await client.get("/healthz")).status_code == 200


class CountingCodec(TokenCodec):
    """The tests' codec, counting the tokens it verifies."""

    verified = 0

    async def authenticate(self, token: str) -> Claims:
        self.verified += 1
        return await super().authenticate(token)


async def test_a_request_s_token_is_verified_once_for_its_budget_and_its_viewer(
        db: Database) -> None:
    await build(db)
    settings = SETTINGS.replace(rate_limit_per_minute=100)
    codec = CountingCodec.from_settings(settings)
    app = create_app(settings, services=Services(db=db, codec=codec))
    app.state.services = Services(db=db, codec=codec)
    faw = token("FAW-VW", subject="a")
    async with _client(app) as client:
        r = await client.post("/graphql", json=VIEWER, headers={"authorization": f"Bearer {faw}"})
        assert r.status_code == 200 and r.json()["data"]["viewer"]["subject"] == "a"
        assert codec.verified == 1
        # The next request verifies its token afresh.
        r = await client.post("/graphql", json=VIEWER, headers={"authorization": f"Bearer {faw}"})
        assert r.status_code == 200 and codec.verified == 2
        # A token refused for the budget is refused for the viewer too.
        r = await client.post("/graphql", json=VIEWER, headers={"authorization": "Bearer x"})
        assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
async def test_operations_over_a_socket_spend_the_same_budget(db: Database) -> None:
    await build(db)
    settings = SETTINGS.replace(rate_limit_per_minute=3)
    services = Services(db=db, codec=CODEC)
    bearer = token("FAW-VW", subject="socket-user")
    async with graphql_ws(services, settings) as url:
        async with websockets.connect(url, subprotocols=PROTOCOL) as ws:
            await _init(ws, {"Authorization": f"Bearer {bearer}"})
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            answers = []
            for n in range(4):
                await ws.send(json.dumps({"type": "subscribe", "id": str(n), "payload": VIEWER}))
                first = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if first["type"] == "next":
                    assert json.loads(await ws.recv())["type"] == "complete"
                answers.append(first)
        assert [a["type"] for a in answers] == ["next", "next", "next", "error"]
        refusal = answers[3]["payload"][0]
        assert refusal["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= refusal["extensions"]["retryAfter"] <= 60
        # The user's budget is one: over HTTP the same user is refused too.
        http_url = url.replace("ws://", "http://")
        async with httpx.AsyncClient() as client:
            r = await client.post(http_url, json=VIEWER,
                                  headers={"authorization": f"Bearer {bearer}"})
        assert r.status_code == 429 and _code(r) == "RATE_LIMITED"


async def test_an_ipv6_client_is_one_address_however_many_of_its_64_it_uses(
    db: Database,
) -> None:
    await build(db)
    app = _app(db, SETTINGS.replace(rate_limit_per_minute=2))
    clients = [_client(app, address=a) for a in (
        "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fffe",
        "2001:db8:1:3::1", "::ffff:192.0.2.7", "192.0.2.7")]
    try:
        codes = [(await c.post("/graphql", json=VIEWER)).status_code for c in clients]
    finally:
        for c in clients:
            await c.aclose()
    # Three addresses of one /64 share its budget; the next /64 has its own; an IPv4
    # address is the same client whether or not it comes mapped into IPv6.
    assert codes == [200, 200, 429, 200, 200, 200]
    async with _client(app, address="192.0.2.7") as again:
        assert (await again.post("/graphql", json=VIEWER)).status_code == 429


async def test_replicas_share_one_budget_in_redis(db: Database, redis_url: str) -> None:
    await build(db)
    redis = aioredis.from_url(redis_url)
    settings = SETTINGS.replace(rate_limit_per_minute=3)
    bearer = {"authorization": f"Bearer {token('FAW-VW', subject='replicated')}"}
    try:
        async with _client(db, settings, redis=redis) as one, \
                _client(db, settings, redis=redis) as two:
            assert (await one.post("/graphql", json=VIEWER, headers=bearer)).status_code == 200
            assert (await two.post("/graphql", json=VIEWER, headers=bearer)).status_code == 200
            assert (await one.post("/graphql", json=VIEWER, headers=bearer)).status_code == 200
            r = await two.post("/graphql", json=VIEWER, headers=bearer)
            assert r.status_code == 429 and "retry-after" in r.headers
        assert [k async for k in redis.scan_iter("keylink:ratelimit*")]
    finally:
        keys = [k async for k in redis.scan_iter("keylink:ratelimit*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_requests_pass_when_the_budgets_storage_fails(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await build(db)
    gone = aioredis.from_url(f"redis://127.0.0.1:{free_port(0)}")  # nothing listens there
    caplog.set_level(logging.WARNING, logger="keylink.api.ratelimit")
    try:
        async with _client(db, SETTINGS.replace(rate_limit_per_minute=1), redis=gone) as client:
            for _ in range(3):
                assert (await client.post("/graphql", json=VIEWER)).status_code == 200
    finally:
        await gone.aclose()
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits not applied: their storage failed"]


async def test_new_sockets_are_limited_per_address_and_per_token(db: Database) -> None:
    await build(db)
    settings = SETTINGS.replace(socket_rate_per_minute=2)
    async with graphql_ws(Services(db=db, codec=CODEC), settings) as url:
        for _ in range(2):
            ws = await websockets.connect(url, subprotocols=PROTOCOL)
            await ws.close()
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(url, subprotocols=PROTOCOL)
        assert refused.value.response.status_code == 429
        assert int(refused.value.response.headers["retry-after"]) >= 1
        assert json.loads(refused.value.response.body)["errors"][0]["extensions"][
            "code"] == "RATE_LIMITED"
        # One bearer signing in from many addresses spends its own budget.
        bearer = {"Authorization": f"Bearer {token('FAW-VW', subject='roaming')}"}
        codes = []
        for n in range(3):
            async with websockets.connect(url, subprotocols=PROTOCOL,
                                          local_addr=(f"127.0.1.{n + 1}", 0)) as ws:
                await _init(ws, bearer)
                try:
                    codes.append(json.loads(await ws.recv())["type"])
                except ConnectionClosed as closed:
                    assert closed.rcvd is not None
                    codes.append(closed.rcvd.code)
        assert codes == ["connection_ack", "connection_ack", 4429]


# -- CORS -----------------------------------------------------------------------------

PREFLIGHT = {"access-control-request-method": "POST",
             "access-control-request-headers": "authorization, content-type"}


async def test_cors_answers_the_configured_origins_only(db: Database) -> None:
    portal = "https://portal.example.com"
    async with _client(db, SETTINGS) as closed:
        r = await closed.options("/graphql", headers={"origin": portal, **PREFLIGHT})
        assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    settings = SETTINGS.replace(cors_origins=f"{portal}, http://localhost:5173")
    async with _client(db, settings) as client:
        r = await client.options("/graphql", headers={"origin": portal, **PREFLIGHT})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == portal
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = await client.options("/graphql", headers={"origin": "https://evil.example",
                                                      **PREFLIGHT})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = await client.post("/graphql", json={"query": "{ __typename }"},
                              headers={"origin": portal})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == portal
        assert "x-request-id" in r.headers["access-control-expose-headers"]
        r = await client.post("/graphql", json={"query": "{ __typename }"},
                              headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


async def test_pages_of_the_configured_origins_may_open_the_socket(db: Database) -> None:
    portal = "https://portal.example.com"
    settings = SETTINGS.replace(cors_origins=portal)
    async with graphql_ws(Services(db=db, codec=CODEC), settings) as url:
        ws = await websockets.connect(url, subprotocols=PROTOCOL, origin=portal)
        await ws.close()
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(url, subprotocols=PROTOCOL,
                                     origin="https://evil.example")
        assert refused.value.response.status_code == 403


def test_cors_origins_must_be_origins() -> None:
    s = Settings.from_env({"KEYLINK_CORS_ORIGINS": "https://a.example, http://[::1]:8080/"})
    assert s.cors_origin_list == ("https://a.example", "http://[::1]:8080")
    for bad in ("*", "https://a.example/path", "portal.example.com"):
        with pytest.raises(SettingsError, match="KEYLINK_CORS_ORIGINS"):
            Settings.from_env({"KEYLINK_CORS_ORIGINS": bad})
    with pytest.raises(SettingsError, match="KEYLINK_RATE_LIMIT_PER_MINUTE"):
        Settings.from_env({"KEYLINK_RATE_LIMIT_PER_MINUTE": "-1"})


# -- a client going away --------------------------------------------------------------

async def test_clients_closing_their_sockets_under_load_log_no_error(
    db: Database, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis = aioredis.from_url(redis_url)
    await redis.flushdb()
    t = await build_tracking(db, await build(db))
    channel = f"shipment:{t.shipment['faw']}"
    variables = {"id": to_global_id("Shipment", t.shipment["faw"])}
    caplog.set_level(logging.DEBUG, logger="keylink.api.sockets")
    flooding = True

    async def flood() -> None:  # positions as fast as Redis takes them
        n = 0
        while flooding:
            n += 1
            await redis.publish(channel, _position(t, "WAG-1", ["faw"], 40.0, n))
            await asyncio.sleep(0)

    try:
        async with graphql_ws(Services(db=db, codec=CODEC, redis=redis)) as url:
            publisher = asyncio.create_task(flood())
            for n in range(20):
                ws = await websockets.connect(url, subprotocols=PROTOCOL)
                await _init(ws, {"Authorization": f"Bearer {token('FAW-VW')}"})
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": POSITIONS, "variables": variables}}))
                for _ in range(2):
                    assert json.loads(await ws.recv())["type"] == "next"
                if n % 2:
                    await ws.close()
                else:
                    ws.transport.abort()  # gone without a word
            await asyncio.sleep(0.5)
            flooding = False
            await publisher
    finally:
        await redis.flushdb()
        await redis.aclose()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_send_to_a_gone_client_is_a_debug_line_and_a_bug_still_an_error(
    caplog: pytest.LogCaptureFixture
) -> None:
    handler = TransportWSHandler.__new__(TransportWSHandler)
    caplog.set_level(logging.DEBUG)
    try:
        try:
            raise WebSocketDisconnect(code=1006)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
    except WebSocketDisconnected as gone:
        await handler.handle_task_exception(gone)
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("keylink.api.sockets", logging.DEBUG)]
    for bug in (ValueError("a bug"), ConnectionRefusedError("the database is down")):
        caplog.clear()
        await handler.handle_task_exception(bug)
        assert [(r.name, r.levelno) for r in caplog.records] == [
            ("strawberry.ws.task", logging.ERROR)]
