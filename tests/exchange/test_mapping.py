"""Exchange mappings: a partner's CSV and XLSX read through a mapping defined as data
(its columns, units, date formats and code tables), every problem named by row and
column, the preview of a sample file, outbound files that read back as the rows they were
written from, the plan files' limits, and plan formats as the mappings they now are."""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from domain.actor import Actor
from domain.db import Database
from domain.errors import Invalid
from domain.exchange import mapping as exchange
from domain.exchange.mapping import BadMapping, Mapping, Refused, mapping_of, store_mapping
from domain.migrate import migrate
from domain.planning import imports
from domain.planning.tables import MAX_FILE_BYTES, FileTooLarge, Limits, read_table
from resolvers.relay import to_global_id
from settings import PROJECT_ROOT
from tests.planning.test_plan_file_limits import bomb
from tests.support.api import Api, token
from tests.support.factory import TODAY, build

MB = 1024 * 1024
FAW = token("FAW-VW", subject="planner.faw")
GALANZ = token("GALANZ", subject="planner.galanz")
SALES = token("BAOSTEEL", "sales", subject="sales.mill")
DAY = TODAY + timedelta(days=14)

# A German partner's delivery schedule: semicolon-separated, Windows-1252, comma decimals,
# quantities in kilograms with a unit column, two date formats, its own part numbers,
# plant codes and words for firmness.
SCHEDULE: dict[str, Any] = {
    "document": "delivery_schedule",
    "delimiter": ";",
    "encoding": "cp1252",
    "decimal_comma": True,
    "fields": [
        {"field": "spec", "column": "Sachnummer", "codes": "specs", "strict": True},
        {"field": "site", "column": "Werk", "codes": "sites", "strict": True},
        {"field": "firmness", "column": "Status", "codes": "firmness",
         "choices": ["firm", "commitment_production", "commitment_material", "forecast"]},
        {"field": "need_date", "column": "Bedarfsdatum", "type": "date",
         "formats": ["%d.%m.%Y", "%Y%m%d"]},
        {"field": "quantity", "column": "Menge", "type": "quantity", "unit": "kg",
         "unit_column": "Einheit", "min": 0},
        {"field": "coils", "column": "Bunde", "type": "integer", "required": False,
         "default": 1, "min": 1, "max": 99},
        {"field": "note", "column": "Bemerkung", "required": False},
    ],
    "codes": {
        "specs": {"5Q0-809-605": "SP-FAW-VW", "5Q0-821-105": "SP-DC04-08"},
        "sites": {"W01": "FAW-CC", "W02": "FAW-CD"},
        "firmness": {"fest": "firm", "Produktion": "commitment_production",
                     "Material": "commitment_material", "Prognose": "forecast"},
        "units": {"kg": "kg", "Tonne": "t", "Pfund": "lb"},
    },
}
HEADING = "Sachnummer;Werk;Status;Bedarfsdatum;Menge;Einheit;Bunde;Bemerkung"


def schedule(**changes: Any) -> Mapping:
    return Mapping.from_json({**SCHEDULE, **changes})


def csv_file(*lines: str, heading: str = HEADING) -> bytes:
    return ("\r\n".join([heading, *lines]) + "\r\n").encode("cp1252")


def test_a_csv_reads_with_the_partners_columns_units_dates_and_codes() -> None:
    content = csv_file(
        f"5Q0-809-605;W01;fest;{DAY:%d.%m.%Y};12.345,5;kg;3;Anlieferung Tor 4 – früh",
        f"5Q0-821-105;W02;Prognose;{DAY + timedelta(weeks=1):%Y%m%d};2,5;Tonne;;",
        f"5Q0-821-105;W02;Material;{DAY:%d.%m.%Y};1.000;Pfund;;")
    rows = exchange.read(schedule(), "lieferplan.csv", content)
    assert [(r.row, r.values) for r in rows] == [
        (2, {"spec": "SP-FAW-VW", "site": "FAW-CC", "firmness": "firm", "need_date": DAY,
             "quantity": Decimal("12.3455"), "coils": 3,
             "note": "Anlieferung Tor 4 – früh"}),
        (3, {"spec": "SP-DC04-08", "site": "FAW-CD", "firmness": "forecast",
             "need_date": DAY + timedelta(weeks=1), "quantity": Decimal("2.5"), "coils": 1,
             "note": None}),
        (4, {"spec": "SP-DC04-08", "site": "FAW-CD", "firmness": "commitment_material",
             "need_date": DAY, "quantity": Decimal("0.45359237"), "coils": 1,
             "note": None}),
    ]
    # The cells as the file has them stay with each row.
    assert rows[0].raw["quantity"] == "12.345,5" and rows[0].raw["spec"] == "5Q0-809-605"


