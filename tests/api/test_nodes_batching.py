"""`nodes(ids:)` fetches each kind of node with one statement, however many ids it names:
every node type goes through the per-request loaders of one registry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from domain.calendar import mill_today
from domain.db import Database, count_statements
from domain.tenancy import Scope
from resolvers.loaders import Loaders, RowsLoader
from resolvers.quality.loaders import CoilByIdLoader, CoilByNumberLoader
from resolvers.relay import to_global_id
from tests.support.api import MILL_ROLES, Api, token
from tests.support.factory import World, build

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
MILL = token("BAOSTEEL", *MILL_ROLES, subject="staff.mill")
# Each node type and the table its rows come from.
KINDS = {
    "PurchasePlan": "purchase_plan",
    "ProductionPlan": "production_plan",
    "PlanImport": "plan_import",
    "UrgeTicket": "urge_ticket",
    "RejectedMessage": "rejected_message",
    "Bulletin": "bulletin",
    "Notification": "notification",
}
PER_KIND = 6


async def _rows(db: Database, w: World) -> dict[str, list[int]]:
    """``PER_KIND`` rows of every kind, all visible to the mill's staff."""
    faw, mill = w.org["FAW-VW"], w.org["BAOSTEEL"]
    today = mill_today()
    made: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for k in range(PER_KIND):
        car_plan = await db.fetchval(
            "INSERT INTO production_plan (customer_org_id, version, horizon_start, horizon_end,"
            " source, created_by) VALUES ($1, $2, $3, $4, 'api', 'planner') RETURNING id",
            faw, k + 1, today, today + timedelta(days=60))
        made["ProductionPlan"].append(car_plan)
        made["PurchasePlan"].append(await db.fetchval(
            "INSERT INTO purchase_plan (customer_org_id, production_plan_id, as_of, status)"
            " VALUES ($1, $2, $3, 'approved') RETURNING id", faw, car_plan, today))
        made["PlanImport"].append(await db.fetchval(
            "INSERT INTO plan_import (customer_org_id, kind, filename, created_by)"
            " VALUES ($1, 'plan', $2, 'planner') RETURNING id", faw, f"plan-{k}.csv"))
        made["UrgeTicket"].append(await db.fetchval(
            "INSERT INTO urge_ticket (line_id, contract_id, customer_org_id, reason, needed_by,"
            " opened_by, opened_at, answer_within, status, resolution, resolved_at) VALUES"
            " ($1, $2, $3, $4, $5, 'buyer', now(), interval '1 hour', 'resolved', 'shipped',"
            " now()) RETURNING id",
            w.line["FAW-VW"], w.contract["FAW-VW"], faw, f"urgent {k}",
            today + timedelta(days=20)))
        made["RejectedMessage"].append(await db.fetchval(
            "INSERT INTO rejected_message (topic, payload, payload_bytes, reason, digest)"
            " VALUES ('keylink/TRK-1/fix', 'x', 1, 'malformed', $1) RETURNING id",
            bytes([k]) * 32))
        made["Bulletin"].append(await db.fetchval(
            "INSERT INTO bulletin (title, body, grades, published_by) VALUES ($1, 'body',"
            " '{DC04}', 'staff') RETURNING id", f"Bulletin {k}"))
        made["Notification"].append(await db.fetchval(
            "INSERT INTO notification (org_id, event_type, title, body)"
            " VALUES ($1, 'bulletin.published', $2, 'body') RETURNING id", mill, f"Note {k}"))
    return made


def _by_table(seen: list[str]) -> dict[str, int]:
    return {table: sum(1 for sql in seen if re.search(rf"\bFROM {table}\b", sql))
            for table in KINDS.values()}


async def test_nodes_costs_one_statement_per_kind_whatever_the_number_of_ids(
    api: Api, db: Database
) -> None:
    made = await _rows(db, await build(db))
    await api.data("{ viewer { subject } }", as_=MILL)  # warm the organization cache
    counts = []
    for n in (1, 2, PER_KIND):
        ids = [str(to_global_id(kind, pk)) for kind, pks in made.items() for pk in pks[:n]]
        with count_statements() as seen:
            found = (await api.data(NODES, {"ids": ids}, as_=MILL))["nodes"]
        assert [node["id"] for node in found] == ids
        assert [node["__typename"] for node in found] == [
            kind for kind, pks in made.items() for _ in pks[:n]]
        assert _by_table(seen) == dict.fromkeys(KINDS.values(), 1), seen
        counts.append(len(seen))
    assert counts == [len(KINDS)] * 3, counts


async def test_a_node_the_viewer_may_not_see_stays_null_in_the_batch(
    api: Api, db: Database
) -> None:
    made = await _rows(db, await build(db))
    ids = [str(to_global_id(kind, pks[0])) for kind, pks in made.items()]
    # GALANZ sees bulletins, nothing else of these: still one statement per kind asked.
    with count_statements() as seen:
        found = (await api.data(NODES, {"ids": ids}, as_=token("GALANZ")))["nodes"]
    assert [node and node["__typename"] for node in found] == [
        None, None, None, None, None, "Bulletin", None]
    # Rejected messages are not asked for a customer; the inbox of its own organization is.
    assert _by_table(seen) == {**dict.fromkeys(KINDS.values(), 1), "rejected_message": 0}


async def test_a_request_makes_each_loader_once_by_its_class(db: Database) -> None:
    """``get`` makes a loader the first time a request asks for its class and hands the
    same one back after; another request (another viewer) gets its own."""
    mill, customer = Loaders(db, Scope.everything()), Loaders(db, Scope.customer(1))
    coils = mill.get(CoilByIdLoader)
    assert isinstance(coils, CoilByIdLoader)
    assert mill.get(CoilByIdLoader) is coils
    assert mill.get(CoilByNumberLoader) is not coils
    assert customer.get(CoilByIdLoader) is not coils
    assert coils.scope == Scope.everything()
    assert customer.get(CoilByIdLoader).scope == Scope.customer(1)


def test_a_loader_is_named_thing_by_key() -> None:
    """Named after what it loads and by what, or refused when the class is written."""
    class PurchasePlanByRefLoader(RowsLoader[str]):
        key = "ref"

        async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
            return []

    assert PurchasePlanByRefLoader.key == "ref"
    for wrong in ("PlanLoader", "PurchasePlanById", "byIdLoader", "PurchasePlanLoader"):
        with pytest.raises(TypeError, match="<Thing>By<Key>Loader"):
            type(wrong, (RowsLoader,), {})
