"""The address book over GraphQL: staff keep every partner's entries, a customer its own;
credentials are written and never shown; destinations pass the egress policy."""

from __future__ import annotations

from typing import Any

import pytest

from domain.db import Database
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

PUT = """mutation($input: PutExchangeAddressInput!) { putExchangeAddress(input: $input) {
    address { id code documentType transport format url enabled hasCredentials options
              organization { code } }
    generatedSecret errors { field code message } } }"""
LIST = "{ exchangeAddresses { code documentType hasCredentials organization { code } } }"
REMOVE = """mutation($id: ID!) { removeExchangeAddress(input: {addressId: $id}) {
    address { code } errors { code } } }"""
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.fixture
async def world(db: Database) -> World:
    return await build(db)



def entry(world: World, org: str, **changes: Any) -> dict[str, Any]:
    return {"organizationId": to_global_id("Organization", world.org[org]),
            "documentType": "DISPATCH_ADVICE", "code": f"{org}.DESADV",
            "transport": "HTTPS", "format": "EDIFACT", "url": "https://127.0.0.1:9443/edi",
            "options": {"sender": "BAOSTEEL", "recipient": org}, **changes}


async def put(api: Api, bearer: str, data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await api.data(PUT, {"input": data}, as_=bearer))[
        "putExchangeAddress"]
    return result


async def test_staff_register_a_partners_address_and_its_secret_is_shown_once(
    local: Api, world: World
) -> None:
    made = await put(local, token("BAOSTEEL", "logistics"), entry(world, "FAW-VW"))
    assert made["errors"] == [] and made["generatedSecret"].startswith("whsec_")
    assert made["address"]["hasCredentials"] is True  # the secret made for it
    again = await put(local, token("BAOSTEEL", "logistics"),
                      entry(world, "FAW-VW", credentials={"secret": "whsec_given"}))
    assert again["generatedSecret"] is None and again["address"]["hasCredentials"] is True
    assert again["address"]["id"] == made["address"]["id"]  # one entry per document type
    stored = await local.db.fetchval("SELECT credentials FROM exchange_address")
    assert stored == {"secret": "whsec_given"}
    listed = await local.data(LIST, as_=token("FAW-VW"))
    assert listed["exchangeAddresses"] == [{"code": "FAW-VW.DESADV",
                                            "documentType": "DISPATCH_ADVICE",
                                            "hasCredentials": True,
                                            "organization": {"code": "FAW-VW"}}]
    assert (await local.data(LIST, as_=token("GALANZ")))["exchangeAddresses"] == []
    assert await local.db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                                   " 'exchange.address_registered'") == 2


async def test_a_customer_keeps_its_own_entries_only(local: Api, world: World) -> None:
    own = await put(local, token("GALANZ"), entry(world, "GALANZ", transport="SFTP",
                                                  documentType="INVOICE",
                                                  url="sftp://127.0.0.1:2222/inbox",
                                                  credentials={"username": "keylink",
                                                               "password": "pw",
                                                               "host_key": HOST_KEY}))
    assert own["errors"] == [] and own["address"]["organization"] == {"code": "GALANZ"}
    other = await put(local, token("GALANZ"), entry(world, "FAW-VW"))
    assert [(e["field"], e["code"]) for e in other["errors"]] == [
        ("organizationId", "NOT_FOUND")]
    erp = await put(local, token("GALANZ"), entry(world, "GALANZ", documentType="CONTRACT",
                                                  format="JSON"))
    assert [e["field"] for e in erp["errors"]] == ["documentType"]
    removed = await local.data(REMOVE, {"id": own["address"]["id"]}, as_=token("FAW-VW"))
    assert removed["removeExchangeAddress"]["errors"] == [{"code": "NOT_FOUND"}]
    assert await local.db.fetchval("SELECT count(*) FROM exchange_address") == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"transport": "SFTP", "url": "sftp://127.0.0.1/in",
      "credentials": {"username": "u", "password": "p"}}, "credentials"),  # no host key
    ({"transport": "SFTP", "url": "sftp://u@127.0.0.1/in"}, "url"),
    ({"url": "https://10.1.2.3/edi"}, "url"),  # a private address
    ({"format": "CSV"}, "options"),  # no mapping
    ({"documentType": "CERTIFICATE"}, "format"),  # certificates are JSON
    ({"code": "lower case"}, "code"),
    ({"credentials": {"secret": "s", "token": "t"}}, "credentials"),
])
async def test_entries_that_cannot_work_are_refused(
    local: Api, world: World, changes: dict[str, Any], field: str
) -> None:
    refused = await put(local, token("BAOSTEEL", "admin"), entry(world, "FAW-VW", **changes))
    assert refused["address"] is None and [e["field"] for e in refused["errors"]] == [field]
    assert await local.db.fetchval("SELECT count(*) FROM exchange_address") == 0


async def test_a_mill_role_outside_the_table_cannot_register(local: Api, world: World) -> None:
    refused = await put(local, token("BAOSTEEL", "quality"), entry(world, "FAW-VW"))
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