def _xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for name, lines in sheets.items():
        sheet = book.create_sheet(name)
        for line in lines:
            sheet.append(line)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_an_xlsx_reads_from_its_sheet_and_heading_row_with_columns_by_letter() -> None:
    mapping = Mapping.from_json({
        "document": "delivery_schedule", "sheet": "需求", "heading_row": 3,
        "fields": [
            {"field": "spec", "column": {"letter": "A"}, "codes": "specs"},
            {"field": "need_date", "column": "需求日期", "type": "date",
             "formats": ["%Y/%m/%d"]},
            {"field": "quantity", "column": {"index": 4}, "type": "quantity",
             "unit": "sh tn"},
            {"field": "site", "column": "仓库", "default": "FAW-CC", "required": False},
        ],
        "codes": {"specs": {"5Q0-809-605": "SP-FAW-VW"}},
    })
    content = _xlsx({
        "说明": [["this sheet is not read"]],
        "需求": [["一汽大众 钢材需求"], [None],
                 ["零件号", "需求日期", "备注", "短吨"],
                 ["5Q0-809-605", datetime.combine(DAY, datetime.min.time()), "x", 2],
                 ["PN-OTHER", f"{DAY:%Y/%m/%d}", None, 0.5],
                 ["5Q0-809-605", DAY, None, None]],
    })
    mapped = exchange.map_table(mapping, exchange.read_file(mapping, "需求.xlsx", content))
    assert (mapped.heading_row, mapped.heading) == (3, ["零件号", "需求日期", "备注", "短吨"])
    assert [(r.row, r.values) for r in mapped.rows] == [
        (4, {"spec": "SP-FAW-VW", "need_date": DAY, "quantity": Decimal("1.81436948"),
             "site": "FAW-CC"}),
        # A code the (not strict) table lacks is taken as it is.
        (5, {"spec": "PN-OTHER", "need_date": DAY, "quantity": Decimal("0.45359237"),
             "site": "FAW-CC"}),
        (6, {"spec": "SP-FAW-VW", "need_date": DAY, "quantity": None, "site": "FAW-CC"}),
    ]
    # Column D by index, named by its letter.
    assert [(p.row, p.column, p.field, p.code) for p in mapped.problems] == [
        (6, "D", "quantity", "empty")]


def test_every_problem_is_named_by_row_and_column_with_the_value_found() -> None:
    content = csv_file(
        f"5Q0-809-605;W01;fest;{DAY:%d.%m.%Y};12.345,5;kg;2;",
        "X-999;W01;fest;2026-13-01;abc;kg;;",
        "5Q0-821-105;W77;vielleicht;;-5;kg;100;",
        f"5Q0-821-105;W01;Prognose;{DAY:%Y%m%d};3;Zentner;1,5;")
    with pytest.raises(Refused) as refused:
        exchange.read(schedule(), "lieferplan.csv", content)
    found = [(p.row, p.column, p.value, p.field, p.code) for p in refused.value.problems]
    assert found == [
        (3, "Sachnummer", "X-999", "spec", "unknown_code"),
        (3, "Bedarfsdatum", "2026-13-01", "need_date", "invalid"),
        (3, "Menge", "abc", "quantity", "invalid"),
        (4, "Werk", "W77", "site", "unknown_code"),
        (4, "Status", "vielleicht", "firmness", "not_allowed"),
        (4, "Bedarfsdatum", "", "need_date", "empty"),
        (4, "Menge", "-5", "quantity", "out_of_range"),
        (4, "Bunde", "100", "coils", "out_of_range"),
        (5, "Einheit", "Zentner", "quantity", "invalid"),
        (5, "Bunde", "1,5", "coils", "invalid"),
    ]
    reasons = {(p.row, p.column): p.reason for p in refused.value.problems}
    assert reasons[(3, "Bedarfsdatum")] == "not a date like %d.%m.%Y or %Y%m%d"
    assert reasons[(3, "Sachnummer")] == "'X-999' is not in the specs table"
    assert reasons[(4, "Bunde")] == "not from 1 to 99"
    assert reasons[(5, "Einheit")] == "'Zentner' is not a unit: t, kg, lb, sh tn"
    assert refused.value.code == "INVALID" and refused.value.field == "file"
    assert "10 problem(s), the first at row 3, column Sachnummer" in refused.value.message


