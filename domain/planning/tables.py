"""Reading a customer's spreadsheet, CSV or XLSX, into a heading and numbered rows,
before anything is made of them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from openpyxl import load_workbook

from domain.errors import Invalid

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000


class BadFile(Invalid):
    """The file cannot be read at all (not CSV/XLSX, too large, no heading)."""


def read_table(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """The heading and the non-empty rows (with their row numbers) of a CSV or XLSX."""
    if len(content) > MAX_FILE_BYTES:
        raise BadFile(f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB", field="file")
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise BadFile("send a .csv or .xlsx file", field="file")
    heading: list[str] | None = None
    body: list[tuple[int, list[Any]]] = []
    for number, cells in rows:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if heading is None:
            heading = [str(c).strip() if c is not None else "" for c in cells]
            continue
        body.append((number, list(cells)))
        if len(body) > MAX_ROWS:
            raise BadFile(f"a file has at most {MAX_ROWS} rows", field="file")
    if heading is None:
        raise BadFile("the file is empty", field="file")
    return heading, body


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
