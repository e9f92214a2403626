"""The format conversion alone: a plan written in a customer's own columns, model names
and date format, as CSV or XLSX, reads back as the same standard entries."""

from __future__ import annotations

import io
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from domain.planning.calc import PlanEntry
from domain.planning.imports import PlanFormat, plan_rows
from domain.planning.tables import read_table

FORMAT = PlanFormat(
    columns={"model": "车型", "period_start": "周一日期", "units": "计划产量",
             "period_days": "天数"},
    models={"速腾": "SAGITAR", "迈腾": "MAGOTAN", "探岳": "TAYRON"},
    date_format="%d.%m.%Y")
NAMES = {code: name for name, code in FORMAT.models.items()}
START = date(2026, 11, 30)


@st.composite
def plans(draw: st.DrawFn) -> list[PlanEntry]:
    models = draw(st.lists(st.sampled_from(sorted(NAMES)), min_size=1, max_size=3,
                           unique=True))
    days = draw(st.sampled_from([1, 7]))
    periods = draw(st.integers(min_value=1, max_value=20))
    return [PlanEntry(m, START + timedelta(days=days * k), days,
                      draw(st.integers(min_value=0, max_value=50_000)))
            for k in range(periods) for m in models]


def _csv(entries: list[PlanEntry], encoding: str) -> bytes:
    lines = ["计划,2026", "", "天数,车型,计划产量,周一日期,备注"] + [
        f"{e.period_days},{NAMES[e.model]},{e.units},{e.period_start:%d.%m.%Y},"
        for e in entries]
    return ("\n".join(lines) + "\n").encode(encoding)


def _xlsx(entries: list[PlanEntry]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["车型", "周一日期", "计划产量", "天数"])
    for e in entries:
        sheet.append([NAMES[e.model], e.period_start, e.units, e.period_days])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _read(name: str, content: bytes) -> list[PlanEntry]:
    table = read_table(name, content, ["车型", "周一日期", "计划产量"])
    entries, errors = plan_rows(FORMAT, table.heading, table.body, set(NAMES),
                                table.heading_row)
    assert errors == []
    return entries


@settings(max_examples=60, deadline=None)
@given(plans(), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_a_csv_in_the_customers_format_reads_back_as_the_plan(
    entries: list[PlanEntry], encoding: str
) -> None:
    assert _read("plan.csv", _csv(entries, encoding)) == entries


@settings(max_examples=15, deadline=None)
@given(plans())
def test_an_xlsx_in_the_customers_format_reads_back_as_the_plan(
    entries: list[PlanEntry],
) -> None:
    assert _read("plan.xlsx", _xlsx(entries)) == entries


@settings(max_examples=40, deadline=None)
@given(plans(), st.data())
def test_a_bad_row_is_reported_at_its_own_row_number(entries: list[PlanEntry],
                                                    data: st.DataObject) -> None:
    bad = data.draw(st.integers(min_value=0, max_value=len(entries) - 1))
    lines = _csv(entries, "utf-8").decode().splitlines()
    # Title, blank line and heading come first: entry i is on row i + 4.
    cells = lines[bad + 3].split(",")
    cells[2] = "about 40"
    lines[bad + 3] = ",".join(cells)
    table = read_table("plan.csv", ("\n".join(lines) + "\n").encode(),
                       ["车型", "周一日期", "计划产量"])
    assert table.heading_row == 3
    _, errors = plan_rows(FORMAT, table.heading, table.body, set(NAMES), table.heading_row)
    assert [(e.row, e.column) for e in errors] == [(bad + 4, "计划产量")]