def test_missing_columns_are_named_on_the_heading_row_and_no_row_is_read() -> None:
    content = csv_file(f"5Q0-809-605;fest;{DAY:%d.%m.%Y};1", heading="Sachnummer;Status;"
                       "Bedarfsdatum;Gewicht")
    mapped = exchange.map_table(schedule(), exchange.read_file(schedule(), "x.csv", content))
    assert mapped.rows == []
    assert [(p.row, p.column, p.code, p.reason) for p in mapped.problems] == [
        (1, "Werk", "missing_column", "the column 'Werk' is missing"),
        (1, "Menge", "missing_column", "the column 'Menge' is missing"),
    ]


def test_a_preview_shows_the_first_rows_and_every_problem_of_the_sample() -> None:
    lines = [f"5Q0-809-605;W01;fest;{DAY + timedelta(days=i):%d.%m.%Y};{1000 + i};kg;;"
             for i in range(30)]
    lines[25] = lines[25].replace("W01", "W99")
    shown = exchange.preview(schedule(), "sample.csv", csv_file(*lines), rows=5)
    assert shown.rows_total == 30
    assert [r.row for r in shown.rows] == [2, 3, 4, 5, 6]
    assert shown.rows[4].values["quantity"] == Decimal("1.004")
    # The bad row is past the rows shown; its problem is there all the same.
    assert [(p.row, p.column, p.value) for p in shown.problems] == [(27, "Werk", "W99")]
    with pytest.raises(Invalid):
        exchange.preview(schedule(), "sample.csv", csv_file(*lines), rows=0)


OUT_ROWS = [
    {"spec": "SP-FAW-VW", "site": "FAW-CC", "firmness": "firm", "need_date": DAY,
     "quantity": Decimal("12.345"), "coils": 2, "note": "Tor 4; früh"},
    {"spec": "SP-DC04-08", "site": "FAW-CD", "firmness": "forecast",
     "need_date": DAY + timedelta(days=3), "quantity": Decimal("0.5"), "coils": 1,
     "note": None},
]


def test_an_outbound_csv_has_the_partners_columns_formats_units_and_codes() -> None:
    content = exchange.write_file(schedule(), OUT_ROWS, "csv")
    text = content.decode("cp1252").splitlines()
    assert text == [
        HEADING,
        f"5Q0-809-605;W01;fest;{DAY:%d.%m.%Y};12345,000;kg;2;\"Tor 4; früh\"",
        f"5Q0-821-105;W02;Prognose;{DAY + timedelta(days=3):%d.%m.%Y};500,000;kg;1;",
    ]
    back = exchange.read(schedule(), "out.csv", content)
    assert [r.values for r in back] == OUT_ROWS


def test_an_outbound_xlsx_reads_back_as_the_rows_it_was_written_from() -> None:
    mapping = schedule(sheet="Lieferplan", heading_row=2)
    content = exchange.write_file(mapping, OUT_ROWS, "xlsx")
    back = exchange.read(mapping, "out.xlsx", content)
    assert [r.row for r in back] == [3, 4]
    assert [r.values for r in back] == OUT_ROWS


def test_rows_that_cannot_be_written_are_refused_with_every_problem() -> None:
    rows = [{**OUT_ROWS[0], "spec": "SP-UNKNOWN"},
            {**OUT_ROWS[1], "need_date": None, "firmness": "maybe", "quantity": "-1"}]
    with pytest.raises(Refused) as refused:
        exchange.write_file(schedule(), rows, "csv")
    assert [(p.row, p.column, p.value, p.code) for p in refused.value.problems] == [
        (2, "Sachnummer", "SP-UNKNOWN", "unknown_code"),
        (3, "Status", "maybe", "not_allowed"),
        (3, "Bedarfsdatum", None, "empty"),
        (3, "Menge", "-1", "out_of_range"),
    ]


