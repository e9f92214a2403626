"""Reading a customer's spreadsheet, CSV or XLSX, into a heading and numbered rows,
before anything is made of them."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from domain.errors import Invalid

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000


class BadFile(Invalid):
    """The file cannot be read at all (not CSV/XLSX, too large, no heading)."""


# Title lines above the heading (a sheet's name, a plan month) are looked past this far.
HEADING_SEARCH = 20


@dataclass(frozen=True, slots=True)
class Table:
    heading_row: int
    heading: list[str]
    # Non-empty rows below the heading, with their row numbers as the file counts them.
    body: list[tuple[int, list[Any]]]


def read_table(filename: str, content: bytes, wanted: Collection[str] = ()) -> Table:
    """The heading and the rows below it of a CSV or XLSX. The heading is the first row
    holding every ``wanted`` name (among the first rows), else the first non-empty row."""
    if len(content) > MAX_FILE_BYTES:
        raise BadFile(f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB", field="file")
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise BadFile("send a .csv or .xlsx file", field="file")
    found: list[tuple[int, list[Any]]] = []
    for number, cells in rows:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        found.append((number, list(cells)))
        if len(found) > MAX_ROWS + HEADING_SEARCH:
            raise BadFile(f"a file has at most {MAX_ROWS} rows", field="file")
    if not found:
        raise BadFile("the file is empty", field="file")
    texts = [[str(c).strip() if c is not None else "" for c in cells] for _, cells in
             found[:HEADING_SEARCH]]
    at = next((i for i, t in enumerate(texts) if set(wanted) <= set(t)), 0)
    if len(found) - at - 1 > MAX_ROWS:
        raise BadFile(f"a file has at most {MAX_ROWS} rows", field="file")
    return Table(found[at][0], texts[at], found[at + 1:])


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    # Spreadsheets exported in China are often GB18030 rather than UTF-8.
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise BadFile("the CSV file is neither UTF-8 nor GB18030", field="file") from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    for i, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        yield i, list(row)


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise BadFile("the file is not an XLSX workbook", field="file") from None
    try:
        sheet = book.worksheets[0]
        for i, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield i, list(row)
    finally:
        book.close()
