"""The live page in a real browser: Debian's Chromium, headless, driven by Playwright
(which is never allowed to fetch a browser of its own), against the API, the ingester,
Redis and Mosquitto. A GPS fix published over MQTT moves the vehicle's marker on the
customer's map within two seconds; another customer's page never shows that vehicle;
the page says when it is not live and recovers by itself when the API comes back.
Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis.asyncio as aioredis
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from playwright.async_api import BrowserContext, Page, Route, WebSocketRoute, async_playwright

from api.app import create_app
from api.context import Services
from api.embedded import Mosquitto, free_port
from api.feed import EventFeed
from domain.db import Database
from domain.shipments.detected import record_shipment_event
from domain.shipments.manifest import sync_shipment_customers
from settings import Settings
from tests.support.api import CODEC, SETTINGS, token
from tests.support.factory import build
from tests.support.shipments import Tracking, build_tracking
from tests.tracking.support import OPEN_ROAD, Track, build_track, offset
from tests.tracking.test_ingester import ingesting, settings_for, unique

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
MARKER = 'g.vehicle[data-vehicle="T1"]'


class ApiServer:
    """The API under uvicorn in this event loop, on a fixed port so that it can be
    stopped and started again where the page expects it."""

    def __init__(self, services: Services, settings: Settings = SETTINGS) -> None:
        self.services = services
        self.settings = settings
        self.port = free_port(0)
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        app = create_app(self.settings, services=self.services)
        self._server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):  # uvicorn offers no event for "listening"
            if self._server.started:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the API did not start")

    async def stop(self) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await asyncio.wait_for(self._task, 30)


@pytest.fixture
async def api_server(db: Database, database_url: str, redis_url: str
                     ) -> AsyncIterator[ApiServer]:
    client = aioredis.from_url(redis_url)
    await client.flushdb()  # vehicle ids repeat across tests' databases
    feed = EventFeed(database_url)
    await feed.start()
    server = ApiServer(Services(db=db, codec=CODEC, redis=client, feed=feed))
    await server.start()
    yield server
    await server.stop()
    await feed.stop()
    await client.flushdb()
    await client.aclose()


def chromium() -> str:
    """Debian's Chromium; and the screenshots' directory made ready."""
    assert CHROMIUM.exists(), "no /usr/bin/chromium: scripts/ensure-chromium.sh installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    return str(CHROMIUM)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="keylink-chromium-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=chromium(), args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1440, "height": 900})
            try:
                yield context
            finally:
                await context.close()


async def faw_only_shipment_in_transit(db: Database) -> Track:
    """build_track's shipment, with GALANZ's coil taken off: FAW-VW's alone."""
    t = await build_track(db)
    assert t.shipment is not None
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM leg_coil WHERE coil_id = $1", t.world.coils["GALANZ"][0])
        await sync_shipment_customers(tx, t.shipment.id)
        await tx.execute("UPDATE shipment_leg SET status = 'in_transit', actual_departure ="
                         " now() - interval '30 minutes' WHERE id = $1", t.leg)
        await tx.execute("UPDATE shipment SET status = 'in_transit' WHERE id = $1",
                         t.shipment.id)
    return t