SPECS = sorted(SCHEDULE["codes"]["specs"].values())
SITES = sorted(SCHEDULE["codes"]["sites"].values())
FIRMNESS = sorted(SCHEDULE["codes"]["firmness"].values())


@st.composite
def outbound(draw: st.DrawFn) -> list[dict[str, Any]]:
    def row() -> dict[str, Any]:
        note = draw(st.text(st.sampled_from("abcxyzäöü ;,\"'=+0123"), max_size=12)).strip()
        return {
            "spec": draw(st.sampled_from(SPECS)), "site": draw(st.sampled_from(SITES)),
            "firmness": draw(st.sampled_from(FIRMNESS)),
            "need_date": TODAY + timedelta(days=draw(st.integers(0, 400))),
            "quantity": Decimal(draw(st.integers(0, 10**9))).scaleb(-6),
            "coils": draw(st.integers(1, 99)),
            "note": note or None,
        }
    return [row() for _ in range(draw(st.integers(1, 20)))]


@settings(max_examples=40, deadline=None)
@given(outbound(), st.sampled_from(["csv", "xlsx"]), st.booleans())
def test_what_is_written_reads_back(rows: list[dict[str, Any]], kind: str,
                                    comma: bool) -> None:
    mapping = schedule(decimal_comma=comma)
    back = exchange.read(mapping, f"out.{kind}", exchange.write_file(mapping, rows, kind))
    assert [r.values for r in back] == rows


def test_a_file_over_the_limits_is_refused_as_a_plan_file_is() -> None:
    cases = [
        ("big.csv", b"Sachnummer;" + b"x" * MAX_FILE_BYTES, Limits()),
        ("long.csv", csv_file(*[f"5Q0-809-605;W01;fest;{DAY:%d.%m.%Y};1;kg;;"] * 150),
         Limits(rows=100)),
        ("bomb.xlsx", bomb(8 * MB), Limits(unpacked_bytes=5 * MB)),
    ]
    for name, content, limits in cases:
        with pytest.raises(FileTooLarge) as as_plan:
            read_table(name, content, limits=limits)
        with pytest.raises(FileTooLarge) as mapped:
            exchange.read(schedule(), name, content, limits=limits)
        with pytest.raises(FileTooLarge) as previewed:
            exchange.preview(schedule(), name, content, limits=limits)
        assert mapped.value.message == previewed.value.message == as_plan.value.message
        assert mapped.value.code == "TOO_LARGE", name
    with pytest.raises(FileTooLarge):
        exchange.write_file(schedule(), OUT_ROWS * 60_000, "csv")


def test_a_mapping_is_json_that_reads_back_and_every_problem_of_a_bad_one_is_named() -> None:
    mapping = schedule()
    text = json.dumps(mapping.to_json())
    assert Mapping.from_json(json.loads(text)) == mapping
    assert [f["field"] for f in json.loads(text)["fields"]] == [
        "spec", "site", "firmness", "need_date", "quantity", "coils", "note"]

    with pytest.raises(BadMapping) as refused:
        Mapping.from_json({
            "document": "Delivery Schedule", "heading_row": 0, "encoding": "rot13",
            "colour": "red",
            "fields": [
                {"field": "spec", "column": "Sachnummer", "codes": "parts"},
                {"field": "need_date", "type": "date", "column": {"letter": "B"},
                 "formats": ["dd.mm.yyyy"]},
                {"field": "quantity", "type": "quantity", "column": {"letter": "C"},
                 "unit": "Zentner", "min": 5, "max": 1},
                {"field": "quantity", "type": "money", "column": {"letter": "D"}},
                {"field": "site", "unit": "kg"},
            ]})
    assert refused.value.field == "mapping"
    assert refused.value.problems == [
        "colour: not a key of a mapping",
        "document: the document type, a name of a-z, 0-9 and _",
        "encoding: one of big5, cp1251, cp1252, euc_jp, euc_kr, gb18030, gb2312, gbk,"
        " iso8859-1, shift_jis, utf-16, utf-8, utf-8-sig",
        "fields.spec.column: a file without a heading has columns by letter or index",
        "fields.spec.codes: names a table of `codes`",
        "fields.need_date.formats: 'dd.mm.yyyy' is not a date format like %d.%m.%Y",
        "fields.quantity.unit: one of t, kg, lb, sh tn",
        "fields.quantity.max: not below `min`",
        "fields.quantity.type: one of text, decimal, integer, date, quantity",
        "fields.site.unit: only for a field of type quantity",
    ]


