"""GraphiQL works on a network without internet access: its page references only files
the API serves itself, and in a real browser that may reach nothing else it renders and
runs a query."""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Route, async_playwright

from api.app import GRAPHIQL_DIR, create_app
from api.context import Services
from domain.db import Database
from tests.shipments.test_live_page import ARTIFACTS, CHROMIUM_ARGS, chromium
from tests.support.api import CODEC, SETTINGS, Api, serving

ASSET = re.compile(r'(?:src|href)="([^"]*)"')


async def _page(client: httpx.AsyncClient) -> str:
    r = await client.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    return r.text


async def test_the_page_references_only_its_own_files_and_they_are_served(api: Api) -> None:
    page = await _page(api.client)
    assert "://" not in page and "//" not in page.replace("<!--", "")
    assets = ASSET.findall(page)
    assert len(assets) == 8, assets
    for asset in assets:
        assert asset.startswith("/graphiql/"), asset
        r = await api.client.get(asset)
        assert r.status_code == 200, asset
        assert r.content == (GRAPHIQL_DIR / asset.removeprefix("/graphiql/")).read_bytes()
        kind = "text/css" if asset.endswith(".css") else "text/javascript"
        assert r.headers["content-type"].startswith(kind), asset
    # Each vendored file keeps its licence beside it.
    vendor = {p.name for p in (GRAPHIQL_DIR / "vendor").iterdir()}
    for name in ("react", "react-dom", "graphiql", "graphiql-plugin-explorer"):
        assert f"{name}-LICENSE" in vendor


async def test_no_graphiql_in_production(db: Database) -> None:
    app = create_app(SETTINGS.replace(environment="production"),
                     services=Services(db=db, codec=CODEC))
    app.state.services = Services(db=db, codec=CODEC)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://keylink.test") as client:
        r = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in r.text.lower()
        assert (await client.get("/graphiql/graphiql.js")).status_code == 404


@pytest.fixture
async def served(db: Database) -> AsyncIterator[str]:
    async with serving(create_app(SETTINGS, services=Services(db=db, codec=CODEC))) as address:
        yield f"http://{address}"


async def test_graphiql_renders_and_runs_a_query_without_internet(served: str) -> None:
    outside: list[str] = []

    async def only_keylink(route: Route) -> None:
        if route.request.url.startswith(served):
            await route.continue_()
        else:  # the plant network: nothing else answers
            outside.append(route.request.url)
            await route.abort()

    with tempfile.TemporaryDirectory(prefix="keylink-chromium-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
            try:
                await context.route("**/*", only_keylink)
                page = await context.new_page()
                errors: list[Any] = []
                page.on("pageerror", lambda error: errors.append(error))
                await page.goto(f"{served}/graphql", wait_until="load")
                run = page.locator(".graphiql-execute-button")
                await run.wait_for(timeout=20000)
                assert "Loading..." not in await page.locator("#graphiql").inner_text()
                await run.click()
                result = page.locator(".result-window")
                await result.get_by_text("UNAUTHENTICATED").wait_for(timeout=20000)
                await page.screenshot(path=ARTIFACTS / "graphiql.png")
                assert errors == []
            finally:
                await context.close()
    assert outside == []