class Gps:
    """The truck's GPS unit: publishes at QoS 1 and waits for the broker's PUBACK."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def fix(self, lat: float, lon: float, heading: float, at: datetime) -> None:
        payload = {"ts": at.isoformat(), "lat": lat, "lon": lon, "speed_kmh": 45.0,
                   "heading": heading, "accuracy_m": 6}
        info = self.client.publish("keylink/v1/devices/gps-t1/position", json.dumps(payload),
                                   qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def open_page(context: BrowserContext, url: str, bearer: str, *, via: str,
                    seen: list[str]) -> Page:
    page = await context.new_page()
    page.on("request", lambda request: seen.append(request.url))
    if via == "form":
        await page.goto(f"{url}/live")
        await page.fill("#token", bearer)
        await page.click("#signin-form button[type=submit]")
    else:  # the fragment, which browsers never send to the server
        await page.goto(f"{url}/live#token={bearer}")  # as README says; kept past the redirect
    await page.wait_for_selector("#connection.live", timeout=15_000)
    return page


async def marker_at(page: Page, lat: float, lon: float, timeout_ms: float) -> None:
    await page.wait_for_function(
        """([sel, lat, lon]) => { const m = document.querySelector(sel);
            return m && Math.abs(+m.dataset.lat - lat) < 1e-9
                     && Math.abs(+m.dataset.lon - lon) < 1e-9; }""",
        arg=[MARKER, lat, lon], timeout=timeout_ms)


async def test_a_published_fix_moves_the_customers_marker_and_no_one_elses(
    api_server: ApiServer, browser: BrowserContext, db: Database, database_url: str,
    redis_url: str, mqtt_broker: Mosquitto,
) -> None:
    t = await faw_only_shipment_in_transit(db)
    faw_token, galanz_token = token("FAW-VW"), token("GALANZ")
    requested: list[str] = []
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=unique("c"))
    gps = Gps(mqtt_broker)
    try:
        async with ingesting(settings, mqtt_broker):
            faw = await open_page(browser, api_server.url, faw_token, via="form",
                                  seen=requested)
            galanz = await open_page(browser, api_server.url, galanz_token, via="fragment",
                                     seen=requested)
            assert "#token" not in galanz.url, "the token stays in the address bar"
            assert await faw.locator("li.shipment").count() == 1
            assert await faw.inner_text("li.shipment .number") == "SH-1"
            assert await galanz.locator("li.shipment").count() == 0
            # Every site each may see is drawn with its fence, a shipment's or not (the
            # port is on no leg); never another customer's warehouse.
            assert await site_codes(faw) == ["BAOSHAN", "LUOJING", "WH-FAW-VW", "WH-NEAR"]
            assert await site_codes(galanz) == ["BAOSHAN", "LUOJING", "WH-GALANZ"]
            assert await faw.locator("g.layer-fences > *").count() == 4

            # The first fix puts the truck on the map, the next one moves it.
            now = datetime.now(UTC).replace(microsecond=0)
            first = OPEN_ROAD
            gps.fix(*first, heading=120, at=now - timedelta(seconds=60))
            await marker_at(faw, *first, timeout_ms=10_000)
            second = offset(*first, north_m=-300, east_m=400)
            gps.fix(*second, heading=127, at=now)
            published = time.monotonic()
            await marker_at(faw, *second, timeout_ms=2_000)
            moved_in = time.monotonic() - published
            assert moved_in < 2.0
            print(f"marker moved {moved_in * 1000:.0f} ms after the broker took the fix")
            transform = await faw.get_attribute(f"{MARKER} g.body", "transform")
            assert transform == "rotate(127)", transform

            # GALANZ's page is live and never shows FAW-VW's truck.
            await galanz.wait_for_timeout(300)
            assert await galanz.locator(MARKER).count() == 0
            assert "Live" in await galanz.inner_text("#connection")
            await galanz.screenshot(path=ARTIFACTS / "live-page-other-customer.png")

            # A delay detected on the shipment reaches FAW-VW's feed and list, not GALANZ's.
            assert t.shipment is not None
            async with db.transaction() as tx:
                await record_shipment_event(
                    tx, t.shipment.id, t.leg, t.truck, "delayed", datetime.now(UTC),
                    {"eta": (now + timedelta(hours=5)).isoformat()}, unique("delay"))
            await faw.wait_for_selector("#event-feed li.ev-delayed", timeout=10_000)
            assert "SH-1" in await faw.inner_text("#event-feed li.ev-delayed")
            await faw.wait_for_selector("li.shipment .line4:has-text('delayed')",
                                        timeout=10_000)
            assert await galanz.locator("#event-feed li.ev-delayed").count() == 0

            # Selecting the shipment shows its track (both fixes) and its coils.
            await faw.click("li.shipment")
            await faw.wait_for_selector("#detail .coils li", timeout=5_000)
            assert await faw.locator("#detail .coils li").count() == 2
            assert "2 fixes" in await faw.inner_text("#detail")
            assert await faw.locator("g.layer-track path").count() == 1
            await faw.screenshot(path=ARTIFACTS / "live-page-customer.png")
    finally:
        gps.close()
    for url in requested:
        assert faw_token not in url and galanz_token not in url, url


async def notify(db: Database, org_id: int, title: str) -> None:
    await db.execute("INSERT INTO notification (org_id, event_type, title, body) VALUES"
                     " ($1, 'shipment.delayed', $2, 'ETA moved past the promised window')",
                     org_id, title)


async def test_unread_notifications_arrive_live_and_are_marked_read(
    api_server: ApiServer, browser: BrowserContext, db: Database,
) -> None:
    t = await faw_only_shipment_in_transit(db)
    await notify(db, t.world.org["FAW-VW"], "SH-1 is late")
    seen: list[str] = []
    faw = await open_page(browser, api_server.url, token("FAW-VW"), via="form", seen=seen)
    galanz = await open_page(browser, api_server.url, token("GALANZ"), via="form", seen=seen)
    notes = faw.locator("#notification-list li")
    await notes.first.wait_for(timeout=5_000)
    assert await faw.inner_text("#unread") == "1"
    await notify(db, t.world.org["FAW-VW"], "SH-1 is later still")
    await faw.wait_for_function(
        "() => document.querySelectorAll('#notification-list li').length === 2", timeout=10_000)
    assert await faw.inner_text("#unread") == "2"
    assert await notes.first.locator(".title").inner_text() == "SH-1 is later still"
    await notes.first.locator("button").click()
    await faw.wait_for_function(
        "() => document.querySelector('#unread').textContent === '1'", timeout=5_000)
    assert await notes.count() == 1
    # Read by this user of FAW-VW: organization-wide, the others still have it unread.
    assert await db.fetchval("SELECT count(*) FROM notification_read") == 1
    assert await galanz.locator("#notification-list li").count() == 0
    assert "No unread" in await galanz.inner_text("#notifications-state")


async def test_a_server_without_notifications_leaves_the_rest_of_the_page_working(
    api_server: ApiServer, browser: BrowserContext, db: Database,
) -> None:
    """An API from before notifications: the panel says so, the shipments still show."""
    await faw_only_shipment_in_transit(db)
    page = await browser.new_page()
    # The answer such a server gives to the notifications query.
    refusal = {"data": None, "errors": [{
        "message": "Cannot query field 'unreadNotificationCount' on type 'Query'.",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}

    async def older_server(route: Route) -> None:
        if "unreadNotificationCount" in (route.request.post_data or ""):
            await route.fulfill(json=refusal)
        else:
            await route.continue_()

    await page.route("**/graphql", older_server)
    await page.goto(f"{api_server.url}/live/#token={token('FAW-VW')}")
    await page.wait_for_selector("#connection.live", timeout=15_000)
    await page.locator("#notifications-state", has_text="unavailable").wait_for(timeout=5_000)
    assert await page.locator("li.shipment").count() == 1


async def test_the_page_says_when_it_is_not_live_and_reconnects_by_itself(
    api_server: ApiServer, browser: BrowserContext, db: Database, database_url: str,
    redis_url: str, mqtt_broker: Mosquitto,
) -> None:
    t = await faw_only_shipment_in_transit(db)
    assert t.shipment is not None
    settings = settings_for(database_url, redis_url, mqtt_broker, group=unique("g"),
                            client=unique("c"))
    gps = Gps(mqtt_broker)
    seen: list[str] = []

    async def happened(kind: str) -> None:
        assert t.shipment is not None
        async with db.transaction() as tx:
            await record_shipment_event(tx, t.shipment.id, t.leg, t.truck, kind,
                                        datetime.now(UTC), {}, unique(kind))

    try:
        async with ingesting(settings, mqtt_broker):
            page = await open_page(browser, api_server.url, token("FAW-VW"), via="form",
                                   seen=seen)
            now = datetime.now(UTC).replace(microsecond=0)
            gps.fix(*OPEN_ROAD, heading=90, at=now - timedelta(seconds=120))
            await marker_at(page, *OPEN_ROAD, timeout_ms=10_000)
            await happened("delayed")
            await page.wait_for_selector("#event-feed li.ev-delayed", timeout=10_000)

            await api_server.stop()
            await page.wait_for_selector("#connection.offline", timeout=10_000)
            assert await page.is_visible("#not-live")
            await page.screenshot(path=ARTIFACTS / "live-page-not-live.png")
            # What happens while the page is cut off is not lost: the subscription
            # starts again from the latest fix.
            moved = offset(*OPEN_ROAD, east_m=600)
            gps.fix(*moved, heading=95, at=now - timedelta(seconds=60))
            await happened("back_on_time")

            await api_server.start()
            await page.wait_for_selector("#connection.live", timeout=20_000)
            assert not await page.is_visible("#not-live")
            await marker_at(page, *moved, timeout_ms=5_000)
            # The event of the gap arrives once; the ones seen before are not repeated.
            await page.wait_for_selector("#event-feed li.ev-back_on_time", timeout=10_000)
            later = offset(*moved, east_m=400)
            gps.fix(*later, heading=95, at=now)
            await marker_at(page, *later, timeout_ms=2_000)
            await happened("arrived")
            await page.wait_for_selector("#event-feed li.ev-arrived", timeout=10_000)
            for kind in ("delayed", "back_on_time", "arrived"):
                assert await page.locator(f"#event-feed li.ev-{kind}").count() == 1, kind
            # One marker for the truck, where its latest fix is, and one row for SH-1.
            assert await page.locator("g.vehicle").count() == 1
            assert await page.locator("li.shipment").count() == 1
    finally:
        gps.close()


async def test_a_websocket_that_never_connects_is_said_not_live_until_it_does(
    api_server: ApiServer, browser: BrowserContext, db: Database,
) -> None:
    """A proxy that holds WebSockets open and never passes them on: the shipments read
    over HTTP still show, and the page says it is not live rather than "connecting" for
    ever; once the way is open it goes live by itself."""
    await faw_only_shipment_in_transit(db)
    blocked = True

    async def proxy(ws: WebSocketRoute) -> None:
        if not blocked:
            ws.connect_to_server()

    page = await browser.new_page()
    await page.route_web_socket("**/graphql", proxy)
    await page.goto(f"{api_server.url}/live#token={token('FAW-VW')}")
    await page.wait_for_selector("#connection.offline", timeout=20_000)
    assert await page.is_visible("#not-live")
    assert await page.locator("li.shipment").count() == 1
    blocked = False
    await page.wait_for_selector("#connection.live", timeout=20_000)
    assert not await page.is_visible("#not-live")


async def test_a_rejected_token_is_said_so_and_not_kept(
    api_server: ApiServer, browser: BrowserContext,
) -> None:
    page = await browser.new_page()
    await page.goto(f"{api_server.url}/live")
    await page.fill("#token", "not-a-token")
    await page.check("#remember")
    await page.click("#signin-form button[type=submit]")
    error = page.locator("#signin-error")
    await error.filter(has_text="not accepted").wait_for(timeout=5_000)
    assert await page.is_hidden("#app")
    kept = await page.evaluate("[sessionStorage.length, localStorage.length]")
    assert kept == [0, 0]


async def test_a_page_whose_token_expired_while_offline_is_signed_out(
    db: Database, redis_url: str, browser: BrowserContext,
) -> None:
    """The API comes back after the page's token has expired: sockets that sign in with
    it are refused (4403), and the page asks for a new token instead of trying the old
    one for ever."""
    await faw_only_shipment_in_transit(db)
    client = aioredis.from_url(redis_url)
    server = ApiServer(Services(db=db, codec=CODEC, redis=client),
                       SETTINGS.replace(ws_auth_timeout_s=1))
    await server.start()
    try:
        brief = CODEC.issue(org="FAW-VW", roles=["customer"], subject="brief", ttl_seconds=5)
        page = await open_page(browser, server.url, brief, via="fragment", seen=[])
        await server.stop()
        await page.wait_for_selector("#connection.offline", timeout=10_000)
        await asyncio.sleep(6)
        await server.start()
        error = page.locator("#signin-error")
        await error.filter(has_text="not accepted").wait_for(timeout=20_000)
        assert await page.is_hidden("#app")
    finally:
        await server.stop()
        await client.aclose()


async def test_signing_out_and_in_as_another_customer_starts_afresh(
    api_server: ApiServer, browser: BrowserContext, db: Database,
) -> None:
    await faw_only_shipment_in_transit(db)
    seen: list[str] = []
    page = await open_page(browser, api_server.url, token("FAW-VW"), via="form", seen=seen)
    assert await page.locator("li.shipment").count() == 1
    await page.click("#signout")
    await page.wait_for_selector("#signin", state="visible")
    assert await page.evaluate("sessionStorage.length + localStorage.length") == 0
    await page.fill("#token", token("GALANZ"))
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#connection.live", timeout=15_000)
    assert await page.locator("li.shipment").count() == 0
    assert await page.locator("svg#map > g.layer-sites").count() == 1
    # GALANZ's own warehouse and the shared sites; none of FAW-VW's.
    assert await site_codes(page) == ["BAOSHAN", "LUOJING", "WH-GALANZ"]


async def site_codes(page: Page) -> list[str]:
    return sorted(await page.locator("svg#map g.site text").all_text_contents())


async def test_the_page_is_served_with_headers_that_keep_it_to_its_origin(
    api_server: ApiServer,
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=api_server.url) as client:
        redirect = await client.get("/live")
        assert redirect.status_code in (307, 308)
        page = await client.get("/live/")
        assert page.status_code == 200 and "Keylink live" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self';" in csp
        assert page.headers["referrer-policy"] == "no-referrer"
        vendored = await client.get("/live/vendor/graphql-ws-6.4.2.min.js")
        assert vendored.status_code == 200 and "graphql-transport-ws" in vendored.text
        assert (await client.get("/live/%2e%2e/app.py")).status_code == 404
        assert (await client.get("/live/missing.js")).status_code == 404


async def test_the_page_cannot_open_a_websocket_to_another_host(
    api_server: ApiServer, browser: BrowserContext,
) -> None:
    """The CSP keeps the WebSocket to the API's own origin: a script on the page cannot
    carry the token off over a socket to somewhere else."""
    page = await browser.new_page()
    await page.goto(f"{api_server.url}/live")
    outcome = await page.evaluate("""() => new Promise((done) => {
        document.addEventListener("securitypolicyviolation",
            (e) => done(e.effectiveDirective), { once: true });
        setTimeout(() => done("allowed"), 3000);
        try { new WebSocket("ws://127.0.0.2:9/steal"); } catch (e) { done(e.name); }
    })""")
    assert outcome in ("connect-src", "SecurityError"), outcome


async def test_fences_stored_with_exact_decimals_are_served_as_json_numbers(
    api_server: ApiServer, db: Database,
) -> None:
    """The map draws fences from `Site.geofence`: JSON read with exact decimals must go
    out as numbers, over HTTP and over the WebSocket alike."""
    import httpx

    t = await faw_only_shipment_in_transit(db)
    ring = [[121.47, 31.39], [121.49, 31.39], [121.49, 31.41], [121.47, 31.41],
            [121.47, 31.39]]
    await db.execute("UPDATE site SET geofence = $2 WHERE id = $1", t.site["plant"],
                     {"type": "Polygon", "coordinates": [ring]})
    query = "{ shipments { nodes { legs { origin { code geofence } } } } }"
    async with httpx.AsyncClient(base_url=api_server.url) as client:
        got = await client.post("/graphql", json={"query": query},
                                headers={"Authorization": f"Bearer {token('FAW-VW')}"})
    assert got.status_code == 200, got.text
    origin = got.json()["data"]["shipments"]["nodes"][0]["legs"][0]["origin"]
    assert origin["geofence"] == {"type": "Polygon", "coordinates": [ring]}


async def test_staff_see_every_customers_shipments_and_filter_by_customer(
    api_server: ApiServer, browser: BrowserContext, db: Database, redis_url: str,
) -> None:
    t = await build_tracking(db, await build(db))
    seen: list[str] = []
    staff = await open_page(browser, api_server.url, token("BAOSTEEL", "logistics"),
                            via="form", seen=seen)
    numbers = staff.locator("li.shipment .number")
    await staff.wait_for_function(
        "() => document.querySelectorAll('g.vehicle').length === 3", timeout=10_000)
    assert sorted(await numbers.all_inner_texts()) == ["SH-FAW", "SH-GALANZ", "SH-SHARED"]
    options = await staff.locator("#customer-filter option").all_inner_texts()
    assert [o.split(" ")[0] for o in options[1:]] == ["FAW-VW", "GALANZ"]

    await staff.select_option("#customer-filter", "GALANZ")
    assert sorted(await numbers.all_inner_texts()) == ["SH-GALANZ", "SH-SHARED"]
    visible = staff.locator("g.vehicle:not(.hidden)")
    assert [await m.get_attribute("data-vehicle") for m in await visible.all()] == ["SHIP-1"]
    # The fleet stream moves the ship for staff, as the ingester announces it.
    redis = aioredis.from_url(redis_url)
    try:
        await redis.publish("vehicles", live_fix(t, "SHIP-1", ["galanz"], 31.0, 122.0))
    finally:
        await redis.aclose()
    await staff.wait_for_function(
        """() => { const m = document.querySelector('g.vehicle[data-vehicle="SHIP-1"]');
                   return m && m.dataset.lat === '31' && m.dataset.lon === '122'; }""",
        timeout=2_000)
    await staff.select_option("#customer-filter", "")
    assert await staff.locator("g.vehicle.hidden").count() == 0
    # SH-FAW's wagon runs nine hours behind: the shipment leads the list, marked late,
    # and is all that "late only" keeps.
    assert (await numbers.all_inner_texts())[0] == "SH-FAW"
    assert await staff.locator("li.shipment.late .number").all_inner_texts() == ["SH-FAW"]
    await staff.check("#late-only")
    assert await numbers.all_inner_texts() == ["SH-FAW"]
    await staff.uncheck("#late-only")
    await staff.screenshot(path=ARTIFACTS / "live-page-staff.png")

    # The customer sees its own two shipments and only the vehicle on its own.
    faw = await open_page(browser, api_server.url, token("FAW-VW"), via="form", seen=seen)
    await faw.wait_for_selector('g.vehicle[data-vehicle="WAG-1"]', timeout=10_000)
    assert sorted(await faw.locator("li.shipment .number").all_inner_texts()) == [
        "SH-FAW", "SH-SHARED"]
    assert await faw.locator("#customer-filter-box").is_hidden()
    assert await faw.locator('g.vehicle[data-vehicle="SHIP-1"]').count() == 0


def live_fix(t: Tracking, vehicle: str, shipments: list[str], lat: float, lon: float) -> str:
    """A position as the ingester publishes it on the live bus."""
    return json.dumps({
        "type": "position", "vehicle_id": t.vehicle[vehicle], "device_id": 1,
        "shipment_ids": [t.shipment[s] for s in shipments],
        "fix_time": datetime.now(UTC).isoformat(), "lat": lat, "lon": lon,
        "speed_kmh": 20.0, "heading": 45.0, "accuracy_m": 10.0, "source": "ais",
        "out_of_order": False, "latest": True})


async def test_a_scan_off_route_shows_as_trouble_in_the_mills_feed_only(
    api_server: ApiServer, browser: BrowserContext, db: Database,
) -> None:
    t = await build_tracking(db, await build(db))
    seen: list[str] = []
    staff = await open_page(browser, api_server.url, token("BAOSTEEL", "logistics"),
                            via="form", seen=seen)
    faw = await open_page(browser, api_server.url, token("FAW-VW"), via="form", seen=seen)
    await faw.wait_for_selector("li.shipment", timeout=10_000)
    # GALANZ's scanner unloading FAW-VW's coil, as detection records it.
    async with db.transaction() as tx:
        await record_shipment_event(
            tx, t.shipment["faw"], t.leg["faw-2"], None, "scan_off_route", datetime.now(UTC),
            {"scan_id": 1, "code": "BX26C0000001", "step": "unloading",
             "site_id": t.world.site["GALANZ"], "site": "WH-GALANZ",
             "coil_id": t.world.coils["FAW-VW"][0]}, unique("off-route"))
    item = staff.locator("#event-feed li.ev-scan_off_route")
    await item.wait_for(timeout=10_000)
    assert "tone-bad" in (await item.get_attribute("class") or "")
    text = await item.inner_text()
    assert "scan off route" in text.lower() and "WH-GALANZ" in text and "SH-FAW" in text
    assert "scanned BX26C0000001 (unloading)" in text and "not moved" in text
    await faw.wait_for_timeout(500)
    assert await faw.locator("#event-feed li.ev-scan_off_route").count() == 0