# Plan formats are mappings ---------------------------------------------------------------

FORMAT = imports.PlanFormat(
    columns={"model": "车型", "period_start": "周一日期", "units": "计划产量",
             "part_number": "零件号"},
    models={"速腾": "SAGITAR", "迈腾": "MAGOTAN"}, date_format="%d.%m.%Y",
    default_period_days=7)


async def test_a_plan_format_is_stored_as_the_mappings_of_its_documents(db: Database) -> None:
    w = await build(db)
    org = w.org["FAW-VW"]
    async with db.transaction() as tx:
        await imports.set_plan_format(tx, org, FORMAT, actor=Actor.system("staff"))
    plan = await mapping_of(db, org, "production_plan")
    assert plan == FORMAT.mapping("plan")
    assert await mapping_of(db, org, "consumption") == FORMAT.mapping("consumption")
    assert plan is not None and plan.to_json() == {
        "document": "production_plan",
        "fields": [
            {"field": "model", "type": "text", "column": "车型", "codes": "models"},
            {"field": "period_start", "type": "date", "column": "周一日期",
             "formats": ["%d.%m.%Y"]},
            {"field": "units", "type": "integer", "column": "计划产量", "min": 0},
            {"field": "period_days", "type": "integer", "column": "period_days",
             "required": False, "default": 7, "min": 1, "max": 31},
        ],
        "codes": {"models": {"速腾": "SAGITAR", "迈腾": "MAGOTAN"}},
    }
    # The old name reads the same format.
    row = await db.fetchrow("SELECT columns, models, date_format, default_period_days"
                            " FROM plan_format WHERE customer_org_id = $1", org)
    assert row is not None
    assert {k: v for k, v in row["columns"].items() if FORMAT.columns.get(k, k) != v} == {}
    assert (row["models"], row["date_format"], row["default_period_days"]) == (
        FORMAT.models, "%d.%m.%Y", 7)


async def test_a_plan_format_written_by_its_old_name_is_the_same_mapping(db: Database) -> None:
    w = await build(db)
    org = w.org["GALANZ"]
    await db.execute(
        "INSERT INTO plan_format (customer_org_id, columns, models, date_format,"
        " default_period_days, updated_by) VALUES ($1, $2, $3, $4, $5, 'staff')",
        org, FORMAT.columns, FORMAT.models, FORMAT.date_format, 14)
    wanted = imports.PlanFormat(FORMAT.columns, FORMAT.models, FORMAT.date_format, 14)
    assert await mapping_of(db, org, "production_plan") == wanted.mapping("plan")
    assert await mapping_of(db, org, "consumption") == wanted.mapping("consumption")
    await db.execute("DELETE FROM plan_format WHERE customer_org_id = $1", org)
    assert await db.fetchval("SELECT count(*) FROM exchange_mapping") == 0
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO plan_format (customer_org_id, columns, updated_by)"
                         " VALUES ($1, '[]', 'staff')", org)


