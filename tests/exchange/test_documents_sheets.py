"""Partners without EDI: FAW-VW's call-off as CSV in its own columns, plant codes, status
words, kilograms and German dates becomes its delivery schedule; an XLSX with bad rows is
refused naming each row and column and changes nothing; a dispatch advice reaches its
SFTP server as a CSV in its columns."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from domain.db import Database
from domain.exchange import outbound
from push.exchange import send_due
from resolvers.relay import to_global_id
from tests.exchange.test_documents_in import world as world
from tests.exchange.test_documents_out import depart
from tests.exchange_transports import peers
from tests.support.api import SETTINGS, Api, _client, token
from tests.support.factory import World
from tests.tracking.support import build_track

PUT = """mutation($input: PutExchangeAddressInput!) { putExchangeAddress(input: $input) {
    errors { field message } } }"""
MAPPING: dict[str, Any] = {
    "document": "delivery_schedule", "delimiter": ";",
    "fields": [
        {"field": "schedule_number", "column": "Abrufnummer", "required": False},
        {"field": "ship_to", "column": "Werk", "codes": "plants", "strict": True},
        {"field": "part_number", "column": "Teilenummer"},
        {"field": "quantity", "type": "quantity", "column": "Menge", "unit": "kg"},
        {"field": "delivery_from", "type": "date", "column": "Liefertermin",
         "formats": ["%d.%m.%Y"]},
        {"field": "firmness", "column": "Status", "codes": "status", "strict": True},
    ],
    "codes": {"plants": {"CC1": "FAW-VW-CC-WH1"},
              "status": {"F": "firm", "P": "commitment_production", "V": "forecast"}},
}
CALL_OFF = (
    b"Abrufnummer;Werk;Teilenummer;Menge;Liefertermin;Status\r\n"
    b"AB-2026-0042;CC1;5G0-809-605;120000;01.12.2026;F\r\n"
    b"AB-2026-0042;CC1;5G0-809-605;96500;08.12.2026;F\r\n"
    b"AB-2026-0042;CC1;5G0-809-606;480000;04.01.2027;V\r\n"
)
SCHEDULE = """{ deliverySchedule { documentNumber lines { customerPartNumber periodStart
    quantityT firmness } } }"""



async def one(db: Database, sql: str, *args: Any) -> Any:
    row = await db.fetchrow(sql, *args)
    assert row is not None
    return row



async def register(api: Api, w: World, fmt: str, mapping: dict[str, Any]) -> list[Any]:
    done = await api.data(PUT, {"input": {
        "organizationId": to_global_id("Organization", w.org["FAW-VW"]),
        "documentType": "DELIVERY_SCHEDULE", "code": "FAW-VW.ABRUF", "transport": "HTTPS",
        "format": fmt, "url": "https://127.0.0.1:9443/abruf",
        "options": {"mapping": mapping}}}, as_=token("FAW-VW"))
    errors: list[Any] = done["putExchangeAddress"]["errors"]
    return errors


async def send(api: Api, body: bytes, name: str) -> tuple[int, dict[str, Any]]:
    r = await api.client.post("/exchange/inbox/FAW-VW.ABRUF", content=body, headers={
        "authorization": f"Bearer {token('FAW-VW')}", "keylink-document-name": name})
    return r.status_code, r.json()


async def test_a_csv_call_off_through_the_partners_mapping_becomes_its_schedule(
    local: Api, db: Database, world: World
) -> None:
    assert await register(local, world, "CSV", MAPPING) == []
    # The address's mapping is FAW-VW's mapping of its delivery schedules.
    stored = await db.fetchval("SELECT definition FROM exchange_mapping WHERE"
                               " partner_org_id = $1 AND document = 'delivery_schedule'",
                               world.org["FAW-VW"])
    assert stored["codes"]["plants"] == {"CC1": "FAW-VW-CC-WH1"}

    status, answer = await send(local, CALL_OFF, "abruf-0042.csv")

    assert status == 200 and answer["accepted"] is True, answer
    assert answer["acknowledgement"] is None
    [schedule] = answer["receipt"]["schedules"]
    assert (schedule["lines"], Decimal(schedule["firmT"]), Decimal(schedule["totalT"])) == (
        3, Decimal("216.5"), Decimal("696.5"))
    read = (await local.data(SCHEDULE, as_=token("FAW-VW")))["deliverySchedule"]
    assert read["documentNumber"] == "AB-2026-0042"
    assert [(ln["customerPartNumber"], ln["periodStart"], Decimal(ln["quantityT"]),
             ln["firmness"]) for ln in read["lines"]] == [
        ("5G0-809-605", "2026-12-01", Decimal("120"), "FIRM"),
        ("5G0-809-605", "2026-12-08", Decimal("96.5"), "FIRM"),
        ("5G0-809-606", "2027-01-04", Decimal("480"), "FORECAST")]
    document = await one(db, "SELECT document_type, format, content_type, status, body"
                                 " FROM exchange_document")
    assert (document["document_type"], document["format"], document["content_type"],
            document["status"]) == ("delivery_schedule", "csv", "text/csv", "accepted")
    assert bytes(document["body"]) == CALL_OFF

    # Without its mapping, a file cannot be read: refused, saying so.
    await db.execute("DELETE FROM exchange_mapping WHERE partner_org_id = $1",
                     world.org["FAW-VW"])
    status, answer = await send(local, CALL_OFF.replace(b"96500", b"96000"),
                                "abruf-0043.csv")
    assert status == 422
    assert answer["problems"] == ["no mapping of delivery_schedule is registered for this "
                                  "partner: register the address again with its mapping "
                                  "in options.mapping"]
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 1


async def test_an_xlsx_with_two_bad_rows_is_refused_naming_each_row_and_column(
    local: Api, db: Database, world: World
) -> None:
    assert await register(local, world, "XLSX", {**MAPPING, "sheet": "Abruf"}) == []
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Abruf"
    for line in (
        ["Abrufnummer", "Werk", "Teilenummer", "Menge", "Liefertermin", "Status"],
        ["AB-2026-0044", "CC1", "5G0-809-605", 120000, "01.12.2026", "F"],
        ["AB-2026-0044", "CC1", "5G0-809-605", "zwölf", "08.12.2026", "F"],
        ["AB-2026-0044", "CC1", "5G0-809-606", 60500, date(2026, 12, 3), "P"],
        ["AB-2026-0044", "CC1", "5G0-809-606", 480000, "2027-01-04", "V"],
    ):
        sheet.append(line)
    buf = io.BytesIO()
    book.save(buf)

    status, answer = await send(local, buf.getvalue(), "abruf-0044.xlsx")

    assert status == 422 and answer["accepted"] is False, answer
    assert answer["problems"] == [
        "row 3, column Menge: not a number (found 'zwölf')",
        "row 5, column Liefertermin: not a date like %d.%m.%Y (found '2027-01-04')"]
    assert await db.fetchval("SELECT count(*) FROM delivery_schedule") == 0
    stored = await one(db, "SELECT format, status, receipt FROM exchange_document")
    assert (stored["format"], stored["status"], stored["receipt"]["count"]) == (
        "xlsx", "refused", 2)
    assert await db.fetchval("SELECT count(*) FROM domain_event WHERE event_type ="
                             " 'production_plan.delivery_schedule_received'") == 0


async def test_a_mapping_that_does_not_give_a_schedule_is_refused_at_registration(
    local: Api, world: World
) -> None:
    lacking = {**MAPPING, "fields": [f for f in MAPPING["fields"]
                                     if f["field"] != "firmness"]}
    [error] = await register(local, world, "CSV", lacking)
    assert error["field"] == "options" and "fields.firmness" in error["message"]
    other = {**MAPPING, "document": "production_plan"}
    [error] = await register(local, world, "CSV", other)
    assert "document: delivery_schedule" in error["message"]


async def test_a_dispatch_advice_reaches_the_partner_as_a_csv_in_its_columns(
    db: Database, tmp_path: Path
) -> None:
    track = await build_track(db)
    faw = track.world.org["FAW-VW"]
    (tmp_path / "sftp" / "desadv").mkdir(parents=True)
    columns = {"document": "dispatch_advice", "delimiter": ";", "fields": [
        {"field": "shipment", "column": "Lieferung"},
        {"field": "coil", "column": "Coil"},
        {"field": "sscc", "column": "SSCC"},
        {"field": "weight_kg", "type": "decimal", "column": "Gewicht kg", "places": 1},
        {"field": "departed_at", "type": "date", "column": "Versand",
         "formats": ["%d.%m.%Y"]}]}
    async for api in _client(db, SETTINGS.replace(webhook_allow="127.0.0.0/8")):
        async with peers.sftp_peer(tmp_path / "sftp") as sftp:
            done = await api.data(PUT, {"input": {
                "organizationId": to_global_id("Organization", faw),
                "documentType": "DISPATCH_ADVICE", "code": "FAW-VW.LIEFERUNG",
                "transport": "SFTP", "format": "CSV", "url": sftp.url("/desadv"),
                "credentials": sftp.credentials(), "options": {"mapping": columns}}},
                as_=token("BAOSTEEL", "admin"))
            assert done["putExchangeAddress"]["errors"] == []
            await depart(db, track)
            assert await outbound.generate(db) == 1
            assert await send_due(db, config=peers.config()) == 1
    [sent] = list((tmp_path / "sftp" / "desadv").iterdir())
    assert sent.suffix == ".csv"
    rows = list(csv.reader(io.StringIO(sent.read_text("utf-8")), delimiter=";"))
    assert rows[0] == ["Lieferung", "Coil", "SSCC", "Gewicht kg", "Versand"]
    coils = await db.fetch(
        "SELECT c.coil_no, c.weight_kg, s.number, l.actual_departure FROM coil c"
        " JOIN leg_coil lc ON lc.coil_id = c.id JOIN shipment_leg l ON l.id = lc.leg_id"
        " JOIN shipment s ON s.id = l.shipment_id WHERE l.id = $1 AND"
        " c.customer_org_id = $2 ORDER BY c.coil_no", track.leg, faw)
    assert len(rows) - 1 == len(coils) == 2
    for row, c in zip(rows[1:], coils, strict=True):
        assert row[0] == c["number"] and row[1] == c["coil_no"]
        assert len(row[2]) == 18 and row[2].isdigit()
        assert Decimal(row[3]) == c["weight_kg"]
        assert row[4] == c["actual_departure"].strftime("%d.%m.%Y")
    document = await one(db, "SELECT format, content_type, status FROM exchange_document")
    assert dict(document) == {"format": "csv", "content_type": "text/csv", "status": "sent"}
