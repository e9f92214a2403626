"""`POST /feeds/records`: a plant system's token writes records in bulk, all-or-nothing or
per record; replays and older versions change nothing; only an integration token naming
the kind may write it; the body is streamed, bounded by its own limit."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator

import pytest

from domain.db import Database
from domain.feeds.batch import CHUNK
from tests.feeds.support import (
    Feed,
    bearer,
    feed_api,
    integration_token,
    ndjson,
    org,
    seed_parties,
    token_naming,
)
from tests.support.api import MILL_ROLES, SETTINGS, token

ERP = integration_token("organization")


@pytest.fixture
async def feed(db: Database) -> AsyncIterator[Feed]:
    await seed_parties(db)
    async with feed_api(db) as f:
        yield f


async def test_an_integration_token_writes_records_and_the_result_counts_them(
        feed: Feed) -> None:
    body = ndjson([org("ACME"), org("NORTHWIND", 3, kind="carrier"),
                   org("CONTOSO", "2026-03-01T08:00:00+08:00")])

    r = await feed.post(body, ERP)

    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["status"], result["mode"], result["dryRun"]) == ("committed", "all", False)
    assert (result["linesRead"], result["applied"], result["rejected"]) == (3, 3, 0)
    assert result["rejections"] == [] and result["finishedAt"] is not None
    assert r.headers["location"] == f"/feeds/batches/{result['id']}"
    orgs = await feed.organizations()
    assert orgs["ACME"] == ("ACME Ltd", "customer")
    assert orgs["NORTHWIND"] == ("NORTHWIND Ltd", "carrier")
    assert await feed.events() == 3
    actors = await feed.db.fetch("SELECT DISTINCT actor FROM domain_event"
                                 " WHERE event_type = 'organization.created'")
    assert [a["actor"] for a in actors] == ["erp"]

    status = await feed.client.get(r.headers["location"], headers=bearer(ERP))
    assert status.status_code == 200
    assert status.json() | {"finishedAt": None} == result | {"finishedAt": None}


@pytest.mark.parametrize("who", ["customer", "staff"])
async def test_people_may_not_feed_records_and_nothing_is_read(feed: Feed, who: str) -> None:
    tok = (token("FAW-VW", "customer") if who == "customer"
           else token("BAOSTEEL", *MILL_ROLES, subject="admin.li"))

    r = await feed.post(ndjson([org("ACME")]), tok)

    assert r.status_code == 403
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "integration" in error["message"]
    assert "ACME" not in await feed.organizations()
    assert await feed.db.fetchval("SELECT count(*) FROM feed_batch") == 0


async def test_no_token_or_a_bad_one_is_unauthenticated(feed: Feed) -> None:
    none = await feed.client.post("/feeds/records", content=ndjson([org("ACME")]),
                                  headers={"content-type": "application/x-ndjson"})
    bad = await feed.post(ndjson([org("ACME")]), ERP[:-4] + "AAAA")

    for r in (none, bad):
        assert r.status_code == 401
        assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert r.headers["www-authenticate"] == "Bearer"


async def test_a_kind_the_token_does_not_name_is_refused_record_by_record(feed: Feed) -> None:
    mes = token_naming(["site", "coil"])

    r = await feed.post(ndjson([org("ACME"), org("NORTHWIND")]), mes)

    assert r.status_code == 422
    result = r.json()
    assert result["status"] == "rejected" and result["rejected"] == 2
    first = result["rejections"][0]
    assert (first["line"], first["kind"], first["key"], first["field"], first["code"]) == (
        1, "organization", "ACME", "kind", "FORBIDDEN")
    assert "may not write organization" in first["reason"]
    assert "ACME" not in await feed.organizations()


async def test_a_line_that_is_not_json_rejects_the_batch_in_mode_all(feed: Feed) -> None:
    body = ndjson([org("ACME"), "{not json", org("NORTHWIND")])

    r = await feed.post(body, ERP)

    assert r.status_code == 422
    result = r.json()
    assert (result["status"], result["applied"], result["rejected"]) == ("rejected", 0, 1)
    assert result["rejections"][0]["line"] == 2
    assert result["rejections"][0]["code"] == "MALFORMED"
    assert not {"ACME", "NORTHWIND"} & set(await feed.organizations())
    assert await feed.events() == 0
    assert await feed.db.fetchval("SELECT count(*) FROM feed_record") == 0


async def test_mode_each_writes_the_good_records_and_lists_the_bad(feed: Feed) -> None:
    bad_kind = org("GLOBEX") | {"data": {"name": "Globex", "kind": "supplier"}}
    body = ndjson([org("ACME"), "{not json", bad_kind, org("NORTHWIND")])

    r = await feed.post(body, ERP, params={"mode": "each"})

    assert r.status_code == 200
    result = r.json()
    assert (result["status"], result["applied"], result["rejected"]) == ("committed", 2, 2)
    assert [(x["line"], x["code"]) for x in result["rejections"]] == [
        (2, "MALFORMED"), (3, "INVALID")]
    assert result["rejections"][1]["field"] == "data.kind"
    orgs = await feed.organizations()
    assert {"ACME", "NORTHWIND"} <= set(orgs) and "GLOBEX" not in orgs
    assert await feed.events() == 2


async def test_sending_the_same_records_again_changes_nothing(feed: Feed) -> None:
    body = ndjson([org("ACME"), org("NORTHWIND")])
    first = await feed.post(body, ERP)
    assert first.json()["applied"] == 2
    events = await feed.events()
    seq = await feed.db.fetchval("SELECT max(seq) FROM domain_event")

    again = await feed.post(body, ERP)

    assert again.status_code == 200
    result = again.json()
    assert (result["applied"], result["unchanged"], result["stale"]) == (0, 2, 0)
    assert await feed.events() == events
    assert await feed.db.fetchval("SELECT max(seq) FROM domain_event") == seq


async def test_an_older_version_is_stale_and_overwrites_nothing(feed: Feed) -> None:
    await feed.post(ndjson([org("ACME", 5, "Acme Steel Trading")]), ERP)

    older = await feed.post(ndjson([org("ACME", 4, "Acme (old name)")]), ERP)
    newer = await feed.post(ndjson([org("ACME", 6, "Acme Group")]), ERP)

    assert older.status_code == 200
    assert (older.json()["stale"], older.json()["applied"]) == (1, 0)
    assert (newer.json()["stale"], newer.json()["applied"]) == (0, 1)
    assert (await feed.organizations())["ACME"] == ("Acme Group", "customer")
    events = await feed.db.fetch("SELECT event_type FROM domain_event ORDER BY seq")
    assert [e["event_type"] for e in events] == ["organization.created",
                                                 "organization.updated"]


async def test_the_same_version_with_other_data_is_a_conflict(feed: Feed) -> None:
    await feed.post(ndjson([org("ACME", 5, "Acme")]), ERP)

    r = await feed.post(ndjson([org("ACME", 5, "Acme, changed without a new version")]), ERP)

    assert r.status_code == 422
    assert r.json()["rejections"][0]["code"] == "CONFLICT"
    assert (await feed.organizations())["ACME"][0] == "Acme"


async def test_a_dry_run_checks_everything_and_writes_nothing(feed: Feed) -> None:
    good = await feed.post(ndjson([org("ACME"), org("NORTHWIND")]), ERP,
                           params={"dryRun": "true"})
    bad = await feed.post(ndjson([org("ACME"), "[]"]), ERP, params={"dryRun": "true"})

    assert good.status_code == 200
    assert (good.json()["status"], good.json()["applied"]) == ("checked", 2)
    # A dry run in mode all answers as the batch would be answered: refused.
    assert bad.status_code == 422
    assert (bad.json()["status"], bad.json()["rejected"]) == ("checked", 1)
    assert "ACME" not in await feed.organizations()
    assert await feed.events() == 0
    assert await feed.db.fetchval("SELECT count(*) FROM feed_record") == 0


@pytest.mark.parametrize(("params", "headers", "status", "says"), [
    ({"mode": "some"}, {}, 400, "mode must be one of all, each"),
    ({"dryRun": "perhaps"}, {}, 400, "dryRun must be true or false"),
    ({"batch": "42"}, {}, 400, "UUID"),
    ({"dry_run": "true"}, {}, 400, "unknown parameter 'dry_run'"),
    ({"batch": str(uuid.UUID(int=1))}, {"idempotency-key": str(uuid.UUID(int=2))}, 400,
     "different batches"),
    ({}, {"content-type": "application/json"}, 415, "application/x-ndjson"),
    ({}, {"content-encoding": "br"}, 415, "gzipped"),
])
async def test_bad_parameters_are_refused_before_anything_is_read(
        feed: Feed, params: dict[str, str], headers: dict[str, str], status: int,
        says: str) -> None:
    r = await feed.post(ndjson([org("ACME")]), ERP, params=params, headers=headers)

    assert r.status_code == status
    assert says in r.json()["errors"][0]["message"]
    assert await feed.db.fetchval("SELECT count(*) FROM feed_batch") == 0


async def test_a_named_batch_sent_again_is_answered_with_its_result(feed: Feed) -> None:
    key = str(uuid.uuid4())
    first = await feed.post(ndjson([org("ACME")]), ERP, headers={"idempotency-key": key})

    again = await feed.post(ndjson([org("GLOBEX")]), ERP, params={"batch": key})
    other = await feed.post(ndjson([org("GLOBEX")]), integration_token(subject="tms"),
                            headers={"idempotency-key": key})

    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == key
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["applied"] == 1 and again.json()["id"] == key
    assert other.status_code == 409
    assert "GLOBEX" not in await feed.organizations()


async def test_a_multi_megabyte_body_passes_the_bound_of_other_bodies(feed: Feed) -> None:
    body = ndjson(org(f"C{n:06d}", 1, f"Customer number {n} " + "x" * 40)
                  for n in range(25_000))
    assert len(body) > 2 * SETTINGS.body_max_bytes

    r = await feed.post(body, ERP)

    assert r.status_code == 200, r.text
    assert (r.json()["linesRead"], r.json()["applied"]) == (25_000, 25_000)
    assert await feed.db.fetchval("SELECT count(*) FROM organization") == 25_002


async def test_a_gzipped_body_is_unpacked_as_it_arrives(feed: Feed) -> None:
    body = gzip.compress(ndjson([org("ACME"), org("NORTHWIND")]))
    broken = gzip.compress(ndjson([org("GLOBEX")]))[:-12]

    r = await feed.post(body, ERP, headers={"content-encoding": "gzip"})
    cut = await feed.post(broken, ERP, headers={"content-encoding": "gzip"})

    assert r.status_code == 200 and r.json()["applied"] == 2
    assert cut.status_code == 400 and "gzip" in cut.json()["errors"][0]["message"]
    assert "GLOBEX" not in await feed.organizations()


async def test_the_body_is_streamed_and_its_progress_read_while_it_runs(feed: Feed) -> None:
    """Records are applied as they arrive: the batch's progress is seen from elsewhere
    while the body is still being sent, and nothing of it before it commits."""
    batch = str(uuid.uuid4())
    more = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield ndjson(org(f"C{n:05d}") for n in range(CHUNK))
        await asyncio.sleep(1.1)  # the batch reports its progress once a second
        yield ndjson([org("LAST-OF-FIRST")])  # ends the first chunk
        await more.wait()
        yield ndjson([org("ACME")])

    sending = asyncio.create_task(feed.post(body(), ERP, params={"batch": batch}))
    seen: dict[str, object] = {}
    for _ in range(100):
        await asyncio.sleep(0.1)
        r = await feed.client.get(f"/feeds/batches/{batch}", headers=bearer(ERP))
        if r.status_code == 200 and r.json()["applied"] > 0:
            seen = r.json()
            break
    visible = await feed.db.fetchval("SELECT count(*) FROM organization")
    more.set()
    done = await sending

    assert seen["status"] == "running" and seen["applied"] == CHUNK
    assert seen["linesRead"] == CHUNK + 1 and seen["finishedAt"] is None
    assert visible == 2  # the batch is one transaction: nothing of it shows yet
    assert done.status_code == 200 and done.json()["applied"] == CHUNK + 2
    again = await feed.client.get(f"/feeds/batches/{batch}", headers=bearer(ERP))
    assert again.json()["status"] == "committed"


async def test_a_named_batch_may_not_be_sent_twice_while_it_runs(feed: Feed) -> None:
    batch = str(uuid.uuid4())
    more = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield ndjson([org("ACME")])
        await more.wait()

    sending = asyncio.create_task(feed.post(body(), ERP, params={"batch": batch}))
    for _ in range(50):
        await asyncio.sleep(0.05)
        if await feed.db.fetchval("SELECT count(*) FROM feed_batch") == 1:
            break
    twice = await feed.post(ndjson([org("ACME")]), ERP, params={"batch": batch})
    more.set()
    await sending

    assert twice.status_code == 409
    assert "still running" in twice.json()["errors"][0]["message"]


async def test_a_body_over_the_feed_bound_is_refused_and_writes_nothing(db: Database) -> None:
    await seed_parties(db)
    body = ndjson(org(f"C{n:05d}") for n in range(400))
    assert len(body) > 20_000
    batch = str(uuid.uuid4())

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    async with feed_api(db, SETTINGS.replace(feed_max_bytes=20_000)) as feed:
        stated = await feed.post(body, ERP)
        streamed = await feed.post(chunked(), ERP, params={"batch": batch})
        bomb = await feed.post(gzip.compress(body * 5), ERP,
                               headers={"content-encoding": "gzip"})
        # What failed wrote nothing: its sender may send it again under its name.
        retried = await feed.post(body[:15_000].rsplit(b"\n", 1)[0] + b"\n", ERP,
                                  params={"batch": batch})

    for r in (stated, streamed, bomb):
        assert r.status_code == 413, r.text
        assert r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "20,000 bytes" in streamed.json()["errors"][0]["message"]
    assert retried.status_code == 200 and retried.json()["id"] == batch
    assert retried.json()["applied"] == await db.fetchval(
        "SELECT count(*) FROM organization WHERE code LIKE 'C%'") > 100
    statuses = await db.fetch("SELECT status FROM feed_batch ORDER BY started_at")
    assert sorted(s["status"] for s in statuses) == ["committed", "failed"]


async def test_a_batch_is_read_by_its_sender_and_the_mills_admins_only(feed: Feed) -> None:
    r = await feed.post(ndjson([org("ACME")]), ERP)
    path = r.headers["location"]

    admin = await feed.client.get(path, headers=bearer(token("BAOSTEEL", "admin")))
    sales = await feed.client.get(path, headers=bearer(token("BAOSTEEL", "sales")))
    customer = await feed.client.get(path, headers=bearer(token("FAW-VW", "customer")))
    other = await feed.client.get(path, headers=bearer(integration_token(subject="tms")))
    unknown = await feed.client.get(f"/feeds/batches/{uuid.uuid4()}", headers=bearer(ERP))
    malformed = await feed.client.get("/feeds/batches/42", headers=bearer(ERP))
    anonymous = await feed.client.get(path)

    assert admin.status_code == 200 and admin.json()["applied"] == 1
    for refused in (sales, customer, other, unknown, malformed):
        assert refused.status_code == 404
        assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert anonymous.status_code == 401