async def test_the_migration_moves_plan_formats_into_mappings(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrations = PROJECT_ROOT / "domain" / "migrations"
    for sql in sorted(migrations.glob("*.sql")):
        if sql.name < "0015":
            shutil.copy(sql, tmp_path / sql.name)
    await migrate(empty_database_url, tmp_path)
    conn = await asyncpg.connect(empty_database_url)
    try:
        org = await conn.fetchval("INSERT INTO organization (code, name, kind) VALUES"
                                  " ('FAW-VW', 'FAW-VW', 'customer') RETURNING id")
        await conn.execute(
            "INSERT INTO plan_format (customer_org_id, columns, models, date_format,"
            " updated_by) VALUES ($1, $2::jsonb, $3::jsonb, '%d.%m.%Y', 'staff')", org,
            json.dumps(FORMAT.columns), json.dumps(FORMAT.models))
        assert (await migrate(empty_database_url, migrations))[0] == "0015_mappings.sql"
        stored = {r["document"]: Mapping.from_json(json.loads(r["definition"]))
                  for r in await conn.fetch("SELECT document, definition::text"
                                            " FROM exchange_mapping")}
        assert await conn.fetchval("SELECT updated_by FROM plan_format") == "staff"
    finally:
        await conn.close()
    assert stored == {"production_plan": FORMAT.mapping("plan"),
                      "consumption": FORMAT.mapping("consumption")}


async def test_a_plan_file_without_a_heading_imports_through_a_mapping(db: Database) -> None:
    """The plan import reads whatever mapping the customer has of a car plan: here one
    with columns by letter, two date formats and weeks of five days by default."""
    w = await build(db)
    org = w.org["FAW-VW"]
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO consumption_rate (customer_org_id, model_code, spec_id, kg_per_car)"
            " VALUES ($1, 'SAGITAR', $2, 40), ($1, 'MAGOTAN', $2, 52.5)",
            org, w.spec["FAW-VW"])
        await store_mapping(tx, org, Mapping.from_json({
            "document": "production_plan", "heading_row": 0,
            "fields": [
                {"field": "period_start", "type": "date", "column": {"letter": "A"},
                 "formats": ["%d.%m.%Y", "%Y-%m-%d"]},
                {"field": "model", "column": {"letter": "C"}, "codes": "models",
                 "strict": True},
                {"field": "units", "type": "integer", "column": {"letter": "B"}, "min": 0},
                {"field": "period_days", "type": "integer", "default": 5,
                 "required": False, "min": 1, "max": 31},
            ],
            "codes": {"models": {"Sagitar": "SAGITAR", "Magotan": "MAGOTAN"}}}),
            actor="staff")
    content = (f"{DAY:%d.%m.%Y},2100,Sagitar\n{DAY:%Y-%m-%d},1400,Magotan\n"
               f"{DAY + timedelta(weeks=1):%d.%m.%Y},2000,Sagitar\n").encode()
    job = await imports.start(db, org, "plan", "plan.csv", actor=Actor.system("planner"))
    await imports.run(db, job, org, "plan", "plan.csv", content, actor="planner")
    state = await db.fetchrow("SELECT status, errors, plan_id FROM plan_import WHERE id = $1",
                              job)
    assert state is not None and (state["status"], state["errors"]) == ("imported", [])
    entries = await db.fetch(
        "SELECT model_code, period_start, period_days, units FROM production_plan_entry"
        " WHERE plan_id = $1 ORDER BY period_start, model_code", state["plan_id"])
    assert [tuple(e) for e in entries] == [
        ("MAGOTAN", DAY, 5, 1400), ("SAGITAR", DAY, 5, 2100),
        ("SAGITAR", DAY + timedelta(weeks=1), 5, 2000)]

    bad = b"31.02.2026,10,Sagitar\n01.03.2026,10,Jetta\n"
    job = await imports.start(db, org, "plan", "plan.csv", actor=Actor.system("planner"))
    await imports.run(db, job, org, "plan", "plan.csv", bad, actor="planner")
    errors = await db.fetchval("SELECT errors FROM plan_import WHERE id = $1", job)
    assert errors == [
        {"row": 1, "column": "A", "reason": "not a date like %d.%m.%Y or %Y-%m-%d"},
        {"row": 2, "column": "C", "reason": "'Jetta' is not in the models table"}]


# The preview over GraphQL ----------------------------------------------------------------

PREVIEW = """mutation($input: PreviewMappingInput!) { previewMapping(input: $input) {
    preview { headingRow heading rowsTotal rows { row values }
              problems { row column field value reason code } problemsTotal }
    errors { field message code } } }"""


async def preview(api: Api, content: bytes, *, as_: str, name: str = "sample.csv",
                  **given: Any) -> dict[str, Any]:
    operations = {"query": PREVIEW, "variables": {"input": {"file": None, **given}}}
    r = await api.client.post(
        "/graphql", headers={"authorization": f"Bearer {as_}"},
        data={"operations": json.dumps(operations),
              "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, content, "application/octet-stream")})
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["previewMapping"]
    return result


async def _written(db: Database) -> int:
    count: int = await db.fetchval(
        "SELECT (SELECT count(*) FROM exchange_mapping) + (SELECT count(*) FROM domain_event)"
        " + (SELECT count(*) FROM plan_import) + (SELECT count(*) FROM production_plan)")
    return count


async def test_preview_mapping_shows_a_sample_as_mapped_and_stores_nothing(api: Api) -> None:
    await build(api.db)
    before = await _written(api.db)
    content = csv_file(f"5Q0-809-605;W01;fest;{DAY:%d.%m.%Y};12.345,5;kg;;",
                       "5Q0-821-105;W09;fest;morgen;1;kg;;")
    for who in (FAW, SALES):
        got = await preview(api, content, as_=who, mapping=SCHEDULE, first=1)
        assert got["errors"] == []
        shown = got["preview"]
        assert (shown["headingRow"], shown["rowsTotal"], shown["problemsTotal"]) == (1, 2, 2)
        assert shown["heading"] == HEADING.split(";")
        assert shown["rows"] == [{"row": 2, "values": {
            "spec": "SP-FAW-VW", "site": "FAW-CC", "firmness": "firm",
            "need_date": DAY.isoformat(), "quantity": "12.3455", "coils": 1, "note": None}}]
        assert shown["problems"] == [
            {"row": 3, "column": "Werk", "field": "site", "value": "W09",
             "reason": "'W09' is not in the sites table", "code": "UNKNOWN_CODE"},
            {"row": 3, "column": "Bedarfsdatum", "field": "need_date", "value": "morgen",
             "reason": "not a date like %d.%m.%Y or %Y%m%d", "code": "INVALID"}]
    assert await _written(api.db) == before


async def test_preview_of_a_stored_plan_format_and_who_may_see_it(api: Api) -> None:
    w = await build(api.db)
    async with api.db.transaction() as tx:
        await imports.set_plan_format(tx, w.org["FAW-VW"], FORMAT,
                                      actor=Actor.system("staff"))
    faw = to_global_id("Organization", w.org["FAW-VW"])
    content = f"车型,周一日期,计划产量\n速腾,{DAY:%d.%m.%Y},2100\n捷达,{DAY},x\n".encode("gb18030")
    own = await preview(api, content, as_=FAW, document="production_plan")
    staff = await preview(api, content, as_=SALES, document="production_plan", customerId=faw)
    assert own == staff
    assert own["preview"]["rows"][0]["values"] == {
        "model": "SAGITAR", "period_start": DAY.isoformat(), "units": 2100, "period_days": 7}
    assert [(p["row"], p["column"], p["code"]) for p in own["preview"]["problems"]] == [
        (3, "周一日期", "INVALID"), (3, "计划产量", "INVALID")]

    other = await preview(api, content, as_=GALANZ, document="production_plan",
                          customerId=faw)
    assert other == {"preview": None, "errors": [
        {"field": "customerId", "message": "no such customer", "code": "NOT_FOUND"}]}
    none = await preview(api, content, as_=GALANZ, document="production_plan")
    assert none["errors"][0]["code"] == "NOT_FOUND"
    production = token("BAOSTEEL", "production", subject="production.mill")
    refused = await preview(api, content, as_=production, mapping=SCHEDULE)
    assert refused["errors"] == [{"field": None, "code": "FORBIDDEN",
                                  "message": "this needs the role customer or sales or admin"}]


async def test_preview_mapping_refuses_a_bad_mapping_and_a_file_over_the_limit(
        api: Api) -> None:
    await build(api.db)
    bad = await preview(api, csv_file(), as_=FAW, mapping={**SCHEDULE, "sheet": ""})
    assert bad["preview"] is None
    assert bad["errors"] == [{"field": "mapping", "code": "INVALID", "message":
                              "not a mapping: sheet: a sheet's name, at most 31 characters"}]
    big = await preview(api, b"Sachnummer;" + b"x" * MAX_FILE_BYTES, as_=FAW,
                        mapping=SCHEDULE)
    assert big == {"preview": None, "errors": [
        {"field": "file", "code": "TOO_LARGE", "message": "the file is over 10 MB"}]}
    pdf = await preview(api, b"%PDF-1.7", as_=FAW, name="sample.pdf", mapping=SCHEDULE)
    assert pdf["errors"] == [{"field": "file", "code": "INVALID",
                              "message": "send a .csv or .xlsx file"}]
